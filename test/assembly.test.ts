/**
 * The exporter's Assembly works on several layers at once and commits them in the order they were asked for: a
 * later step may finish first, but the layers and the log lines come out in order; at most `passes` steps work at
 * once; a failed step fails in its turn while the others finish, and `settled()` waits for all of them.
 */
import { afterAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { LayoutStore } from "../src/image/layout-store.ts";
import { LayerPool } from "../src/layer/pool.ts";
import { dirLayerEntries } from "../src/layer/tar-entries.ts";
import { Assembly } from "../src/phase/export/assembly.ts";
import { tmpDir } from "./helpers/images.ts";
import { capture } from "./helpers/workspace.ts";

const TMP = tmpDir("assembly-");
afterAll(() => fs.rmSync(TMP, { recursive: true, force: true }));

function assembly(passes: number, pool = new LayerPool(1)) {
  const c = capture();
  const store = new LayoutStore({ dir: path.join(TMP, `oci-${Math.random().toString(36).slice(2)}`), form: "rfc" });
  return { asm: new Assembly(store.sink(["app"], c.log), "oci", undefined, pool, c.log, undefined, passes), out: c.out, pool };
}

/** Rejects when `p` has not settled within `ms`: a step that waits for a later one must not hang the test. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(what)), ms))]);
}

const layer = (n: number) => ({ descriptor: { mediaType: "x", digest: `sha256:${n}`, size: n }, diffID: `sha256:${n}`, createdBy: `${n}` });

describe("steps", () => {
  test("a later step runs while an earlier one works, and the commits keep the order asked for", async () => {
    const { asm, out } = assembly(2);
    let release!: () => void;
    const secondDone = new Promise<void>((r) => (release = r));
    // The first step can only finish after the second has: they must run together.
    const first = asm.step(async () => {
      await secondDone;
      return { value: "first", layer: layer(1), line: "first" };
    });
    const second = asm.step(() => {
      release();
      return Promise.resolve({ value: "second", layer: layer(2), line: "second" });
    });
    expect(await within(Promise.all([first, second]), 2000, "the steps did not run together")).toEqual(["first", "second"]);
    expect(out).toEqual(["first", "second"]);
    expect(asm.layers.map((l) => l.diffID)).toEqual(["sha256:1", "sha256:2"]);
  });

  test("at most `passes` steps work at once", async () => {
    const { asm } = assembly(2);
    let running = 0;
    let most = 0;
    const work = async () => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 20));
      running--;
      return { value: 0 };
    };
    await Promise.all([1, 2, 3, 4, 5].map(() => asm.step(work)));
    expect(most).toBe(2);
  });

  test("a failed step fails in its turn; the later ones still finish and settled() waits for them", async () => {
    const { asm, out } = assembly(2);
    let laterFinished = false;
    const failing = asm.step(() => Promise.reject(new Error("broken layer")));
    const later = asm.step(async () => {
      await new Promise((r) => setTimeout(r, 50));
      laterFinished = true;
      return { value: 1, line: "later" };
    });
    await expect(failing).rejects.toThrow("broken layer");
    await asm.settled();
    expect(laterFinished).toBe(true);
    expect(await later).toBe(1);
    expect(out).toEqual(["later"]);
  });

  test("a note is logged after the steps before it, and can read their results", async () => {
    const { asm, out } = assembly(2);
    const a = asm.step(async () => {
      await new Promise((r) => setTimeout(r, 30));
      return { value: 3, line: "a" };
    });
    const note = asm.note(async () => `a gave ${await a}`);
    const b = asm.step(() => Promise.resolve({ value: 4, line: "b" }));
    await Promise.all([a, note, b]);
    expect(out).toEqual(["a", "a gave 3", "b"]);
  });
});

describe("real layers", () => {
  test("a large layer and a small one compressed together keep their order in the image and the log", async () => {
    const big = path.join(TMP, "big");
    const small = path.join(TMP, "small");
    fs.mkdirSync(big);
    fs.mkdirSync(small);
    fs.writeFileSync(path.join(big, "data"), Buffer.alloc(6 << 20, "a large layer's bytes, compressible "));
    fs.writeFileSync(path.join(small, "data"), "small");
    const { asm, out, pool } = assembly(2, new LayerPool(2));
    try {
      const owner = { uid: 0, gid: 0 };
      const a = asm.addOrReuse("bp:big", () => dirLayerEntries({ disk: big, image: "/layers/bp/big" }, owner), undefined, "big");
      const b = asm.addOrReuse("bp:small", () => dirLayerEntries({ disk: small, image: "/layers/bp/small" }, owner), undefined, "small");
      const [ra, rb] = await Promise.all([a, b]);
      expect(out).toEqual(["Adding layer 'bp:big'", "Adding layer 'bp:small'"]);
      expect(asm.layers.map((l) => l.diffID)).toEqual([ra.diffID, rb.diffID]);
      expect(asm.layers.map((l) => l.createdBy)).toEqual(["big", "small"]);
    } finally {
      await pool.close();
    }
  });
});
