/**
 * Raw DEFLATE of one independent block of a layer (fflate, level 1 by default). A block that is not the last ends
 * with a sync flush (an empty stored block), so blocks compressed separately, even on different threads,
 * concatenate into one valid DEFLATE stream: the pigz technique, with identical bytes whatever the parallelism.
 */
import { Deflate } from "fflate";

/** The internals of fflate 0.8's Deflate that the sync flush needs (pinned by the lockfile; tested). */
interface DeflateInternals {
  p(buf: Uint8Array, final: boolean): void;
  b: Uint8Array;
  s: { r?: number };
}

/**
 * Compresses `data` as raw DEFLATE; `final` marks the stream's last block.
 *
 * fflate's own `flush(true)` writes the stored block at a wrong bit offset when the pending byte is not zero
 * (it passes the packed state instead of the bit count), so the flush is done here: compress what is buffered,
 * then append BFINAL=0/BTYPE=00 at the pending bit position, padding, LEN=0 and NLEN=0xffff.
 */
export function deflateBlock(data: Uint8Array, final: boolean, level = 1): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  const dfl = new Deflate({ level: level as 1 }, (chunk) => {
    parts.push(chunk);
    total += chunk.length;
  });
  if (final) dfl.push(data, true);
  else {
    dfl.push(data, false);
    const inner = dfl as unknown as DeflateInternals;
    inner.p(inner.b, false);
    const r = inner.s.r ?? 0;
    const bits = r & 7;
    const pending = r >> 3;
    const tail = bits === 0 ? [0, 0, 0, 0xff, 0xff] : bits <= 5 ? [pending, 0, 0, 0xff, 0xff] : [pending, 0, 0, 0, 0xff, 0xff];
    parts.push(Uint8Array.from(tail));
    total += tail.length;
  }
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** The gzip member header: no name, mtime 0, XFL 4 (fastest), OS 255 (unknown), as Go writes it at level 1. */
export const GZIP_HEADER = Uint8Array.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x04, 0xff]);

/** The gzip trailer: CRC-32 and the uncompressed size modulo 2^32, little-endian. */
export function gzipTrailer(crc: number, size: number): Uint8Array {
  const t = new Uint8Array(8);
  const v = new DataView(t.buffer);
  v.setUint32(0, crc >>> 0, true);
  v.setUint32(4, size % 2 ** 32, true);
  return t;
}
