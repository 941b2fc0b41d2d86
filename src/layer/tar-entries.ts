/**
 * The entries of each kind of layer, in the order and with the owners the reference lifecycle writes them:
 * a buildpack (or config, or SBOM) layer directory with its parents first; the app directory sorted by full path;
 * the launcher layer; the process-types layer. All of it synchronous, for use inside a worker thread.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { bytesOf, type TarHeader, TypeFlag } from "./tar-header.ts";
import { processTypeProblem } from "../platform/files.ts";

/** mtime of every entry: 1980-01-01T00:00:01Z. */
export const NORMALIZED_MTIME = 315532801;

/** One tar entry; regular files carry the path to read their `size` bytes from. */
export interface TarEntry {
  header: TarHeader;
  /** The file on disk to read the data from (regular files). */
  source?: string;
}

/** Surrogates (characters beyond U+FFFF), where UTF-16 order and UTF-8 byte order part. */
const HIGH = /[\ud800-\udfff]/;

/** Byte-wise comparison of two strings' UTF-8 forms (Go's string order). */
export function compareBytes(a: string, b: string): number {
  // Without surrogates, UTF-16 code units order strings as their UTF-8 bytes do: compare them without encoding.
  if (!HIGH.test(a) && !HIGH.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** `dir/name` for a normalised `dir` and a name read from it: path.join's result, without its work. */
function child(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

/**
 * The header for `diskPath` (lstat'ed unless `st` is given), named `name`, as Go's FileInfoHeader makes it and the
 * normalising writer rewrites it. Returns undefined for sockets, which the reference skips.
 */
export function headerFor(diskPath: string, name: string, st: fs.Stats, owner?: { uid: number; gid: number }): TarEntry | undefined {
  const h: TarHeader = {
    name: bytesOf(name),
    mode: st.mode & 0o7777,
    uid: owner ? owner.uid : st.uid,
    gid: owner ? owner.gid : st.gid,
    size: 0,
    mtime: NORMALIZED_MTIME,
    typeflag: TypeFlag.reg,
  };
  if (st.isSocket()) return undefined;
  if (st.isDirectory()) h.typeflag = TypeFlag.dir;
  else if (st.isSymbolicLink()) {
    h.typeflag = TypeFlag.symlink;
    h.linkname = bytesOf(fs.readlinkSync(diskPath));
  } else if (st.isFIFO()) h.typeflag = TypeFlag.fifo;
  else if (st.isCharacterDevice() || st.isBlockDevice()) {
    h.typeflag = st.isCharacterDevice() ? TypeFlag.char : TypeFlag.block;
    const dev = BigInt(st.rdev);
    h.devmajor = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
    h.devminor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  } else if (st.isFile()) {
    h.size = st.size;
    return { header: h, source: diskPath };
  }
  return { header: h };
}

/** Ownership applied to a layer's contents (the exporter's `-uid`/`-gid`). */
export interface Owner {
  uid: number;
  gid: number;
}

/**
 * Where a layer's directory is on disk and what it is called in the image. They differ when the lifecycle runs
 * outside a container (`-layers ./out/layers` written as `/layers` in the image).
 */
export interface Placement {
  disk: string;
  image: string;
}

/** The ancestors of `image` (without "/"), outermost first, with the disk path each maps to. */
function parents(p: Placement): Placement[] {
  const out: Placement[] = [];
  let img = path.posix.dirname(p.image);
  let disk = path.dirname(p.disk);
  while (img !== "/" && img !== ".") {
    out.unshift({ image: img, disk });
    img = path.posix.dirname(img);
    disk = path.dirname(disk);
  }
  return out;
}

/** Parent directory entries of a placement, stat'ed (following symlinks) with their real owner and mode. */
export function* parentEntries(p: Placement): Generator<TarEntry> {
  for (const par of parents(p)) {
    const e = headerFor(par.disk, par.image, fs.statSync(par.disk));
    if (e) yield e;
  }
}

/**
 * A directory layer (buildpack layer, config layer, SBOM layer): its parents (real owner), then the directory and
 * its tree in walk order (pre-order, children in byte order, symlinks not followed), owned by `owner`.
 *
 * @example dirLayerEntries({ disk: "/layers/bp/l", image: "/layers/bp/l" }, { uid: 1000, gid: 1000 })
 */
export function* dirLayerEntries(p: Placement, owner: Owner): Generator<TarEntry> {
  yield* parentEntries(p);
  yield* walk(p.disk, p.image, owner);
}

function* walk(disk: string, image: string, owner: Owner): Generator<TarEntry> {
  const st = fs.lstatSync(disk);
  const e = headerFor(disk, image, st, owner);
  if (e) yield e;
  if (!st.isDirectory()) return;
  const names = fs.readdirSync(disk).sort(compareBytes);
  const d = path.normalize(disk);
  const i = path.posix.normalize(image);
  for (const n of names) yield* walk(child(d, n), child(i, n), owner);
}

/**
 * The app layer when there are no slices: the app directory's parents (real owner), then every path under it,
 * the directory itself included, sorted by full path byte-wise, owned by `owner`. An empty list is an empty tar.
 */
export function* appLayerEntries(p: Placement, owner: Owner): Generator<TarEntry> {
  const all: { disk: string; image: string }[] = [];
  const collect = (disk: string, image: string) => {
    all.push({ disk, image });
    if (fs.lstatSync(disk).isDirectory()) { for (const n of fs.readdirSync(disk)) collect(path.join(disk, n), path.posix.join(image, n)); }
  };
  collect(p.disk, p.image);
  all.sort((a, b) => compareBytes(a.image, b.image));
  yield* parentEntries(p);
  for (const f of all) {
    const e = headerFor(f.disk, f.image, fs.lstatSync(f.disk), owner);
    if (e) yield e;
  }
}

function dirEntry(name: string, mode = 0o755): TarEntry {
  return { header: { name: bytesOf(name), mode, uid: 0, gid: 0, size: 0, mtime: NORMALIZED_MTIME, typeflag: TypeFlag.dir } };
}

/** Where the launcher lives in every app image. */
export const LAUNCHER_PATH = "/cnb/lifecycle/launcher";

/** The launcher layer: `/cnb`, `/cnb/lifecycle` and the launcher binary (mode 0755, root-owned). */
export function* launcherLayerEntries(launcherFile: string): Generator<TarEntry> {
  yield dirEntry("/cnb");
  yield dirEntry("/cnb/lifecycle");
  const st = fs.statSync(launcherFile);
  yield {
    header: { name: bytesOf(LAUNCHER_PATH), mode: 0o755, uid: 0, gid: 0, size: st.size, mtime: NORMALIZED_MTIME, typeflag: TypeFlag.reg },
    source: launcherFile,
  };
}

/** The process-types layer: `/cnb`, `/cnb/process` and a symlink `/cnb/process/<type>` → the launcher per process. */
export function* processTypesLayerEntries(types: string[]): Generator<TarEntry> {
  for (const t of types) {
    const problem = processTypeProblem(t);
    if (problem) throw new Error(problem);
  }
  yield dirEntry("/cnb");
  yield dirEntry("/cnb/process");
  for (const t of types) {
    yield {
      header: {
        name: bytesOf(`/cnb/process/${t}`),
        linkname: bytesOf(LAUNCHER_PATH),
        mode: 0o755,
        uid: 0,
        gid: 0,
        size: 0,
        mtime: NORMALIZED_MTIME,
        typeflag: TypeFlag.symlink,
      },
    };
  }
}
