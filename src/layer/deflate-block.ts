/**
 * Raw DEFLATE of one independent block of a layer: the runtime's native zlib by default, fflate when chosen. A
 * block that is not the last ends with a sync flush (an empty stored block), so blocks compressed separately, even
 * on different threads, concatenate into one valid DEFLATE stream: the pigz technique, with identical bytes
 * whatever the parallelism.
 */
import * as zlib from "node:zlib";
import { Deflate } from "fflate";

/**
 * The block compressors: `zlib` (node:zlib, native; the default) or `fflate` (plain TypeScript, so the same bytes
 * on every runtime). Each gives its own bytes; zlib's depend on the runtime's zlib build (pinned in a lifecycle
 * binary: Bun's is zlib-ng).
 */
export type DeflateEngine = "zlib" | "fflate";

/** The engine used when none is given. */
export const DEFAULT_DEFLATE_ENGINE: DeflateEngine = "zlib";

/**
 * The level each engine compresses at unless told otherwise: zlib's 2 (its level 1 trades a quarter of the ratio
 * for speed; 2 gives fflate level 1's ratio at about three times its speed, BENCHMARKS.md), fflate's 1.
 */
export function defaultLevel(engine: DeflateEngine): number {
  return engine === "zlib" ? 2 : 1;
}

/**
 * fflate's memory level (hash table of 2^(12+mem) entries). Fixed, so the output never depends on the input size
 * or the runtime; 6 was the fastest here (bench: 14–29% faster than fflate's default on text, within 1.5% of its
 * ratio).
 */
export const DEFLATE_MEM = 6;

/** The internals of fflate 0.8's Deflate that the sync flush needs (pinned by the lockfile; tested). */
interface DeflateInternals {
  p(buf: Uint8Array, final: boolean): void;
  s: { l: number; i: number; w: number; z: number; r?: number };
}

/**
 * Compresses `data` as raw DEFLATE with `engine` at `level` (default: the engine's); `final` marks the stream's
 * last block. Incompressible blocks are stored, whatever the engine.
 *
 * fflate's own `flush(true)` writes the stored block at a wrong bit offset when the pending byte is not zero
 * (it passes the packed state instead of the bit count), so the flush is done here: after the non-final blocks,
 * BFINAL=0/BTYPE=00 at the pending bit position, padding, LEN=0 and NLEN=0xffff.
 */
export function deflateBlock(data: Uint8Array, final: boolean, level?: number, engine: DeflateEngine = DEFAULT_DEFLATE_ENGINE): Uint8Array {
  level ??= defaultLevel(engine);
  if (incompressible(data)) return storedBlocks(data, final);
  if (engine === "zlib") return zlibBlock(data, final, level);
  const parts: Uint8Array[] = [];
  let total = 0;
  const dfl = new Deflate({ level: level as 1, mem: DEFLATE_MEM }, (chunk) => {
    parts.push(chunk);
    total += chunk.length;
  });
  // The block is compressed in one call on its own bytes: a fresh stream state that starts at 0 and ends at the
  // block's end (`l` marks the stream's last block), instead of push(), which would copy the block into fflate's
  // rolling window first.
  const inner = dfl as unknown as DeflateInternals;
  inner.s = { l: final ? 1 : 0, i: 0, w: 0, z: data.length };
  inner.p(data, final);
  if (!final) {
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

/**
 * The native zlib's raw DEFLATE of one block, every parameter fixed (window 2^15, memory level 8, the default
 * strategy), ending with a sync flush unless `final`.
 */
function zlibBlock(data: Uint8Array, final: boolean, level: number): Uint8Array {
  const { Z_FINISH, Z_SYNC_FLUSH, Z_DEFAULT_STRATEGY } = zlib.constants;
  return zlib.deflateRawSync(data, { level, windowBits: 15, memLevel: 8, strategy: Z_DEFAULT_STRATEGY, finishFlush: final ? Z_FINISH : Z_SYNC_FLUSH });
}

/**
 * Whether a block is not worth deflating (random bytes, already-compressed files): its byte entropy is near 8
 * bits and samples of it hardly repeat a 4-byte sequence. Decided from the block's bytes alone, so the output stays the same
 * whatever the thread or runtime.
 */
export function incompressible(data: Uint8Array): boolean {
  if (data.length < 1 << 16) return false;
  const counts = new Uint32Array(256);
  // Every 16th byte: 65,536 samples of a 1 MiB block put random bytes' estimate within 0.003 bits of 8.
  for (let i = 0; i < data.length; i += 16) counts[data[i]]++;
  const n = Math.ceil(data.length / 16);
  let bits = 0;
  for (const c of counts) if (c) bits -= (c / n) * Math.log2(c / n);
  if (bits < 7.95) return false;
  // High byte entropy can still hide long repeats (LZ77 finds those): look for repeated 4-byte sequences in three
  // samples. Random and already-compressed data has almost none.
  const sample = 1 << 14;
  const table = new Int32Array(1 << 14);
  for (const off of [0, (data.length >> 1) - (sample >> 1), data.length - sample]) {
    table.fill(-1);
    let repeats = 0;
    for (let i = off; i < off + sample - 4; i++) {
      const h = ((data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)) * 2654435761) >>> 18;
      const prev = table[h];
      if (prev >= 0 && data[prev] === data[i] && data[prev + 1] === data[i + 1] && data[prev + 2] === data[i + 2] && data[prev + 3] === data[i + 3]) repeats++;
      table[h] = i;
    }
    if (repeats > sample * 0.01) return false;
  }
  return true;
}

/** `data` as DEFLATE stored blocks (at most 65535 bytes each), the last one final when `final`. */
export function storedBlocks(data: Uint8Array, final: boolean): Uint8Array {
  const count = Math.max(1, Math.ceil(data.length / 65535));
  const out = new Uint8Array(data.length + count * 5);
  let o = 0;
  for (let i = 0; i < count; i++) {
    const chunk = data.subarray(i * 65535, (i + 1) * 65535);
    out[o++] = final && i === count - 1 ? 1 : 0;
    out[o++] = chunk.length & 0xff;
    out[o++] = chunk.length >> 8;
    out[o++] = ~chunk.length & 0xff;
    out[o++] = (~chunk.length >> 8) & 0xff;
    out.set(chunk, o);
    o += chunk.length;
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
