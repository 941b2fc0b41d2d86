/**
 * Tar headers byte for byte as Go's archive/tar writes them for the reference lifecycle's normalised headers:
 * USTAR where the fields fit (long ASCII names split into prefix/name), else a PAX extended header ('x' block named
 * `<dir>/PaxHeaders.0/<base>`) before a USTAR-shaped main header. Uname and gname are always empty.
 */

/** Entry types the layer writer produces. */
export const TypeFlag = { reg: 0x30, link: 0x31, symlink: 0x32, char: 0x33, block: 0x34, dir: 0x35, fifo: 0x36, pax: 0x78 } as const;

/** A normalised tar header. `name` and `linkname` are raw bytes (file names need not be UTF-8). */
export interface TarHeader {
  name: Uint8Array;
  linkname?: Uint8Array;
  /** Permission bits plus setuid (0o4000), setgid (0o2000) and sticky (0o1000). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  typeflag: number;
  devmajor?: number;
  devminor?: number;
}

const BLOCK = 512;
const enc = new TextEncoder();

/** Encodes a string as UTF-8 bytes. */
export function bytesOf(s: string): Uint8Array {
  return enc.encode(s);
}

function isAscii(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] >= 0x80 || b[i] === 0) return false;
  return true;
}

function toAscii(b: Uint8Array): Uint8Array {
  return b.filter((c) => c < 0x80 && c !== 0);
}

/** Writes `value` as zero-padded octal in `len-1` digits plus NUL; values that do not fit are written as 0. */
function putOctal(block: Uint8Array, off: number, len: number, value: number): void {
  let v = value >= 0 && value < 8 ** (len - 1) ? value : 0;
  for (let i = off + len - 2; i >= off; i--) {
    block[i] = 0x30 + (v % 8);
    v = Math.floor(v / 8);
  }
  block[off + len - 1] = 0;
}

function putBytes(block: Uint8Array, off: number, len: number, b: Uint8Array): void {
  block.set(b.length <= len ? b : b.subarray(0, len), off);
}

function fitsOctal(value: number, len: number): boolean {
  return value >= 0 && value < 8 ** (len - 1);
}

/** Go's splitUSTARPath: the prefix/name split of a long ASCII name, or undefined if none fits. */
function splitUstar(name: Uint8Array): [Uint8Array, Uint8Array] | undefined {
  const length = name.length;
  if (length <= 100 || !isAscii(name)) return undefined;
  let l = Math.min(length, 156);
  if (length <= 156 && name[l - 1] === 0x2f) l--;
  let i = -1;
  for (let k = l - 1; k >= 0; k--) {
    if (name[k] === 0x2f) {
      i = k;
      break;
    }
  }
  const nlen = length - i - 1;
  if (i <= 0 || nlen <= 0 || nlen > 100 || i > 155) return undefined;
  return [name.subarray(0, i), name.subarray(i + 1)];
}

function finishBlock(block: Uint8Array): Uint8Array {
  for (let i = 148; i < 156; i++) block[i] = 0x20;
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i];
  for (let i = 153; i >= 148; i--) {
    block[i] = 0x30 + (sum % 8);
    sum = Math.floor(sum / 8);
  }
  block[154] = 0;
  block[155] = 0x20;
  return block;
}

/** "ustar\0" and the version "00". */
const USTAR_MAGIC = bytesOf("ustar\u000000");

function ustarBlock(h: TarHeader, name: Uint8Array, prefix: Uint8Array | undefined, linkname: Uint8Array, devFields: boolean): Uint8Array {
  const b = new Uint8Array(BLOCK);
  putBytes(b, 0, 100, name);
  putOctal(b, 100, 8, h.mode);
  putOctal(b, 108, 8, h.uid);
  putOctal(b, 116, 8, h.gid);
  putOctal(b, 124, 12, h.size);
  putOctal(b, 136, 12, h.mtime);
  b[156] = h.typeflag;
  putBytes(b, 157, 100, linkname);
  b.set(USTAR_MAGIC, 257);
  if (devFields) {
    putOctal(b, 329, 8, h.devmajor ?? 0);
    putOctal(b, 337, 8, h.devminor ?? 0);
  }
  if (prefix) putBytes(b, 345, 155, prefix);
  return finishBlock(b);
}

/** A PAX record `"%d %s=%s\n"` whose length counts itself. */
function paxRecord(key: string, value: Uint8Array): Uint8Array {
  const k = bytesOf(key);
  const base = k.length + value.length + 3;
  let size = base + String(base).length;
  if (String(size).length !== String(size - base).length) size = base + String(size).length;
  const rec = new Uint8Array(size);
  const head = bytesOf(`${size} ${key}=`);
  rec.set(head, 0);
  rec.set(value, head.length);
  rec[size - 1] = 0x0a;
  return rec;
}

/** Go's path.Split followed by path.Join(dir, "PaxHeaders.0", file), on raw bytes. */
function paxHeaderName(name: Uint8Array): Uint8Array {
  let slash = -1;
  for (let k = name.length - 1; k >= 0; k--) {
    if (name[k] === 0x2f) {
      slash = k;
      break;
    }
  }
  const dir = name.subarray(0, slash + 1);
  const file = name.subarray(slash + 1);
  const joined = cleanJoin([dir, bytesOf("PaxHeaders.0"), file]);
  let out = toAscii(joined).subarray(0, 100);
  while (out.length > 0 && out[out.length - 1] === 0x2f) out = out.subarray(0, out.length - 1);
  return out;
}

