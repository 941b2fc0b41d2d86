/** Garbage collection of layouts: `lifecycle gc` and the exporter's `-oci-gc`. */
import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Layout } from "../src/image/layout.ts";
import { gcLayout } from "../src/image/layout-gc.ts";
import { makeBuiltLayers, makeRunImage, tmpDir } from "./helpers/images.ts";
import { run } from "./helpers/run.ts";

const LAYOUTS = fileURLToPath(new URL("../../shared/fixtures/external/layouts/", import.meta.url));

const blobs = (dir: string) => fs.readdirSync(path.join(dir, "blobs", "sha256")).sort();

async function twoBuilds(extraEnv: Record<string, string> = {}, flags: string[] = []) {
  const root = tmpDir("gc-");
  const oci = path.join(root, "oci");
  await makeRunImage(oci, "cnb/run", "v1");
  const b = makeBuiltLayers(root);
  const env = { CNB_USE_OCI: "true", CNB_OCI_PATH: oci, CNB_LAYERS_DIR: b.layers, CNB_APP_DIR: b.app, ...extraEnv };
  for (const content of ["first\n", "second\n"]) {
    fs.writeFileSync(path.join(b.app, "index.txt"), content);
    expect((await run("analyzer", ["-run-image", "cnb/run:v1", "my-app"], env)).code).toBe(0);
    const e = await run("exporter", ["-launcher", b.launcher, ...flags, "my-app"], env);
    expect(e.err).toBe("");
  }
  return { root, oci, app: path.join(oci, "my-app"), env };
}

describe("gc", () => {
  test("removes the blobs of an earlier build that nothing references; the image stays whole", async () => {
    const s = await twoBuilds();
    const before = blobs(s.app);
    // The default minimum age keeps everything this recent.
    const kept = await run("gc", ["-oci-dir", s.oci, "my-app"], {});
    expect(kept.code).toBe(0);
    expect(blobs(s.app)).toEqual(before);
    const r = await run("gc", ["-oci-dir", s.oci, "-min-age", "0s", "my-app"], {});
    expect(r.out).toMatch(/removed 3 unreferenced files/);
    const after = blobs(s.app);
    expect(after.length).toBe(before.length - 3); // the old app layer, config and manifest
    const img = await Layout.open(s.app).image();
    expect(img.isComplete()).toBe(true);
    for (const l of img.layers()) {
      const reader = img.openBlob(l.digest).getReader();
      while (!(await reader.read()).done);
    }
    const v = spawnSync("oci-image-tool", ["validate", "--type", "image", "--ref", "name=latest", s.app], { encoding: "utf8" });
    if (v.error) throw new Error(`oci-image-tool is not installed (CI installs it): ${v.error.message}`);
    expect(v.status).toBe(0);
  });

  test("the exporter's -oci-gc collects after saving", async () => {
    const s = await twoBuilds({ CNB_OCI_GC_MIN_AGE: "0s" }, ["-oci-gc"]);
    const img = await Layout.open(s.app).image();
    const reachable = new Set([img.manifestDigest, img.manifest.config.digest, ...img.layers().map((l) => l.digest)].map((d) => d.slice(7)));
    expect(blobs(s.app).every((b) => reachable.has(b))).toBe(true);
  });

  test("refuses docker save output, whose images index.json does not list", async () => {
    const dir = path.join(tmpDir("gc-fixture-"), "hello");
    fs.cpSync(path.join(LAYOUTS, "ggcr-hello-world-v25"), dir, { recursive: true });
    for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) {
      fs.chmodSync(path.join(dir, f), fs.statSync(path.join(dir, f)).isDirectory() ? 0o755 : 0o644);
    }
    const before = blobs(dir);
    await expect(gcLayout(dir, 0)).rejects.toThrow(/it is docker save output \(manifest.json\)/);
    expect(blobs(dir)).toEqual(before);
  });

  for (const name of ["ggcr-test_index", "imgutil-busybox", "imgutil-my-previous-image"]) {
    test(`keeps every referenced blob of ${name} (odd media types, nested indexes)`, async () => {
      const dir = path.join(tmpDir("gc-fixture-"), name);
      fs.cpSync(path.join(LAYOUTS, name), dir, { recursive: true });
      for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) {
        fs.chmodSync(path.join(dir, f), fs.statSync(path.join(dir, f)).isDirectory() ? 0o755 : 0o644);
      }
      const before = blobs(dir);
      const r = await gcLayout(dir, 0);
      expect(r.removed).toEqual([]);
      expect(blobs(dir)).toEqual(before);
    });
  }
});
