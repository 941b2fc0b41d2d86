/**
 * CRC-32 (IEEE 802.3, as gzip uses): the runtime's native `zlib.crc32` over bytes, and the CRC of two pieces
 * joined, from the CRC of each and the second one's length, so that blocks checked on different threads give the
 * CRC of the whole stream (the technique of zlib's crc32_combine: multiplying by x^(8·len) modulo the polynomial).
 */
import * as zlib from "node:zlib";

/** The reflected CRC-32 polynomial. */
const POLY = 0xedb88320;

/**
 * Continues a CRC-32 over `data` (start with 0).
 *
 * @example crc32(crc32(0, a), b) === crc32(0, concat(a, b))
 */
export function crc32(crc: number, data: Uint8Array): number {
  return zlib.crc32(data, crc) >>> 0;
}

/** a·b modulo the CRC polynomial (both reflected: the top bit is x^0). */
function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if ((a & m) !== 0) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/** X2N[k] = x^(2^k) modulo the polynomial. */
const X2N: number[] = (() => {
  const t = [0x40000000]; // x^1
  for (let k = 1; k < 32; k++) t.push(multModP(t[k - 1], t[k - 1]));
  return t;
})();

/** x^(n·2^k) modulo the polynomial. */
function x2nModP(n: number, k: number): number {
  let p = 0x80000000; // x^0
  while (n > 0) {
    if (n % 2) p = multModP(X2N[k % 32], p);
    n = Math.floor(n / 2);
    k++;
  }
  return p;
}

/**
 * The CRC-32 of A followed by B, from crc(A), crc(B) and B's length in bytes.
 *
 * @example crc32Combine(crc32(0, a), crc32(0, b), b.length) === crc32(0, concat(a, b))
 */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  // Blocks are mostly of one length: keep the multiplier of the last one.
  if (lengthB !== lastLength) {
    lastLength = lengthB;
    lastShift = x2nModP(lengthB, 3);
  }
  return (multModP(lastShift, crcA) ^ crcB) >>> 0;
}

let lastLength = -1;
let lastShift = 0;
