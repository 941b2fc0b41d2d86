/**
 * Every blob the layer engine writes is read back by the common readers, each to the tar whose SHA-256 is the
 * diffID: for gzip, Go's compress/gzip reading one member and nothing after it (the reader of skopeo, umoci and
 * containerd), GNU gzip, pigz, Python's gzip module, and a zlib inflate of one member that must end exactly at the
 * end of the file (one member holds the whole tar); for zstd, the zstd tool. With the default engine, with fflate,
 * on one and two threads, over blocks of every kind (text, random bytes, zeros, an exact multiple of the block).
 * A file that shrinks after it was planned fails the pass, wherever its block is read.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { LayerCompression } from "../src/layer/block-codec.ts";
import type { DeflateEngine } from "../src/layer/deflate-block.ts";
import { tarDiffID } from "../src/layer/pipeline.ts";
import { LayerPool } from "../src/layer/pool.ts";
import { dirLayerEntries, type TarEntry } from "../src/layer/tar-entries.ts";
import { FileChangedError } from "../src/layer/tar-plan.ts";
import { treeFingerprint } from "../src/layer/stat-index.ts";
import { buildGo } from "./helpers/go.ts";
import { tmpDir } from "./helpers/images.ts";

const TMP = tmpDir("layer-readers-");
afterAll(() => fs.rmSync(TMP, { recursive: true, force: true }));
const gunzipOne = buildGo(path.resolve(import.meta.dir, "oracle", "gunzip-one.go"), TMP);
if (!gunzipOne.bin && !gunzipOne.error) console.log("Go not found: the check with Go's compress/gzip is skipped");

let seed = 7;
const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8;
const words = ["export", "function", "layer", "return", "const", "{", "}", ";", "\n", "buildpack", "=", "  "];
const text = (n: number) => {
  let s = "";
  while (s.length < n) s += words[rnd() % words.length] + " ";
  return s.slice(0, n);
};

/** A layer directory with text, random bytes, zeros and many small files: blocks of every kind. */
function layerDir(): string {
  const dir = path.join(TMP, "layer");
  if (fs.existsSync(dir)) return dir;
  fs.mkdirSync(path.join(dir, "small"), { recursive: true });
  fs.writeFileSync(path.join(dir, "text.js"), text(2_500_000));
  fs.writeFileSync(path.join(dir, "random.bin"), new Uint8Array(1_700_000).map(() => rnd() & 0xff));
  fs.writeFileSync(path.join(dir, "zeros"), new Uint8Array(1 << 20));
  for (let i = 0; i < 300; i++) fs.writeFileSync(path.join(dir, "small", `f${i}.txt`), text(rnd() % 5000));
  return dir;
}
const entries = () => dirLayerEntries({ disk: layerDir(), image: "/layers/bp/layer" }, { uid: 1000, gid: 1000 });

function sha256File(file: string): string {
  return `sha256:${createHash("sha256").update(fs.readFileSync(file)).digest("hex")}`;
}

/** The SHA-256 of what a command prints on stdout; throws with its stderr when it fails. */
function shaOfOutput(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { maxBuffer: 1 << 30 });
  if (r.error) throw new Error(`${cmd} is not installed (CI installs it in .ci/run): ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr}`);
  return `sha256:${createHash("sha256").update(r.stdout).digest("hex")}`;
}

/** Python: the gzip module, and a zlib inflate of one gzip member that must end at the end of the file. */
const PY_GZIP = "import gzip,hashlib,sys; print('sha256:' + hashlib.sha256(gzip.open(sys.argv[1]).read()).hexdigest())";
const PY_ONE_MEMBER = [
  "import hashlib,sys,zlib",
  "d = zlib.decompressobj(31)",
  "out = d.decompress(open(sys.argv[1], 'rb').read())",
  "assert d.eof and d.unused_data == b'', 'not one gzip member ending at the end of the file'",
  "print('sha256:' + hashlib.sha256(out).hexdigest())",
].join("\n");

async function write(
  engine: DeflateEngine,
  workers: number,
  compression: LayerCompression,
  blockSize?: number,
  list: Iterable<TarEntry> = entries(),
  out = path.join(TMP, `${engine}-${workers}-${compression}-${blockSize ?? "default"}.blob`),
) {
  fs.rmSync(out, { force: true });
  const pool = new LayerPool(workers, { engine, ...(blockSize ? { blockSize } : {}) });
  try {
    return { out, r: await pool.runEntries(list, out, { compression }) };
  } finally {
    await pool.close();
  }
}

