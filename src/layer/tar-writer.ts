/**
 * Streams tar entries into a sink in large chunks: the blocks of tar-plan.ts filled one after another into one
 * buffer (headers, file data read straight into it, 512-byte padding, the end-of-archive marker). Synchronous.
 */
import { FileChangedError, fillBlock, tarBlockPlans } from "./tar-plan.ts";
import type { TarEntry } from "./tar-entries.ts";

export { FileChangedError };

/** The default chunk size handed to the sink. */
export const CHUNK_SIZE = 1 << 20;

/**
 * Writes `entries` as a tar to `sink` in chunks of about `chunkSize` bytes (the chunk is reused after the call
 * returns: the sink must consume or copy it). Returns the number of bytes written.
 *
 * @example writeTar(dirLayerEntries(p, owner), (chunk) => hasher.update(chunk))
 */
export function writeTar(entries: Iterable<TarEntry>, sink: (chunk: Uint8Array) => void, chunkSize = CHUNK_SIZE): number {
  let total = 0;
  for (const chunk of tarChunks(entries, chunkSize)) {
    sink(chunk);
    total += chunk.length;
  }
  return total;
}

/**
 * The tar of `entries` as chunks of exactly `chunkSize` bytes (the last one shorter). Each chunk is a view of one
 * buffer that is overwritten when the next chunk is asked for: consume or copy it first.
 */
export function* tarChunks(entries: Iterable<TarEntry>, chunkSize = CHUNK_SIZE): Generator<Uint8Array> {
  const buf = new Uint8Array(chunkSize);
  for (const plan of tarBlockPlans(entries, chunkSize)) yield fillBlock(plan, buf);
}
