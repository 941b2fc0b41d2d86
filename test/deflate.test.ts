/**
 * The block compressors: every output must inflate back to its input with independent inflaters (zlib through
 * node:zlib, fflate, GNU gzip), blocks must concatenate into one stream, CRCs of blocks must combine into the
 * stream's, and the layer pipeline must give the same bytes whatever the number of threads, with every engine.
 */
import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { spawnSync } from "node:child_process";
import { inflateSync } from "fflate";
import { deflateBlock, type DeflateEngine, incompressible } from "../src/layer/deflate-block.ts";
import { crc32, crc32Combine } from "../src/layer/crc32.ts";
import { tuningFrom } from "../src/cli/tuning.ts";
import { LayerPool } from "../src/layer/pool.ts";
import { entriesOf } from "./helpers/layer-spec.ts";
import { tmpDir } from "./helpers/images.ts";

let seed = 42;
const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8;
const random = (n: number) => new Uint8Array(n).map(() => rnd() & 0xff);
const text = (n: number) => {
  const words = ["const", "function", "return", "value", "layer", "buildpack", "=", "{", "}", ";", "\n", "  "];
  let s = "";
  while (s.length < n) s += words[rnd() % words.length] + (rnd() % 3 ? " " : "");
  return new TextEncoder().encode(s.slice(0, n));
};
const inputs: [string, Uint8Array][] = [
  ["empty", new Uint8Array(0)],
  ["one byte", Uint8Array.of(7)],
  ["three bytes", Uint8Array.of(1, 2, 3)],
  ["zeros 1 MiB (max-length matches)", new Uint8Array(1 << 20)],
  ["text 1 MiB (several Huffman blocks)", text(1 << 20)],
  ["random 200 KiB (stored blocks win)", random(200_000)],
  [
    "mixed",
    (() => {
      const a = new Uint8Array(300_000);
      a.set(text(100_000));
      a.set(random(100_000), 100_000);
      a.set(text(100_000), 200_000);
      return a;
    })(),
  ],
  [
    "repeating period 32768 (longest distance)",
    (() => {
      const r = random(32768);
      const a = new Uint8Array(100_000);
      for (let i = 0; i < a.length; i++) a[i] = r[i % 32768];
      return a;
    })(),
  ],
  [
    "all 256 byte values, skewed (long codes)",
    (() => {
      const a = new Uint8Array(400_000);
      for (let i = 0; i < a.length; i++) {
        const r = rnd();
        a[i] = r % 1000 < 900 ? 65 : r % 256;
      }
      return a;
    })(),
  ],
];

const ENGINES: DeflateEngine[] = ["zlib", "fflate"];

/** Runs, text, noise and repeats mixed at random, up to 300 KB. */
function mixture(): Uint8Array {
  const n = rnd() % 300_000;
  const a = new Uint8Array(n);
  let i = 0;
  while (i < n) {
    const kind = rnd() % 4;
    const len = Math.min(n - i, 1 + (rnd() % 5000));
    if (kind === 0) a.fill(rnd() & 0xff, i, i + len);
    else if (kind === 1) a.set(text(len), i);
    else if (kind === 2) a.set(random(len), i);
    else if (i > 0) { for (let j = 0; j < len; j++) a[i + j] = a[i + j - 1 - ((rnd() % Math.min(i, 40000)) | 0)] ?? 0; }
    i += len;
  }
  return a;
}

