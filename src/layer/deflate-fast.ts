/**
 * A fast DEFLATE (RFC 1951) compressor for layer blocks, written for speed in plain TypeScript (so its bytes are
 * the same on Bun, Deno and Node): greedy LZ77 with one hash candidate per position and no hash insertion inside
 * long matches (the way zlib's fastest level works), then dynamic Huffman blocks with length-limited codes, or
 * stored blocks when those are smaller.
 */

const WINDOW = 32768;
const HASH_BITS = 16;
const MIN_MATCH = 4;
const MAX_MATCH = 258;
/** Matches longer than this do not insert the positions they cover into the hash table. */
const MAX_INSERT = 8;
/** Symbols per Huffman block. */
const BLOCK_SYMBOLS = 1 << 15;

// Length codes 257..285: base lengths and extra bits (RFC 1951 §3.2.5).
const LEN_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LEN_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [
  1,
  2,
  3,
  4,
  5,
  7,
  9,
  13,
  17,
  25,
  33,
  49,
  65,
  97,
  129,
  193,
  257,
  385,
  513,
  769,
  1025,
  1537,
  2049,
  3073,
  4097,
  6145,
  8193,
  12289,
  16385,
  24577,
];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
/** The order in which code-length code lengths are written. */
const CL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** Length (3..258) → length code index 0..28. */
const LEN_CODE = new Uint8Array(259);
for (let c = 0; c < 29; c++) {
  const end = c === 28 ? 259 : LEN_BASE[c + 1];
  for (let l = LEN_BASE[c]; l < end && l < 259; l++) LEN_CODE[l] = c;
}
LEN_CODE[258] = 28;
/** Distance (1..32768) → distance code, through two tables (small distances, then distance >> 7). */
const DIST_CODE_LO = new Uint8Array(257);
const DIST_CODE_HI = new Uint8Array(257);
for (let c = 0; c < 30; c++) {
  const end = c === 29 ? 32769 : DIST_BASE[c + 1];
  for (let d = DIST_BASE[c]; d < end; d++) {
    if (d <= 256) DIST_CODE_LO[d] = c;
    else DIST_CODE_HI[(d - 1) >> 7] = c;
  }
}
function distCode(d: number): number {
  return d <= 256 ? DIST_CODE_LO[d] : DIST_CODE_HI[(d - 1) >> 7];
}

