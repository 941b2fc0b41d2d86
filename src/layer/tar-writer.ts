/**
 * Streams tar entries into a sink in large chunks: headers (tar-header.ts), file data read straight into the chunk
 * buffer, 512-byte padding, and the end-of-archive marker. Synchronous: it runs inside a worker thread.
 */
import * as fs from "node:fs";
import { encodeHeader, END_OF_ARCHIVE, padded } from "./tar-header.ts";
import type { TarEntry } from "./tar-entries.ts";

/** The default chunk size handed to the sink. */
export const CHUNK_SIZE = 1 << 20;

/** Raised when a file changes size while it is being archived. */
export class FileChangedError extends Error {
  constructor(readonly file: string, expected: number, got: number) {
    super(`${file} changed while it was being archived: expected ${expected} bytes, read ${got}`);
    this.name = "FileChangedError";
  }
}

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
  let fill = 0;
  const ready: Uint8Array[] = [];
  // Headers and padding that cross the end of the buffer are rare: copy those chunks, since writing continues
  // into the buffer before they are yielded. File data (the bulk) is yielded as a view, without a copy.
  const flush = () => {
    if (fill > 0) ready.push(buf.slice(0, fill));
    fill = 0;
  };
  const put = (bytes: Uint8Array) => {
    let off = 0;
    while (off < bytes.length) {
      const n = Math.min(bytes.length - off, buf.length - fill);
      buf.set(bytes.subarray(off, off + n), fill);
      fill += n;
      off += n;
      if (fill === buf.length) flush();
    }
  };
  const zeros = (n: number) => {
    while (n > 0) {
      const k = Math.min(n, buf.length - fill);
      buf.fill(0, fill, fill + k);
      fill += k;
      n -= k;
      if (fill === buf.length) flush();
    }
  };
  for (const e of entries) {
    put(encodeHeader(e.header));
    while (ready.length) yield ready.shift() as Uint8Array;
    if (!e.source) continue;
    const size = e.header.size;
    const fd = fs.openSync(e.source, "r");
    try {
      let left = size;
      while (left > 0) {
        const n = fs.readSync(fd, buf, fill, Math.min(left, buf.length - fill), null);
        if (n === 0) throw new FileChangedError(e.source, size, size - left);
        fill += n;
        left -= n;
        if (fill === buf.length) {
          yield buf.subarray(0, fill);
          fill = 0;
        }
      }
    } finally {
      fs.closeSync(fd);
    }
    zeros(padded(size) - size);
    while (ready.length) yield ready.shift() as Uint8Array;
  }
  put(END_OF_ARCHIVE);
  while (ready.length) yield ready.shift() as Uint8Array;
  if (fill > 0) yield buf.subarray(0, fill);
}