/** path.Join of byte strings: joins with '/', then cleans (collapses '//', drops '.' and resolves '..'). */
function cleanJoin(parts: Uint8Array[]): Uint8Array {
  const nonEmpty = parts.filter((p) => p.length > 0);
  if (nonEmpty.length === 0) return new Uint8Array(0);
  const total = nonEmpty.reduce((n, p) => n + p.length + 1, 0);
  const buf = new Uint8Array(total);
  let off = 0;
  nonEmpty.forEach((p, i) => {
    if (i > 0) buf[off++] = 0x2f;
    buf.set(p, off);
    off += p.length;
  });
  const s = buf.subarray(0, off);
  const rooted = s[0] === 0x2f;
  const segs: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i <= s.length; i++) {
    if (i === s.length || s[i] === 0x2f) {
      const seg = s.subarray(start, i);
      start = i + 1;
      if (seg.length === 0 || (seg.length === 1 && seg[0] === 0x2e)) continue;
      if (seg.length === 2 && seg[0] === 0x2e && seg[1] === 0x2e) {
        if (segs.length > 0 && !(segs[segs.length - 1].length === 2 && segs[segs.length - 1][0] === 0x2e)) segs.pop();
        else if (!rooted) segs.push(seg);
        continue;
      }
      segs.push(seg);
    }
  }
  const parts2: number[] = rooted ? [0x2f] : [];
  segs.forEach((seg, i) => {
    if (i > 0) parts2.push(0x2f);
    for (const c of seg) parts2.push(c);
  });
  if (parts2.length === 0) parts2.push(0x2e);
  return Uint8Array.from(parts2);
}

/**
 * A name or linkname field of a PAX main header, as Go's formatString(toASCII(s)): the first 100 bytes; only when
 * the ASCII string is longer than 100 and byte 99 is '/', the byte after the cut's last non-'/' is set to NUL
 * (any further '/' bytes stay).
 */
function paxMainField(b: Uint8Array): Uint8Array {
  const s = toAscii(b);
  if (s.length <= 100 || s[99] !== 0x2f) return s.subarray(0, 100);
  const field = s.slice(0, 100);
  let n = 100;
  while (n > 0 && field[n - 1] === 0x2f) n--;
  field[n] = 0;
  return field;
}

/**
 * Encodes the header block(s) for one entry: one USTAR block, or a PAX 'x' block with its records and the main
 * header block. The entry's data (padded to 512) follows, written by the caller.
 */
export function encodeHeader(h: TarHeader): Uint8Array {
  const linkname = h.linkname ?? new Uint8Array(0);
  const needsPaxPath = !isAscii(h.name) || (h.name.length > 100 && !splitUstar(h.name));
  const nameIsPax = !isAscii(h.name) || h.name.length > 100;
  const linkIsPax = !isAscii(linkname) || linkname.length > 100;
  const numbersFit = fitsOctal(h.uid, 8) && fitsOctal(h.gid, 8) && fitsOctal(h.size, 12) && fitsOctal(h.mode, 8);
  const devFit = fitsOctal(h.devmajor ?? 0, 8) && fitsOctal(h.devminor ?? 0, 8);
  if (!needsPaxPath && !linkIsPax && numbersFit && devFit && fitsOctal(h.mtime, 12)) {
    const split = h.name.length > 100 ? splitUstar(h.name) : undefined;
    return split ? ustarBlock(h, split[1], split[0], linkname, true) : ustarBlock(h, h.name, undefined, linkname, true);
  }
  // PAX: collect the records Go would (path and linkpath whenever they are long or non-ASCII, even if splittable).
  const records: [string, Uint8Array][] = [];
  if (nameIsPax) records.push(["path", h.name]);
  if (linkIsPax) records.push(["linkpath", linkname]);
  if (!fitsOctal(h.uid, 8)) records.push(["uid", bytesOf(String(h.uid))]);
  if (!fitsOctal(h.gid, 8)) records.push(["gid", bytesOf(String(h.gid))]);
  if (!fitsOctal(h.size, 12)) records.push(["size", bytesOf(String(h.size))]);
  if (!fitsOctal(h.mtime, 12)) records.push(["mtime", bytesOf(String(h.mtime))]);
  records.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const recBytes = records.map(([k, v]) => paxRecord(k, v));
  const dataLen = recBytes.reduce((n, r) => n + r.length, 0);
  const xHeader: TarHeader = { name: paxHeaderName(h.name), mode: 0, uid: 0, gid: 0, size: dataLen, mtime: 0, typeflag: TypeFlag.pax };
  const xBlock = ustarBlock(xHeader, xHeader.name, undefined, new Uint8Array(0), false);
  const main = ustarBlock(h, paxMainField(h.name), undefined, paxMainField(linkname), true);
  const out = new Uint8Array(BLOCK + padded(dataLen) + BLOCK);
  out.set(xBlock, 0);
  let off = BLOCK;
  for (const r of recBytes) {
    out.set(r, off);
    off += r.length;
  }
  out.set(main, BLOCK + padded(dataLen));
  return out;
}

/** `n` rounded up to a multiple of 512. */
export function padded(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}

/** The end-of-archive marker: two zero blocks (no padding to a 10240-byte record, as Go writes it). */
export const END_OF_ARCHIVE = new Uint8Array(2 * BLOCK);
