/**
 * One streaming pass per layer: tar → SHA-256 (diffID) → gzip → SHA-256 (digest) → blob file (temporary name,
 * fsync; the caller renames it). The tar is cut into fixed-size blocks that are deflated independently (fflate,
 * pure JS, so the bytes are the same on Bun, Deno and Node) on worker threads when a pool is given, and joined
 * into one gzip member in order: the output is identical whatever the parallelism. Memory stays flat: a bounded
 * number of blocks is in flight.
 */
import * as fs from "node:fs";
import { type HashBackend, sha256 } from "../hash/sha256.ts";
import * as path from "node:path";
import { discardTemp, fileError, writeAll, yieldToEventLoop } from "../fsutil/atomic.ts";
import { crc32 } from "./crc32.ts";
import { DEFAULT_DEFLATE_ENGINE, deflateBlock, type DeflateEngine, GZIP_HEADER, gzipTrailer } from "./deflate-block.ts";
import type { TarEntry } from "./tar-entries.ts";
import { tarChunks } from "./tar-writer.ts";

/** What one pass produced. */
export interface LayerDigests {
  /** sha256 of the uncompressed tar. */
  diffID: string;
  /** sha256 of the gzip stream (the blob). */
  digest: string;
  /** Size of the gzip stream in bytes. */
  size: number;
  /** Size of the uncompressed tar in bytes. */
  tarSize: number;
}

/** Compresses one block; a worker pool or the calling thread. */
export interface BlockCompressor {
  /** Deflates `block` (which the compressor may take ownership of). */
  deflate(block: Uint8Array, final: boolean, level: number, engine: DeflateEngine): Promise<Uint8Array>;
  /** How many blocks to keep in flight per layer. */
  readonly depth: number;
}

/** Options of the pass. */
export interface PipelineOptions {
  /** gzip level, 1–9 (default 1, as the reference lifecycle). */
  level?: number;
  /** The block compressor (default: fflate). */
  engine?: DeflateEngine;
  hash?: HashBackend;
  /** The block size in bytes; part of the output format (default 1 MiB). */
  blockSize?: number;
  /** Called after each block with the tar bytes done so far (for progress on a terminal). */
  onProgress?: (tarBytes: number) => void;
}

/** The default block size: large enough for a good ratio, small enough to spread a layer over the cores. */
export const BLOCK_SIZE = 1 << 20;

/** Deflates on the calling thread. */
export const inlineCompressor: BlockCompressor = {
  deflate: (block, final, level, engine) => Promise.resolve(deflateBlock(block, final, level, engine)),
  depth: 1,
};

/**
 * Tars, hashes, compresses and hashes again, writing the gzip stream to `outFile` (created exclusively, fsynced).
 * With `outFile` undefined only the digests are computed (nothing is written).
 *
 * @example await compressLayer(dirLayerEntries(p, owner), "/oci/app/blobs/sha256/.tmp-x")
 */
export async function compressLayer(
  entries: Iterable<TarEntry>,
  outFile: string | undefined,
  opts: PipelineOptions = {},
  compressor: BlockCompressor = inlineCompressor,
): Promise<LayerDigests> {
  const level = opts.level ?? 1;
  if (!Number.isInteger(level) || level < 1 || level > 9) throw new Error(`invalid gzip level ${opts.level}: expected 1 to 9`);
  const tarHash = await sha256(opts.hash);
  const gzHash = await sha256(opts.hash);
  let fd: number | undefined;
  try {
    fd = outFile === undefined ? undefined : fs.openSync(outFile, "wx", 0o644);
  } catch (e) {
    throw fileError(e, path.dirname(outFile as string), "write a blob into");
  }
  let size = 0;
  const emit = (bytes: Uint8Array) => {
    gzHash.update(bytes);
    size += bytes.length;
    if (fd !== undefined) writeAll(fd, bytes);
  };
  try {
    emit(GZIP_HEADER);
    let crc = 0;
    let tarSize = 0;
    const inFlight: Promise<Uint8Array>[] = [];
    // Look one chunk ahead so the last block is known to be final when it is sent.
    let held: Uint8Array | undefined;
    const engine = opts.engine ?? DEFAULT_DEFLATE_ENGINE;
    const send = (block: Uint8Array, final: boolean) => inFlight.push(compressor.deflate(block, final, level, engine));
    for (const chunk of tarChunks(entries, opts.blockSize ?? BLOCK_SIZE)) {
      tarHash.update(chunk);
      crc = crc32(crc, chunk);
      tarSize += chunk.length;
      if (held) send(held, false);
      held = chunk.slice();
      opts.onProgress?.(tarSize);
      while (inFlight.length >= compressor.depth) emit(await (inFlight.shift() as Promise<Uint8Array>));
      // Compressing on this thread never leaves the microtask queue: let SIGTERM/SIGINT handlers run.
      if (compressor.depth === 1) await yieldToEventLoop();
    }
    send(held ?? new Uint8Array(0), true);
    while (inFlight.length) emit(await (inFlight.shift() as Promise<Uint8Array>));
    emit(gzipTrailer(crc, tarSize));
    if (fd !== undefined) fs.fsyncSync(fd);
    return { diffID: `sha256:${tarHash.hex()}`, digest: `sha256:${gzHash.hex()}`, size, tarSize };
  } catch (e) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // keep the first error
      }
      fd = undefined;
      discardTemp(outFile as string);
      throw fileError(e, path.dirname(outFile as string), "write a blob into");
    }
    throw e;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** The diffID of a tar stream alone, without compressing (for reuse checks). */
export async function tarDiffID(entries: Iterable<TarEntry>, hash?: HashBackend): Promise<{ diffID: string; tarSize: number }> {
  const h = await sha256(hash);
  let tarSize = 0;
  for (const c of tarChunks(entries)) {
    h.update(c);
    tarSize += c.length;
  }
  return { diffID: `sha256:${h.hex()}`, tarSize };
}
