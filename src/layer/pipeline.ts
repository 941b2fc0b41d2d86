/**
 * One streaming pass per layer: tar → SHA-256 (diffID) → gzip (or zstd) → SHA-256 (digest) → blob file (temporary
 * name, fsync; the caller renames it). The tar is planned in fixed-size blocks on the calling thread (the walk and
 * the headers); each block is filled (its files read) and compressed on its own, on worker threads when a pool is
 * given, and the results are hashed and written here in order: gzip blocks joined into one member (their CRCs
 * combined), zstd blocks as one frame each. The output is identical whatever the parallelism. Memory stays flat: a
 * bounded number of blocks is in flight.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { type HashBackend, sha256 } from "../hash/sha256.ts";
import { discardTemp, fileError, writeAll, yieldToEventLoop } from "../fsutil/atomic.ts";
import { type BlockCodec, type BlockResult, type LayerCompression, runBlock, ZSTD_LEVEL } from "./block-codec.ts";
import { crc32Combine } from "./crc32.ts";
import { DEFAULT_DEFLATE_ENGINE, defaultLevel, type DeflateEngine, GZIP_HEADER, gzipTrailer } from "./deflate-block.ts";
import type { TarEntry } from "./tar-entries.ts";
import { type BlockPlan, FileChangedError, tarBlockPlans } from "./tar-plan.ts";

/** What one pass produced. */
export interface LayerDigests {
  /** sha256 of the uncompressed tar. */
  diffID: string;
  /** sha256 of the compressed stream (the blob). */
  digest: string;
  /** Size of the compressed stream in bytes. */
  size: number;
  /** Size of the uncompressed tar in bytes. */
  tarSize: number;
}

/** Fills and encodes one block; a worker pool or the calling thread. */
export interface BlockCompressor {
  /** Fills the block of `plan` (reading its files) and encodes it with `codec`. */
  run(plan: BlockPlan, final: boolean, codec: BlockCodec): Promise<BlockResult>;
  /** How many blocks to keep in flight per layer. */
  readonly depth: number;
  /** Takes back the buffer of a result's `raw` once it is no longer used, to fill another block into. */
  recycle?(buffer: ArrayBuffer): void;
}

/** Options of the pass. */
export interface PipelineOptions {
  /** gzip (default) or zstd. */
  compression?: LayerCompression;
  /** The DEFLATE engine of gzip (default: the native zlib). */
  engine?: DeflateEngine;
  /** The level (default: the engine's, or zstd's). */
  level?: number;
  hash?: HashBackend;
  /** The block size in bytes; part of the output format (default 1 MiB). */
  blockSize?: number;
  /** Called after each block with the tar bytes done so far (for progress on a terminal). */
  onProgress?: (tarBytes: number) => void;
}

/** The default block size: large enough for a good ratio, small enough to spread a layer over the cores. */
export const BLOCK_SIZE = 1 << 20;

const inlineSpare: ArrayBuffer[] = [];

/** Fills and encodes on the calling thread (into a buffer given back by an earlier block, when there is one). */
export const inlineCompressor: BlockCompressor = {
  run: (plan, final, codec) => {
    const spare = inlineSpare.pop();
    const into = spare && spare.byteLength >= plan.size ? new Uint8Array(spare) : undefined;
    return Promise.resolve(runBlock(plan, final, codec, into));
  },
  depth: 1,
  recycle: (buffer) => {
    if (inlineSpare.length < 2) inlineSpare.push(buffer);
  },
};

/** The block codec the options ask for. */
export function codecOf(opts: PipelineOptions): BlockCodec {
  if (opts.compression === "zstd") return { kind: "zstd", level: opts.level ?? ZSTD_LEVEL };
  const engine = opts.engine ?? DEFAULT_DEFLATE_ENGINE;
  const level = opts.level ?? defaultLevel(engine);
  if (!Number.isInteger(level) || level < 1 || level > 9) throw new Error(`invalid gzip level ${opts.level}: expected 1 to 9`);
  return { kind: "gzip", engine, level };
}

/**
 * Tars, hashes, compresses and hashes again, writing the compressed stream to `outFile` (created exclusively,
 * fsynced). With `outFile` undefined only the digests are computed (nothing is written).
 *
 * @example await compressLayer(dirLayerEntries(p, owner), "/oci/app/blobs/sha256/.tmp-x")
 */
