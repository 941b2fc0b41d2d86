/**
 * Reading tars for restoring (cache layers, SBOM layers): a streaming parser (USTAR, PAX 'x'/'g', GNU long names)
 * and an extractor that only writes inside the roots it is given and refuses entries that would escape them:
 * `..` components, absolute names outside every root, and writing through a symlink.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Gunzip } from "fflate";
import { writeAll } from "../fsutil/atomic.ts";
import type { Placement } from "./tar-entries.ts";

/** A parsed entry header. */
export interface ReadHeader {
  name: string;
  linkname: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  typeflag: string;
}

/** Raised for a tar that is malformed or holds an entry the extractor refuses; names the entry. */
export class TarError extends Error {
  constructor(message: string, readonly entry?: string) {
    super(message);
    this.name = "TarError";
  }
}

const dec = new TextDecoder();

function cstr(b: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && b[end] !== 0) end++;
  return dec.decode(b.subarray(off, end));
}

function octal(b: Uint8Array, off: number, len: number, field: string): number {
  if (b[off] & 0x80) {
    // GNU base-256
    let v = 0;
    for (let i = off + 1; i < off + len; i++) v = v * 256 + b[i];
    return v;
  }
  const s = cstr(b, off, len).trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw new TarError(`malformed tar header: ${field} field "${s}" is not octal`);
  return parseInt(s, 8);
}

function parsePax(data: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  let off = 0;
  while (off < data.length) {
    let sp = off;
    while (sp < data.length && data[sp] !== 0x20) sp++;
    const len = Number(dec.decode(data.subarray(off, sp)));
    if (!Number.isInteger(len) || len <= 0 || off + len > data.length) throw new TarError("malformed PAX record");
    const rec = dec.decode(data.subarray(sp + 1, off + len - 1));
    const eq = rec.indexOf("=");
    if (eq < 0) throw new TarError("malformed PAX record");
    out[rec.slice(0, eq)] = rec.slice(eq + 1);
    off += len;
  }
  return out;
}

/**
 * Parses a tar from a stream of chunks (gzip is detected and inflated), calling `onEntry` for each entry with its
 * data chunks. PAX and GNU long-name headers are applied to the entry that follows them.
 */
