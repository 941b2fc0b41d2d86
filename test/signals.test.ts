/**
 * Leftovers and signals (issue 8 §4): an exporter stopped by SIGTERM or SIGINT removes its own temporary files and
 * exits 143 or 130; after a SIGKILL, the next writer of the layout removes the dead writer's temporary files, but
 * never those of a writer still running or of another PID namespace. The compiled binary runs as its own process.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { processNamespace } from "../src/fsutil/atomic.ts";
import { makeBuiltLayers, makeRunImage, tmpDir } from "./helpers/images.ts";
import { compiledLifecycle, run } from "./helpers/run.ts";

/** A layout with a run image and a layers directory whose launch layer takes a few seconds to compress. */
async function setup() {
  const root = tmpDir("signals-");
  const oci = path.join(root, "oci");
  await makeRunImage(oci, "cnb/run", "bionic");
  const b = makeBuiltLayers(root);
  // 96 MB of hex text (compressible about 2:1): long enough to stop mid-layer.
  const big = path.join(b.layers, "test_hello", "hello", "big.txt");
  const fd = fs.openSync(big, "w");
  for (let i = 0; i < 48; i++) fs.writeSync(fd, randomBytes(1 << 20).toString("hex"));
  fs.closeSync(fd);
  const env = {
    CNB_USE_OCI: "true",
    CNB_OCI_PATH: oci,
    CNB_LAYERS_DIR: b.layers,
    CNB_APP_DIR: b.app,
    CNB_LIFECYCLE_WORKERS: "1",
    CNB_LIFECYCLE_DEFLATE: "fflate",
  };
  const analyzed = await run("analyzer", ["-run-image", "cnb/run:bionic", "my-app"], env);
  expect(analyzed.code).toBe(0);
  return { root, oci, b, env, blobs: path.join(oci, "my-app", "blobs", "sha256"), app: path.join(oci, "my-app") };
}

/** Temporary files in a directory. */
function temps(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.startsWith(".tmp-")) : [];
}

/** Starts an export and resolves once it is writing a temporary blob into `blobs`. */
async function exportUntilWriting(s: Awaited<ReturnType<typeof setup>>): Promise<ChildProcess> {
  const child = spawn(compiledLifecycle(), ["exporter", "-launcher", s.b.launcher, "my-app"], {
    env: { PATH: process.env.PATH, ...s.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const deadline = Date.now() + 30_000;
  // A large temporary blob: the big layer being written (a hardlinked run-image blob is a temporary name too, briefly).
  const writing = () =>
    temps(s.blobs).some((n) => {
      try {
        return fs.statSync(path.join(s.blobs, n)).size > 1 << 20;
      } catch {
        return false;
      }
    });
  while (!writing()) {
    if (child.exitCode !== null) throw new Error(`the exporter finished (exit ${child.exitCode}) before a temporary blob was seen`);
    if (Date.now() > deadline) throw new Error("no temporary blob appeared within 30 s");
    await new Promise((r) => setTimeout(r, 5));
  }
  return child;
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; err: string }> {
  let err = "";
  child.stderr?.on("data", (d) => (err += d));
  return new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal, err })));
}

let bin: string;
beforeAll(() => {
  bin = compiledLifecycle();
}, 60_000);

describe("signals and leftovers", () => {
  for (const [sig, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
    test(`${sig} mid-export: exit ${code}, no temporary file left, index.json untouched`, async () => {
      expect(bin).toBeTruthy();
      const s = await setup();
      const child = await exportUntilWriting(s);
      const index = fs.readFileSync(path.join(s.app, "index.json"), "utf8");
      const done = exited(child);
      child.kill(sig);
      const r = await done;
      expect(r.code).toBe(code);
      expect(r.err).toContain(`stopped by ${sig}`);
      expect(temps(s.blobs)).toEqual([]);
      expect(temps(s.app)).toEqual([]);
      expect(fs.readFileSync(path.join(s.app, "index.json"), "utf8")).toBe(index);
    }, 60_000);
  }

  test("after SIGKILL the next writer removes the dead writer's temporary files, and only those", async () => {
    const s = await setup();
    const child = await exportUntilWriting(s);
    const done = exited(child);
    child.kill("SIGKILL");
    await done;
    const dead = temps(s.blobs);
    expect(dead.length).toBeGreaterThan(0);
    // Temporary files of a writer still running (a sleep stands in for it) and of another namespace stay.
    const sleeper = spawn("sleep", ["60"]);
    const running = `.tmp-${processNamespace()}.${sleeper.pid}.abcdef-blob`;
    const foreign = `.tmp-000000000000.${child.pid}.abcdef-blob`;
    for (const n of [running, foreign]) fs.writeFileSync(path.join(s.blobs, n), "in progress");
    try {
      const e = await run("exporter", ["-launcher", s.b.launcher, "my-app"], { ...s.env, CNB_LIFECYCLE_WORKERS: "2" });
      expect(e.code).toBe(0);
      expect(temps(s.blobs).sort()).toEqual([foreign, running].sort());
    } finally {
      sleeper.kill();
    }
    // And the layout is whole: skopeo-style readers see the new image.
    expect(spawnSync(bin, ["inspect", "-oci-dir", s.oci, "my-app"], { encoding: "utf8" }).status).toBe(0);
  }, 90_000);
});