export function compressLayer(
  entries: Iterable<TarEntry>,
  outFile: string | undefined,
  opts: PipelineOptions = {},
  compressor: BlockCompressor = inlineCompressor,
): Promise<LayerDigests> {
  return runPass(entries, outFile, codecOf(opts), opts, compressor);
}

/**
 * The diffID of a tar stream alone, without compressing (for reuse checks); the blocks are filled on the
 * compressor's threads when one is given.
 */
export async function tarDiffID(
  entries: Iterable<TarEntry>,
  hash?: HashBackend,
  compressor: BlockCompressor = inlineCompressor,
): Promise<{ diffID: string; tarSize: number }> {
  const r = await runPass(entries, undefined, { kind: "none" }, { hash }, compressor);
  return { diffID: r.diffID, tarSize: r.tarSize };
}

async function runPass(
  entries: Iterable<TarEntry>,
  outFile: string | undefined,
  codec: BlockCodec,
  opts: PipelineOptions,
  compressor: BlockCompressor,
): Promise<LayerDigests> {
  const tarHash = await sha256(opts.hash);
  const blobHash = await sha256(opts.hash);
  let fd: number | undefined;
  try {
    fd = outFile === undefined ? undefined : fs.openSync(outFile, "wx", 0o644);
  } catch (e) {
    throw fileError(e, path.dirname(outFile as string), "write a blob into");
  }
  let size = 0;
  // The blob is flushed to disk in the background as it grows, so that the final fsync has little left to do.
  let unsynced = 0;
  let syncing: Promise<void> | undefined;
  const emit = (bytes: Uint8Array) => {
    if (codec.kind === "none") return;
    blobHash.update(bytes);
    size += bytes.length;
    if (fd === undefined) return;
    writeAll(fd, bytes);
    unsynced += bytes.length;
    if (unsynced >= SYNC_EVERY && !syncing) {
      unsynced = 0;
      const s = fsync(fd, true).finally(() => (syncing = undefined));
      s.catch(() => {}); // seen at the end
      syncing = s;
    }
  };
  let crc = 0;
  let tarSize = 0;
  const take = (r: BlockResult) => {
    tarHash.update(r.raw);
    if (codec.kind === "gzip") crc = crc32Combine(crc, r.crc, r.raw.length);
    tarSize += r.raw.length;
    emit(r.data);
    compressor.recycle?.(r.raw.buffer as ArrayBuffer);
    opts.onProgress?.(tarSize);
  };
  const inFlight: Promise<BlockResult>[] = [];
  const send = (plan: BlockPlan, final: boolean) => {
    const p = compressor.run(plan, final, codec);
    // A block may fail while an earlier one is awaited: its error is seen when its turn comes, or dropped.
    p.catch(() => {});
    inFlight.push(p);
  };
  try {
    if (codec.kind === "gzip") emit(GZIP_HEADER);
    // Look one plan ahead so the last block is known to be final when it is sent.
    let held: BlockPlan | undefined;
    for (const plan of tarBlockPlans(entries, opts.blockSize ?? BLOCK_SIZE)) {
      if (held) send(held, false);
      held = plan;
      while (inFlight.length >= compressor.depth) take(await (inFlight.shift() as Promise<BlockResult>));
      // Compressing on this thread never leaves the microtask queue: let SIGTERM/SIGINT handlers run.
      if (compressor.depth === 1) await yieldToEventLoop();
    }
    if (held) send(held, true);
    while (inFlight.length) take(await (inFlight.shift() as Promise<BlockResult>));
    if (codec.kind === "gzip") emit(gzipTrailer(crc, tarSize));
    if (fd !== undefined) {
      await syncing;
      await fsync(fd);
    }
    return { diffID: `sha256:${tarHash.hex()}`, digest: `sha256:${blobHash.hex()}`, size, tarSize };
  } catch (e) {
    await syncing?.catch(() => {});
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // keep the first error
      }
      fd = undefined;
      discardTemp(outFile as string);
      if (e instanceof FileChangedError) throw e;
      throw fileError(e, path.dirname(outFile as string), "write a blob into");
    }
    throw e;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Bytes written to a blob after which its data is flushed to disk in the background. */
const SYNC_EVERY = 32 << 20;

/** fsync (or fdatasync, `dataOnly`) off the calling thread, so that other layers' passes go on meanwhile. */
function fsync(fd: number, dataOnly = false): Promise<void> {
  return new Promise((resolve, reject) => (dataOnly ? fs.fdatasync : fs.fsync)(fd, (e) => (e ? reject(e) : resolve())));
}
