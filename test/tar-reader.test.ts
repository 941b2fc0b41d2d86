import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { gzipSync } from "fflate";
import { bytesOf, type TarHeader, TypeFlag } from "../src/layer/tar-header.ts";
import { dirLayerEntries, type TarEntry } from "../src/layer/tar-entries.ts";
import { writeTar } from "../src/layer/tar-writer.ts";
import { extractTar, fileChunks, readTar, TarError } from "../src/layer/tar-reader.ts";

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "tarread-"));
}

function tarOf(entries: Iterable<TarEntry>): Uint8Array {
  const parts: Uint8Array[] = [];
  writeTar(entries, (c) => parts.push(c.slice()));
  return Buffer.concat(parts);
}

function entry(name: string, typeflag: number, extra: Partial<TarHeader> = {}, data?: string): TarEntry {
  const h: TarHeader = { name: bytesOf(name), mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0, typeflag, ...extra };
  if (data === undefined) return { header: h };
  const dir = tmp();
  fs.writeFileSync(path.join(dir, "d"), data);
  return { header: { ...h, size: Buffer.byteLength(data) }, source: path.join(dir, "d") };
}

describe("extractTar", () => {
  test("round trip of a layer written by the layer writer, into a mapped root", async () => {
    const src = tmp();
    const layer = path.join(src, "layers", "bp", "cache-layer");
    fs.mkdirSync(path.join(layer, "sub", "empty"), { recursive: true });
    fs.writeFileSync(path.join(layer, "sub", "f.txt"), "hello\n");
    fs.writeFileSync(path.join(layer, "x.sh"), "#!/bin/sh\n", { mode: 0o755 });
    fs.chmodSync(path.join(layer, "x.sh"), 0o755);
    fs.symlinkSync("sub/f.txt", path.join(layer, "link"));
    const tar = tarOf(dirLayerEntries({ disk: layer, image: "/layers/bp/cache-layer" }, { uid: 0, gid: 0 }));
    const dest = tmp();
    const stats = await extractTar([tar], [{ image: "/layers", disk: dest }]);
    expect(stats).toMatchObject({ files: 2, symlinks: 1 });
    expect(fs.readFileSync(path.join(dest, "bp/cache-layer/sub/f.txt"), "utf8")).toBe("hello\n");
    expect(fs.statSync(path.join(dest, "bp/cache-layer/x.sh")).mode & 0o777).toBe(0o755);
    expect(fs.readlinkSync(path.join(dest, "bp/cache-layer/link"))).toBe("sub/f.txt");
    expect(fs.statSync(path.join(dest, "bp/cache-layer/sub/empty")).isDirectory()).toBe(true);
  });

  test("gzip input is detected", async () => {
    const tar = tarOf([entry("/layers/a", TypeFlag.dir, { mode: 0o755 }), entry("/layers/a/f", TypeFlag.reg, {}, "data")]);
    const dest = tmp();
    await extractTar([gzipSync(tar)], [{ image: "/layers", disk: dest }]);
    expect(fs.readFileSync(path.join(dest, "a/f"), "utf8")).toBe("data");
  });

  // Each case gets a directory outside the extraction root that a symlink may point to: nothing may reach it.
  const refused: [string, (outside: string) => TarEntry[], RegExp][] = [
    [
      "a '..' component",
      () => [entry("/layers/../etc/passwd", TypeFlag.reg, {}, "x")],
      /refusing tar entry "\/layers\/\.\.\/etc\/passwd": it contains a "\.\." component/,
    ],
    ["a relative '..' name", () => [entry("../../escape", TypeFlag.reg, {}, "x")], /refusing tar entry "\.\.\/\.\.\/escape"/],
    [
      "an absolute name outside the roots",
      () => [entry("/etc/cron.d/evil", TypeFlag.reg, {}, "x")],
      /refusing tar entry "\/etc\/cron.d\/evil": it is outside \/layers/,
    ],
    [
      "writing through a symlink it just created",
      (outside) => [entry("/layers/bp/link", TypeFlag.symlink, { linkname: bytesOf(outside) }), entry("/layers/bp/link/owned", TypeFlag.reg, {}, "x")],
      /refusing tar entry "\/layers\/bp\/link\/owned": it would be written through the symlink .*bp\/link/,
    ],
    [
      "overwriting a symlink it just created",
      (outside) => [entry("/layers/bp/f", TypeFlag.symlink, { linkname: bytesOf(path.join(outside, "target")) }), entry("/layers/bp/f", TypeFlag.reg, {}, "x")],
      /refusing to write \/layers\/bp\/f through the symlink/,
    ],
    [
      "a hard link",
      (outside) => [entry("/layers/h", TypeFlag.link, { linkname: bytesOf(path.join(outside, "target")) })],
      /unsupported entry \/layers\/h in tar: type '1'/,
    ],
    ["a FIFO", () => [entry("/layers/p", TypeFlag.fifo)], /unsupported entry \/layers\/p in tar: type '6'/],
  ];
  /** The regular files and FIFOs under `dir` (symlinks not followed). */
  const written = (dir: string): string[] =>
    fs.readdirSync(dir).flatMap((n) => {
      const p = path.join(dir, n);
      const st = fs.lstatSync(p);
      return st.isDirectory() ? written(p) : st.isSymbolicLink() ? [] : [p];
    });
  for (const [what, entries, re] of refused) {
    test(`refuses ${what}, naming the entry; nothing is written inside the target or through it`, async () => {
      const dest = tmp();
      const outside = tmp();
      fs.writeFileSync(path.join(outside, "target"), "untouched");
      let err: unknown;
      try {
        await extractTar([tarOf(entries(outside))], [{ image: "/layers", disk: dest }]);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TarError);
      expect((err as Error).message).toMatch(re);
      expect(written(dest)).toEqual([]);
      expect(fs.readdirSync(outside)).toEqual(["target"]);
      expect(fs.readFileSync(path.join(outside, "target"), "utf8")).toBe("untouched");
    });
  }

  test("a truncated tar is an error", async () => {
    const tar = tarOf([entry("/layers/f", TypeFlag.reg, {}, "x".repeat(2000))]);
    await expect(extractTar([tar.subarray(0, 1024)], [{ image: "/layers", disk: tmp() }])).rejects.toThrow(/truncated tar/);
  });

  test("a corrupted header is an error", async () => {
    const tar = tarOf([entry("/layers/f", TypeFlag.reg, {}, "x")]);
    tar[10] ^= 0xff;
    await expect(extractTar([tar], [{ image: "/layers", disk: tmp() }])).rejects.toThrow(/checksum mismatch/);
  });
});

describe("readTar", () => {
  test("PAX paths, long names and GNU tar output are read", async () => {
    const src = tmp();
    const long = "d".repeat(120) + "/" + "é".repeat(60);
    fs.mkdirSync(path.join(src, "d".repeat(120)), { recursive: true });
    fs.writeFileSync(path.join(src, long), "x");
    const tarFile = path.join(tmp(), "gnu.tar");
    const r = Bun.spawnSync(["tar", "-C", src, "-cf", tarFile, "."]);
    expect(r.exitCode).toBe(0);
    const names: string[] = [];
    await readTar(fileChunks(tarFile), (h) => void names.push(h.name));
    expect(names).toContain(`./${long}`);
    const ours: string[] = [];
    await readTar([tarOf(dirLayerEntries({ disk: src, image: "/w" }, { uid: 0, gid: 0 }))], (h) => void ours.push(h.name));
    expect(ours).toContain(`/w/${long}`);
  });
});
