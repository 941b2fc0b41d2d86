import { expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { launcherLayer } from "../src/layer/launcher-cache.ts";
import { LayerPool } from "../src/layer/pool.ts";
import { tmpDir } from "./helpers/images.ts";

test("the launcher layer is compressed once per launcher binary and then taken from the cache", async () => {
  const dir = tmpDir("launcher-");
  const launcher = path.join(dir, "launcher");
  fs.writeFileSync(launcher, Buffer.alloc(3 << 20, "launcher binary bytes "), { mode: 0o755 });
  const cache = path.join(dir, "cache");
  const pool = new LayerPool(1);
  const first = await launcherLayer(launcher, cache, pool);
  expect(first.diffID).toMatch(/^sha256:/);
  const ino = fs.statSync(first.blob).ino;
  // A second export (of any image) must not compress again: a pool that refuses work proves it.
  const refusing = { runEntries: () => Promise.reject(new Error("compressed again")) } as unknown as LayerPool;
  const second = await launcherLayer(launcher, cache, refusing);
  expect(second).toEqual(first);
  expect(fs.statSync(second.blob).ino).toBe(ino);
  // A different binary (new content, so a new mtime and size) is compressed anew.
  fs.writeFileSync(launcher, Buffer.alloc((3 << 20) + 1, "a newer launcher "));
  const third = await launcherLayer(launcher, cache, pool);
  expect(third.diffID).not.toBe(first.diffID);
  await pool.close();
});

test("the launcher layer goes through the layer engine with the image's compression, cached apart for each", async () => {
  const dir = tmpDir("launcher-zstd-");
  const launcher = path.join(dir, "launcher");
  fs.writeFileSync(launcher, Buffer.alloc(2 << 20, "launcher binary bytes "), { mode: 0o755 });
  const cache = path.join(dir, "cache");
  const pool = new LayerPool(2);
  try {
    const gzip = await launcherLayer(launcher, cache, pool);
    const zstd = await launcherLayer(launcher, cache, pool, "zstd");
    expect(zstd.diffID).toBe(gzip.diffID);
    expect(zstd.digest).not.toBe(gzip.digest);
    expect([...fs.readFileSync(gzip.blob).subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    expect([...fs.readFileSync(zstd.blob).subarray(0, 4)]).toEqual([0x28, 0xb5, 0x2f, 0xfd]);
    const refusing = { runEntries: () => Promise.reject(new Error("compressed again")), options: {} } as unknown as LayerPool;
    expect(await launcherLayer(launcher, cache, refusing, "zstd")).toEqual(zstd);
    expect(await launcherLayer(launcher, cache, refusing)).toEqual(gzip);
  } finally {
    await pool.close();
  }
});