/** An LSB-first bit writer into a growing byte buffer. */
class BitWriter {
  buf: Uint8Array;
  pos = 0;
  private acc = 0;
  private n = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }
  private ensure(k: number): void {
    if (this.pos + k <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + k));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }
  /** Writes the low `count` bits of `value` (count ≤ 16). */
  bits(value: number, count: number): void {
    this.acc |= value << this.n;
    this.n += count;
    if (this.n >= 16) {
      this.ensure(2);
      this.buf[this.pos++] = this.acc & 0xff;
      this.buf[this.pos++] = (this.acc >>> 8) & 0xff;
      this.acc >>>= 16;
      this.n -= 16;
    }
  }
  /** Pads to a byte boundary with zero bits. */
  align(): void {
    this.ensure(4);
    while (this.n > 0) {
      this.buf[this.pos++] = this.acc & 0xff;
      this.acc >>>= 8;
      this.n = Math.max(0, this.n - 8);
    }
    this.acc = 0;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  result(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

/**
 * Huffman code lengths for `freq`, none longer than `maxBits`, complete (Kraft sum 1) whenever two or more
 * symbols are used. Lengths are found with a heap, limited on the counts of each length, and reassigned by
 * frequency.
 */
export function codeLengths(freq: ArrayLike<number>, maxBits: number): Uint8Array {
  const n = freq.length;
  const lengths = new Uint8Array(n);
  const used: number[] = [];
  for (let i = 0; i < n; i++) if (freq[i] > 0) used.push(i);
  if (used.length === 0) return lengths;
  if (used.length === 1) {
    lengths[used[0]] = 1;
    return lengths;
  }
  // Build the tree: nodes 0..n-1 are leaves, then internal nodes.
  const weight: number[] = [];
  const parent: number[] = [];
  const heap: number[] = [];
  const push = (node: number) => {
    heap.push(node);
    let k = heap.length - 1;
    while (k > 0) {
      const p = (k - 1) >> 1;
      if (weight[heap[p]] < weight[heap[k]] || (weight[heap[p]] === weight[heap[k]] && heap[p] <= heap[k])) break;
      [heap[p], heap[k]] = [heap[k], heap[p]];
      k = p;
    }
  };
  const pop = (): number => {
    const top = heap[0];
    const last = heap.pop() as number;
    if (heap.length > 0) {
      heap[0] = last;
      let k = 0;
      for (;;) {
        const l = 2 * k + 1;
        const r = l + 1;
        let m = k;
        const less = (a: number, b: number) => weight[heap[a]] < weight[heap[b]] || (weight[heap[a]] === weight[heap[b]] && heap[a] < heap[b]);
        if (l < heap.length && less(l, m)) m = l;
        if (r < heap.length && less(r, m)) m = r;
        if (m === k) break;
        [heap[m], heap[k]] = [heap[k], heap[m]];
        k = m;
      }
    }
    return top;
  };
  for (let i = 0; i < n; i++) weight[i] = freq[i];
  for (const s of used) push(s);
  let next = n;
  while (heap.length > 1) {
    const a = pop();
    const b = pop();
    weight[next] = weight[a] + weight[b];
    parent[a] = next;
    parent[b] = next;
    push(next);
    next++;
  }
  const root = next - 1;
  const depth: number[] = [];
  depth[root] = 0;
  for (let node = root - 1; node >= n; node--) depth[node] = depth[parent[node]] + 1;
  let deepest = 0;
  for (const s of used) deepest = Math.max(deepest, depth[parent[s]] + 1);
  const blCount = new Array<number>(Math.max(deepest, maxBits) + 2).fill(0);
  for (const s of used) blCount[depth[parent[s]] + 1]++;
  // Limit the lengths on the counts, keeping the code complete (the JPEG standard's Adjust_BITS, Annex K.3):
  // take two leaves from the deepest level, put one a level up, and split a shorter leaf into two.
  for (let i = deepest; i > maxBits; i--) {
    while (blCount[i] > 0) {
      let j = i - 2;
      while (blCount[j] === 0) j--;
      blCount[i] -= 2;
      blCount[i - 1] += 1;
      blCount[j + 1] += 2;
      blCount[j] -= 1;
    }
  }
  // Longest codes to the least frequent symbols.
  const byFreq = [...used].sort((a, b) => freq[a] - freq[b] || b - a);
  let k = 0;
  for (let bits = maxBits; bits >= 1; bits--) {
    for (let c = blCount[bits]; c > 0; c--) lengths[byFreq[k++]] = bits;
  }
  return lengths;
}

/** Canonical codes for `lengths`, bit-reversed for LSB-first writing. */
function canonicalCodes(lengths: Uint8Array): Uint16Array {
  const maxBits = 15;
  const blCount = new Uint16Array(maxBits + 1);
  for (const l of lengths) if (l) blCount[l]++;
  const nextCode = new Uint16Array(maxBits + 2);
  let code = 0;
  for (let bits = 1; bits <= maxBits; bits++) {
    code = (code + blCount[bits - 1]) << 1;
    nextCode[bits] = code;
  }
  const codes = new Uint16Array(lengths.length);
  for (let i = 0; i < lengths.length; i++) {
    const l = lengths[i];
    if (!l) continue;
    let c = nextCode[l]++;
    let r = 0;
    for (let b = 0; b < l; b++) {
      r = (r << 1) | (c & 1);
      c >>= 1;
    }
    codes[i] = r;
  }
  return codes;
}

/** Run-length encodes code lengths with codes 16 (repeat previous), 17 and 18 (repeat zero). */
function rleLengths(lengths: Uint8Array): { syms: number[]; extra: number[] } {
  const syms: number[] = [];
  const extra: number[] = [];
  for (let i = 0; i < lengths.length;) {
    const l = lengths[i];
    let run = 1;
    while (i + run < lengths.length && lengths[i + run] === l) run++;
    if (l === 0 && run >= 3) {
      const r = Math.min(run, 138);
      if (r >= 11) {
        syms.push(18);
        extra.push(r - 11);
      } else {
        syms.push(17);
        extra.push(r - 3);
      }
      i += r;
      continue;
    }
    if (l !== 0 && run >= 4) {
      syms.push(l);
      extra.push(0);
      const r = Math.min(run - 1, 6);
      syms.push(16);
      extra.push(r - 3);
      i += r + 1;
      continue;
    }
    syms.push(l);
    extra.push(0);
    i++;
  }
  return { syms, extra };
}

/** Writes one block of symbols: dynamic Huffman, or stored when that is smaller. */
function writeBlock(
  w: BitWriter,
  data: Uint8Array,
  start: number,
  end: number,
  syms: Uint32Array,
  count: number,
  litFreq: Uint32Array,
  distFreq: Uint32Array,
  last: boolean,
): void {
  litFreq[256] = 1;
  const litLen = codeLengths(litFreq, 15);
  let distLen = codeLengths(distFreq, 15);
  if (distLen.every((l) => l === 0)) {
    distLen = new Uint8Array(30);
    distLen[0] = 1;
  }
  let hlit = 286;
  while (hlit > 257 && litLen[hlit - 1] === 0) hlit--;
  let hdist = 30;
  while (hdist > 1 && distLen[hdist - 1] === 0) hdist--;
  const all = new Uint8Array(hlit + hdist);
  all.set(litLen.subarray(0, hlit));
  all.set(distLen.subarray(0, hdist), hlit);
  const rle = rleLengths(all);
  const clFreq = new Uint32Array(19);
  for (const s of rle.syms) clFreq[s]++;
  const clLen = codeLengths(clFreq, 7);
  let hclen = 19;
  while (hclen > 4 && clLen[CL_ORDER[hclen - 1]] === 0) hclen--;

  // Cost in bits of the dynamic block, to compare with storing.
  let cost = 3 + 5 + 5 + 4 + 3 * hclen;
  for (let k = 0; k < rle.syms.length; k++) {
    const s = rle.syms[k];
    cost += clLen[s] + (s === 16 ? 2 : s === 17 ? 3 : s === 18 ? 7 : 0);
  }
  for (let s = 0; s < 286; s++) if (litFreq[s]) cost += litFreq[s] * (litLen[s] + (s > 256 ? LEN_EXTRA[s - 257] : 0));
  for (let s = 0; s < 30; s++) if (distFreq[s]) cost += distFreq[s] * (distLen[s] + DIST_EXTRA[s]);
  const storedCost = (end - start) * 8 + Math.ceil((end - start) / 65535) * 40 + 8;
  if (storedCost < cost) {
    writeStored(w, data.subarray(start, end), last);
    return;
  }

  w.bits(last ? 1 : 0, 1);
  w.bits(2, 2);
  w.bits(hlit - 257, 5);
  w.bits(hdist - 1, 5);
  w.bits(hclen - 4, 4);
  for (let k = 0; k < hclen; k++) w.bits(clLen[CL_ORDER[k]], 3);
  const clCodes = canonicalCodes(clLen);
  for (let k = 0; k < rle.syms.length; k++) {
    const s = rle.syms[k];
    w.bits(clCodes[s], clLen[s]);
    if (s === 16) w.bits(rle.extra[k], 2);
    else if (s === 17) w.bits(rle.extra[k], 3);
    else if (s === 18) w.bits(rle.extra[k], 7);
  }
  const litCodes = canonicalCodes(litLen);
  const distCodes = canonicalCodes(distLen);
  for (let k = 0; k < count; k++) {
    const s = syms[k];
    if (s < 256) {
      w.bits(litCodes[s], litLen[s]);
      continue;
    }
    const len = ((s >>> 15) & 0xff) + 3;
    const dist = (s & 0x7fff) + 1;
    const lc = LEN_CODE[len];
    w.bits(litCodes[257 + lc], litLen[257 + lc]);
    if (LEN_EXTRA[lc]) w.bits(len - LEN_BASE[lc], LEN_EXTRA[lc]);
    const dc = distCode(dist);
    w.bits(distCodes[dc], distLen[dc]);
    if (DIST_EXTRA[dc]) w.bits(dist - DIST_BASE[dc], DIST_EXTRA[dc]);
  }
  w.bits(litCodes[256], litLen[256]);
}

/** Stored blocks (at most 65535 bytes each). */
function writeStored(w: BitWriter, data: Uint8Array, last: boolean): void {
  let off = 0;
  do {
    const n = Math.min(65535, data.length - off);
    const isLast = last && off + n >= data.length;
    w.bits(isLast ? 1 : 0, 1);
    w.bits(0, 2);
    w.align();
    w.bytes(Uint8Array.from([n & 0xff, n >> 8, ~n & 0xff, (~n >> 8) & 0xff]));
    w.bytes(data.subarray(off, off + n));
    off += n;
  } while (off < data.length);
}

/**
 * Compresses `data` as raw DEFLATE. With `final`, the last block is marked final; otherwise the output ends with
 * a sync flush (an empty stored block), so that it can be followed by the DEFLATE of the next block.
 *
 * @example const piece = deflateFast(block, false)
 */
export function deflateFast(data: Uint8Array, final: boolean): Uint8Array {
  const n = data.length;
  const w = new BitWriter(n + (n >> 3) + 1024);
  const head = new Int32Array(1 << HASH_BITS).fill(-1);
  const syms = new Uint32Array(BLOCK_SYMBOLS + 2);
  const litFreq = new Uint32Array(286);
  const distFreq = new Uint32Array(30);
  let count = 0;
  let blockStart = 0;
  const flushBlock = (end: number, last: boolean) => {
    writeBlock(w, data, blockStart, end, syms, count, litFreq, distFreq, last);
    count = 0;
    blockStart = end;
    litFreq.fill(0);
    distFreq.fill(0);
  };
  let i = 0;
  const limit = n - MIN_MATCH;
  while (i <= limit) {
    const v = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    const h = Math.imul(v, 0x9e3779b1) >>> (32 - HASH_BITS);
    const cand = head[h];
    head[h] = i;
    let len = 0;
    if (
      cand >= 0 && i - cand <= WINDOW && data[cand] === data[i] && data[cand + 1] === data[i + 1] && data[cand + 2] === data[i + 2] &&
      data[cand + 3] === data[i + 3]
    ) {
      len = 4;
      const max = Math.min(MAX_MATCH, n - i);
      while (len < max && data[cand + len] === data[i + len]) len++;
    }
    if (len >= MIN_MATCH) {
      const dist = i - cand;
      syms[count++] = 0x80000000 | ((len - 3) << 15) | (dist - 1);
      litFreq[257 + LEN_CODE[len]]++;
      distFreq[distCode(dist)]++;
      if (len <= MAX_INSERT) {
        for (let k = i + 1; k < i + len && k <= limit; k++) {
          const vk = data[k] | (data[k + 1] << 8) | (data[k + 2] << 16) | (data[k + 3] << 24);
          head[Math.imul(vk, 0x9e3779b1) >>> (32 - HASH_BITS)] = k;
        }
      }
      i += len;
    } else {
      syms[count++] = data[i];
      litFreq[data[i]]++;
      i++;
    }
    if (count >= BLOCK_SYMBOLS) flushBlock(i, false);
  }
  for (; i < n; i++) {
    syms[count++] = data[i];
    litFreq[data[i]]++;
  }
  flushBlock(n, final);
  if (!final) {
    // Sync flush: an empty, non-final stored block, which also aligns to a byte.
    w.bits(0, 3);
    w.align();
    w.bytes(Uint8Array.from([0, 0, 0xff, 0xff]));
  } else {
    w.align();
  }
  return w.result();
}
