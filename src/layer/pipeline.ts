/**
 * One streaming pass per layer: tar → SHA-256 (diffID) → gzip (fflate, same bytes on every runtime) → SHA-256
 * (digest) → blob file (temporary name, fsync, then the caller renames it). Memory stays flat: one tar chunk and
 * fflate's window at a time.
 */
import * as fs from "node:fs";
import { Gzip } from "fflate";
import { type HashBackend, sha256 } from "../hash/sha256.ts";
import type { TarEntry } from "./tar-entries.ts";
import { writeTar } from "./tar-writer.ts";

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

/** Options of the pass. */
export interface PipelineOptions {
  /** gzip level, 0–9 (default 1, as the reference lifecycle). */
  level?: number;
  hash?: HashBackend;
}

const LEVELS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] as const;

/**
 * Tars, hashes, compresses and hashes again, writing the gzip stream to `outFile` (created exclusively, fsynced).
 * With `outFile` undefined only the digests are computed (nothing is written).
 *
 * @example await compressLayer(dirLayerEntries(p, owner), "/oci/app/blobs/sha256/.tmp-x")
 */
export async function compressLayer(entries: Iterable<TarEntry>, outFile: string | undefined, opts: PipelineOptions = {}): Promise<LayerDigests> {
  const level = LEVELS[opts.level ?? 1];
  if (level === undefined) throw new Error(`invalid gzip level ${opts.level}: expected 0 to 9`);
  const tarHash = await sha256(opts.hash);
  const gzHash = await sha256(opts.hash);
  const fd = outFile === undefined ? undefined : fs.openSync(outFile, "wx", 0o644);
  let size = 0;
  try {
    const gz = new Gzip({ level, mtime: 0 }, (chunk) => {
      gzHash.update(chunk);
      size += chunk.length;
      if (fd !== undefined) {
        let off = 0;
        while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
      }
    });
    const tarSize = writeTar(entries, (chunk) => {
      tarHash.update(chunk);
      gz.push(chunk);
    });
    gz.push(new Uint8Array(0), true);
    if (fd !== undefined) fs.fsyncSync(fd);
    return { diffID: `sha256:${tarHash.hex()}`, digest: `sha256:${gzHash.hex()}`, size, tarSize };
  } catch (e) {
    if (fd !== undefined) {
      fs.closeSync(fd);
      fs.rmSync(outFile as string, { force: true });
    }
    throw e;
  } finally {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // already closed on the error path
      }
    }
  }
}

/** The diffID of a tar stream alone, without compressing (for reuse checks). */
export async function tarDiffID(entries: Iterable<TarEntry>, hash?: HashBackend): Promise<{ diffID: string; tarSize: number }> {
  const h = await sha256(hash);
  const tarSize = writeTar(entries, (c) => h.update(c));
  return { diffID: `sha256:${h.hex()}`, tarSize };
}