describe("gzip blobs", () => {
  for (const engine of ["zlib", "fflate"] as const) {
    test(`${engine}: Go, gzip, pigz, Python and a one-member zlib inflate all give the tar of the diffID; 1 and 2 threads agree`, async () => {
      const one = await write(engine, 1, "gzip");
      const two = await write(engine, 2, "gzip");
      expect(two.r).toEqual(one.r);
      const { out, r } = two;
      expect(r.diffID).toBe((await tarDiffID(entries())).diffID);
      expect(sha256File(out)).toBe(r.digest);
      if (gunzipOne.error) throw new Error(gunzipOne.error);
      if (gunzipOne.bin) expect(spawnSync(gunzipOne.bin, [out], { encoding: "utf8" }).stdout.trim()).toBe(r.diffID);
      expect(shaOfOutput("gzip", ["-dc", out])).toBe(r.diffID);
      expect(spawnSync("gzip", ["-t", out]).status).toBe(0);
      expect(shaOfOutput("pigz", ["-dc", out])).toBe(r.diffID);
      expect(spawnSync("pigz", ["-t", out]).status).toBe(0);
      expect(spawnSync("python3", ["-c", PY_GZIP, out], { encoding: "utf8" }).stdout.trim()).toBe(r.diffID);
      const py = spawnSync("python3", ["-c", PY_ONE_MEMBER, out], { encoding: "utf8" });
      expect(py.stderr).toBe("");
      expect(py.stdout.trim()).toBe(r.diffID);
    }, 60_000);
  }

  test("a tar that is an exact multiple of the block size ends with a full final block", async () => {
    const { tarSize } = await tarDiffID(entries());
    let blockSize = 512;
    for (let k = 2; k <= 64; k++) if ((tarSize / 512) % k === 0) blockSize = 512 * k;
    const { out, r } = await write("zlib", 2, "gzip", blockSize);
    expect(r.tarSize % blockSize).toBe(0);
    expect(shaOfOutput("gzip", ["-dc", out])).toBe(r.diffID);
    expect(spawnSync("python3", ["-c", PY_ONE_MEMBER, out], { encoding: "utf8" }).stdout.trim()).toBe(r.diffID);
  }, 60_000);
});

describe("zstd blobs", () => {
  test("zstd -t accepts the blob and decodes it to the tar of the diffID; 1 and 2 threads agree", async () => {
    const one = await write("zlib", 1, "zstd");
    const two = await write("zlib", 2, "zstd");
    expect(two.r).toEqual(one.r);
    const { out, r } = two;
    expect([...fs.readFileSync(out).subarray(0, 4)]).toEqual([0x28, 0xb5, 0x2f, 0xfd]);
    expect(r.diffID).toBe((await tarDiffID(entries())).diffID);
    expect(sha256File(out)).toBe(r.digest);
    expect(spawnSync("zstd", ["-t", "-q", out]).status).toBe(0);
    expect(shaOfOutput("zstd", ["-dc", "-q", out])).toBe(r.diffID);
  }, 60_000);
});

describe("a file that shrinks while the layer is written", () => {
  for (const workers of [1, 2]) {
    test(`fails the pass with FileChangedError and leaves no blob (${workers} thread${workers > 1 ? "s" : ""})`, async () => {
      const dir = path.join(TMP, `shrink-${workers}`);
      fs.mkdirSync(dir, { recursive: true });
      const victim = path.join(dir, "b.txt");
      fs.writeFileSync(path.join(dir, "a.txt"), text(100_000));
      fs.writeFileSync(victim, text(300_000));
      // The file is cut short right after its header is planned, before any thread reads its block.
      function* shrinking(): Generator<TarEntry> {
        for (const e of dirLayerEntries({ disk: dir, image: "/layers/bp/shrink" }, { uid: 0, gid: 0 })) {
          yield e;
          if (e.source === victim) fs.truncateSync(victim, 1000);
        }
      }
      const out = path.join(TMP, `shrink-${workers}.blob`);
      const err = await write("zlib", workers, "gzip", 1 << 16, shrinking(), out).catch((e) => e);
      expect(err).toBeInstanceOf(FileChangedError);
      expect((err as FileChangedError).message).toStartWith(`${victim} changed while it was being archived: expected 300000 bytes, read `);
      expect((err as FileChangedError).got).toBeLessThan(300_000);
      expect(fs.existsSync(out)).toBe(false);
    });
  }
});

describe("walks on the pool's threads", () => {
  test("the diffID alone, read on the pool's threads, equals the one-thread diffID", async () => {
    const pool = new LayerPool(2);
    try {
      expect(await pool.diffID(entries())).toEqual(await tarDiffID(entries()));
    } finally {
      await pool.close();
    }
  });

  test("the stat-index fingerprint, walked on a worker, equals the one walked here", async () => {
    const pool = new LayerPool(2);
    const placement = { disk: layerDir(), image: "/layers/bp/layer" };
    const owner = { uid: 1000, gid: 1000 };
    try {
      expect(await pool.fingerprint(placement, owner, "slice 0")).toBe(treeFingerprint(placement, owner, "slice 0"));
      expect(await pool.fingerprint(placement, owner, "slice 0")).not.toBe(treeFingerprint(placement, owner, "slice 1"));
    } finally {
      await pool.close();
    }
  });

  test("a closed pool fails new work and work still queued", async () => {
    const pool = new LayerPool(2);
    const queued = pool.runEntries(entries(), undefined);
    await pool.close();
    await expect(queued).rejects.toThrow(/the layer pool (is|was) closed/);
    await expect(pool.diffID(entries())).rejects.toThrow("the layer pool is closed");
  });
});