export async function readTar(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  onEntry: (h: ReadHeader) => { data?: (chunk: Uint8Array) => void; end?: () => void } | void,
): Promise<void> {
  let pending = new Uint8Array(0);
  let state: "header" | "data" | "pad" | "meta" | "done" = "header";
  let left = 0;
  let padLeft = 0;
  let current: ReturnType<typeof onEntry> | undefined;
  let meta: { kind: string; buf: Uint8Array; off: number } | undefined;
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  let zeroBlocks = 0;

  const feed = (input: Uint8Array) => {
    const data = pending.length ? concat(pending, input) : input;
    pending = new Uint8Array(0);
    let off = 0;
    while (off < data.length && state !== "done") {
      if (state === "header") {
        if (data.length - off < 512) {
          pending = data.slice(off);
          return;
        }
        const b = data.subarray(off, off + 512);
        off += 512;
        if (b.every((x) => x === 0)) {
          if (++zeroBlocks === 2) state = "done";
          continue;
        }
        zeroBlocks = 0;
        let sum = 0;
        for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : b[i];
        if (octal(b, 148, 8, "chksum") !== sum) throw new TarError("malformed tar: header checksum mismatch");
        const typeflag = String.fromCharCode(b[156] || 0x30);
        const size = octal(b, 124, 12, "size");
        if (typeflag === "x" || typeflag === "g" || typeflag === "L" || typeflag === "K") {
          meta = { kind: typeflag, buf: new Uint8Array(size), off: 0 };
          left = size;
          padLeft = (512 - (size % 512)) % 512;
          state = "meta";
          if (size === 0) state = padLeft ? "pad" : "header";
          continue;
        }
        const prefix = b[257] === 0x75 && cstr(b, 257, 6) === "ustar" ? cstr(b, 345, 155) : "";
        let name = cstr(b, 0, 100);
        if (prefix) name = `${prefix}/${name}`;
        const h: ReadHeader = {
          name: pax.path ?? longName ?? name,
          linkname: pax.linkpath ?? longLink ?? cstr(b, 157, 100),
          mode: octal(b, 100, 8, "mode"),
          uid: pax.uid !== undefined ? Number(pax.uid) : octal(b, 108, 8, "uid"),
          gid: pax.gid !== undefined ? Number(pax.gid) : octal(b, 116, 8, "gid"),
          size: pax.size !== undefined ? Number(pax.size) : size,
          typeflag: typeflag === "\0" ? "0" : typeflag,
        };
        pax = {};
        longName = longLink = undefined;
        const hasData = h.typeflag === "0" || h.typeflag === "7";
        const dataSize = hasData ? h.size : 0;
        current = onEntry(h) || undefined;
        left = dataSize;
        padLeft = (512 - (dataSize % 512)) % 512;
        state = left > 0 ? "data" : padLeft > 0 ? "pad" : "header";
        if (left === 0) current?.end?.();
      } else if (state === "data" || state === "meta") {
        const n = Math.min(left, data.length - off);
        const piece = data.subarray(off, off + n);
        if (state === "data") current?.data?.(piece);
        else if (meta) {
          meta.buf.set(piece, meta.off);
          meta.off += n;
        }
        off += n;
        left -= n;
        if (left === 0) {
          if (state === "data") current?.end?.();
          else if (meta) {
            if (meta.kind === "x") pax = parsePax(meta.buf);
            else if (meta.kind === "L") longName = cstr(meta.buf, 0, meta.buf.length);
            else if (meta.kind === "K") longLink = cstr(meta.buf, 0, meta.buf.length);
            meta = undefined;
          }
          state = padLeft > 0 ? "pad" : "header";
        }
      } else if (state === "pad") {
        const n = Math.min(padLeft, data.length - off);
        off += n;
        padLeft -= n;
        if (padLeft === 0) state = "header";
      }
    }
  };

  let gunzip: Gunzip | undefined;
  let first = true;
  for await (const chunk of chunks) {
    if (first && chunk.length > 0) {
      first = false;
      if (chunk[0] === 0x1f && chunk[1] === 0x8b) gunzip = new Gunzip((out) => feed(out));
    }
    if (gunzip) gunzip.push(chunk);
    else feed(chunk);
  }
  if (gunzip) gunzip.push(new Uint8Array(0), true);
  const end = state as string;
  if (end === "data" || end === "meta" || pending.length > 0) throw new TarError("truncated tar: the archive ends inside an entry");
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** What an extraction wrote. */
export interface ExtractStats {
  files: number;
  dirs: number;
  symlinks: number;
  bytes: number;
}

/**
 * Extracts a tar whose names are absolute image paths (`/layers/bp/layer/file`) into the disk directories of the
 * given roots (`{ image: "/layers", disk: "/tmp/x/layers" }`). An entry outside every root, with a `..` component,
 * or whose path goes through a symlink is refused with an error naming it; hard links, devices and FIFOs are
 * refused as the reference lifecycle does. Directories created get their mode after all entries are written.
 *
 * @example await extractTar(fileChunks("/cache/committed/sha256:….tar"), [{ image: "/layers", disk: "/layers" }])
 */
export async function extractTar(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, roots: Placement[]): Promise<ExtractStats> {
  const stats: ExtractStats = { files: 0, dirs: 0, symlinks: 0, bytes: 0 };
  const newDirs: [string, number][] = [];
  await readTar(chunks, (h) => {
    if (h.typeflag === "g") return;
    // Layer tars carry their parent directories (`/layers`, `/layers/bp`): those above a root already exist.
    if (h.typeflag === "5" && isAncestorOfRoot(h.name, roots)) return;
    const target = mapEntry(h.name, roots);
    switch (h.typeflag) {
      case "5": {
        if (!fs.existsSync(target)) {
          fs.mkdirSync(target, { recursive: true, mode: 0o700 });
          newDirs.push([target, h.mode & 0o7777]);
        } else if (!fs.lstatSync(target).isDirectory()) {
          throw new TarError(`cannot extract directory ${h.name}: ${target} exists and is not a directory`, h.name);
        }
        stats.dirs++;
        return;
      }
      case "0":
      case "7": {
        fs.mkdirSync(path.dirname(target), { recursive: true });
        if (fs.existsSync(target) && fs.lstatSync(target).isSymbolicLink()) {
          throw new TarError(`refusing to write ${h.name} through the symlink ${target}`, h.name);
        }
        const fd = fs.openSync(target, "w", h.mode & 0o7777);
        stats.files++;
        return {
          data: (c) => {
            writeAll(fd, c);
            stats.bytes += c.length;
          },
          end: () => fs.closeSync(fd),
        };
      }
      case "2": {
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.symlinkSync(h.linkname, target);
        stats.symlinks++;
        return;
      }
      default:
        throw new TarError(`unsupported entry ${h.name} in tar: type '${h.typeflag}' (only directories, regular files and symlinks can be restored)`, h.name);
    }
  });
  for (const [dir, mode] of newDirs.reverse()) fs.chmodSync(dir, mode);
  return stats;
}

function isAncestorOfRoot(name: string, roots: Placement[]): boolean {
  const clean = "/" + name.split("/").filter((p) => p !== "" && p !== ".").join("/");
  if (clean.split("/").includes("..")) return false;
  return roots.some((r) => {
    const img = r.image.replace(/\/+$/, "");
    return clean !== img && (img + "/").startsWith(clean === "/" ? "/" : clean + "/");
  });
}

/** Maps an entry name to its disk path inside one of the roots, refusing anything that would escape. */
function mapEntry(name: string, roots: Placement[]): string {
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new TarError(`refusing tar entry "${name}": it contains a ".." component`, name);
  const clean = "/" + parts.join("/");
  for (const r of roots) {
    const img = r.image.replace(/\/+$/, "") || "/";
    if (clean !== img && !clean.startsWith(img === "/" ? "/" : img + "/")) continue;
    const rel = clean.slice(img.length).replace(/^\//, "");
    const target = rel ? path.join(r.disk, rel) : r.disk;
    // No component between the root and the target may be a symlink.
    let probe = r.disk;
    for (const comp of rel ? rel.split("/").slice(0, -1) : []) {
      probe = path.join(probe, comp);
      let st: fs.Stats;
      try {
        st = fs.lstatSync(probe);
      } catch {
        break;
      }
      if (st.isSymbolicLink()) throw new TarError(`refusing tar entry "${name}": it would be written through the symlink ${probe}`, name);
    }
    return target;
  }
  throw new TarError(`refusing tar entry "${name}": it is outside ${roots.map((r) => r.image).join(", ")}`, name);
}

/** The chunks of a file, read in 1 MiB pieces. */
export function* fileChunks(file: string): Generator<Uint8Array> {
  const fd = fs.openSync(file, "r");
  try {
    const buf = new Uint8Array(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) return;
      yield buf.slice(0, n);
    }
  } finally {
    fs.closeSync(fd);
  }
}