describe("deflateBlock", () => {
  for (const engine of ENGINES) {
    test(`${engine}: every input, final and followed by another block, inflates with zlib and fflate`, () => {
      for (const [name, data] of inputs) {
        const fin = deflateBlock(data, true, undefined, engine);
        expect([name, Buffer.compare(zlib.inflateRawSync(fin), Buffer.from(data))]).toEqual([name, 0]);
        expect([name, Buffer.compare(Buffer.from(inflateSync(fin)), Buffer.from(data))]).toEqual([name, 0]);
        // A non-final block (ending with a sync flush) followed by another block is one valid stream.
        const joined = Buffer.concat([deflateBlock(data, false, undefined, engine), deflateBlock(Uint8Array.of(1, 2, 3), true, undefined, engine)]);
        expect([name, Buffer.compare(zlib.inflateRawSync(joined), Buffer.concat([Buffer.from(data), Buffer.from([1, 2, 3])]))]).toEqual([name, 0]);
      }
    });
  }

  test("30 random mixtures of runs, text, noise and repeats, joined two by two, inflate back with every engine", () => {
    for (let k = 0; k < 30; k++) {
      const a = mixture();
      const b = mixture();
      for (const engine of ENGINES) {
        const joined = Buffer.concat([deflateBlock(a, false, undefined, engine), deflateBlock(b, true, undefined, engine)]);
        expect([engine, k, Buffer.compare(zlib.inflateRawSync(joined), Buffer.concat([a, b]))]).toEqual([engine, k, 0]);
      }
    }
  });

  test("zlib's default level compresses text at least as well as fflate level 1", () => {
    const t = text(4 << 20);
    const blocks = [0, 1, 2, 3].map((i) => t.subarray(i << 20, (i + 1) << 20));
    const size = (engine: DeflateEngine) => blocks.reduce((n, b, i) => n + deflateBlock(b, i === 3, undefined, engine).length, 0);
    expect(size("zlib")).toBeLessThanOrEqual(size("fflate"));
  });

  test("CRC-32 of blocks combine into the CRC of the whole", () => {
    const t = text(300_000);
    expect(crc32(0, new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
    for (const cut of [0, 1, 4096, 65_537, t.length - 1, t.length]) {
      const a = t.subarray(0, cut);
      const b = t.subarray(cut);
      expect(crc32Combine(crc32(0, a), crc32(0, b), b.length)).toBe(crc32(0, t));
    }
  });
});

describe("engines in the pipeline", () => {
  test("CNB_LIFECYCLE_DEFLATE selects the engine: zlib by default", () => {
    expect(tuningFrom({}).deflate).toBe("zlib");
    expect(tuningFrom({ CNB_LIFECYCLE_DEFLATE: "fflate" }).deflate).toBe("fflate");
    expect(() => tuningFrom({ CNB_LIFECYCLE_DEFLATE: "fast" })).toThrow(/CNB_LIFECYCLE_DEFLATE must be "zlib" or "fflate", got "fast"/);
    expect(() => tuningFrom({ CNB_LIFECYCLE_DEFLATE: "libdeflate" })).toThrow(/must be "zlib" or "fflate", got "libdeflate"/);
  });

  test("incompressible blocks are stored by every engine", () => {
    const r = random(1 << 20);
    expect(incompressible(r)).toBe(true);
    expect(incompressible(text(1 << 20))).toBe(false);
    for (const engine of ENGINES) expect(deflateBlock(r, true, undefined, engine)).toEqual(deflateBlock(r, true, 1, "fflate"));
  });

  for (const engine of ENGINES) {
    test(`${engine}: a layer gives the same blob on 1 and 2 threads, and gzip accepts it`, async () => {
      const dir = tmpDir("engine-");
      fs.mkdirSync(path.join(dir, "src"));
      fs.writeFileSync(path.join(dir, "src", "a.txt"), text(3 << 20));
      fs.writeFileSync(path.join(dir, "src", "b.bin"), random(2 << 20));
      const spec = { kind: "dir" as const, placement: { disk: path.join(dir, "src"), image: "/layers/bp/l" }, owner: { uid: 0, gid: 0 } };
      const blobs: string[] = [];
      const digests: string[] = [];
      for (const workers of [1, 2]) {
        const pool = new LayerPool(workers, { engine });
        const out = path.join(dir, `layer-${workers}.tar.gz`);
        digests.push((await pool.runEntries(entriesOf(spec), out)).digest);
        await pool.close();
        blobs.push(out);
      }
      expect(digests[0]).toBe(digests[1]);
      const t = spawnSync("gzip", ["-t", blobs[0]]);
      expect(t.status).toBe(0);
    });
  }
});
