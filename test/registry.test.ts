/**
 * The same phases against a real registry (docker-registry on 127.0.0.1): the run image pushed there with skopeo,
 * the app image exported there, read back by skopeo and umoci, rebuilt with reuse.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { Layout } from "../src/image/layout.ts";
import { readToml } from "../src/platform/toml.ts";
import type { AnalyzedFile } from "../src/platform/files.ts";
import { makeBuiltLayers, makeRunImage, tmpDir } from "./helpers/images.ts";
import { startRegistry, type TestRegistry } from "./helpers/registry.ts";
import { run, tool } from "./helpers/run.ts";

let reg: TestRegistry;
beforeAll(async () => {
  reg = await startRegistry();
}, 20_000);
afterAll(() => reg?.stop());

describe("registry", () => {
  test("analyze and export to a registry, read back by skopeo and umoci; a rebuild reuses and reproduces", async () => {
    const root = tmpDir("reg-");
    const run1 = await makeRunImage(path.join(root, "oci"), "cnb/run", "v1");
    tool("skopeo", ["copy", "--insecure-policy", "--dest-tls-verify=false", `oci:${run1.layout}:v1`, `docker://${reg.host}/cnb/run:v1`]);
    const b = makeBuiltLayers(root);
    const env = { CNB_LAYERS_DIR: b.layers, CNB_APP_DIR: b.app, CNB_INSECURE_REGISTRIES: reg.host };
    const app = `${reg.host}/my-app`;

    const missing = await run("analyzer", ["-run-image", `${reg.host}/cnb/nothing:v1`, app], env);
    expect(missing.err).toBe(`ERROR: the run-image could not be found at path: ${reg.host}/cnb/nothing:v1`);

    const a = await run("analyzer", ["-run-image", `${reg.host}/cnb/run:v1`, app], env);
    expect(a.err).toBe("");
    const analyzed = readToml<AnalyzedFile>(path.join(b.layers, "analyzed.toml"));
    expect(analyzed["run-image"]?.reference).toBe(`${reg.host}/cnb/run@${run1.manifestDigest}`);
    expect(analyzed.image?.reference).toBe("");

    const e = await run("exporter", ["-launcher", b.launcher, app, `${app}:v2`], env);
    expect(e.err).toBe("");
    expect(e.code).toBe(0);
    const digest = /\*\*\* Digest: (sha256:\w+)/.exec(e.out)?.[1];
    const report = readToml<{ image: { digest: string; tags: string[] } }>(path.join(b.layers, "report.toml"));
    expect(report.image).toMatchObject({ digest, tags: [app, `${app}:v2`] });
    for (const tag of ["latest", "v2"]) {
      const inspect = JSON.parse(tool("skopeo", ["inspect", "--tls-verify=false", `docker://${app}:${tag}`]));
      expect(inspect.Digest).toBe(digest);
    }
    // Copied back into a layout, the image verifies and unpacks with the run image's files and the app's.
    const copy = path.join(root, "copy");
    tool("skopeo", ["copy", "--insecure-policy", "--src-tls-verify=false", `docker://${app}:latest`, `oci:${copy}:latest`]);
    const img = await Layout.open(copy).image();
    for (const l of img.layers()) {
      const r = img.openBlob(l.digest).getReader();
      while (!(await r.read()).done);
    }
    const bundle = path.join(root, "bundle");
    tool("umoci", ["unpack", "--image", `${copy}:latest`, bundle]);
    expect(fs.existsSync(path.join(bundle, "rootfs/etc/part0/content.txt"))).toBe(true);
    expect(fs.readFileSync(path.join(bundle, "rootfs", b.layers.slice(1), "test_hello/hello/bin/hello"), "utf8")).toContain("hello");

    // A rebuild: the previous image is read from the registry and every layer is reused.
    const a2 = await run("analyzer", ["-run-image", `${reg.host}/cnb/run:v1`, app], env);
    expect(a2.err).toBe("");
    expect(readToml<AnalyzedFile>(path.join(b.layers, "analyzed.toml")).image?.reference).toBe(`${reg.host}/my-app@${digest}`);
    const e2 = await run("exporter", ["-launcher", b.launcher, app], env);
    expect(e2.out).toContain("Reusing layer 'test/hello:hello'");
    expect(e2.out).toContain("Reusing 1/1 app layer(s)");
    expect(e2.out).toContain(`*** Digest: ${digest}`);
  }, 60_000);

  test("a run image in another registry: its blobs are streamed through and verified", async () => {
    const other = await startRegistry();
    try {
      const root = tmpDir("reg3-");
      const run1 = await makeRunImage(path.join(root, "oci"), "cnb/run", "v1");
      tool("skopeo", ["copy", "--insecure-policy", "--dest-tls-verify=false", `oci:${run1.layout}:v1`, `docker://${other.host}/cnb/run:v1`]);
      const b = makeBuiltLayers(root);
      const env = { CNB_LAYERS_DIR: b.layers, CNB_APP_DIR: b.app, CNB_INSECURE_REGISTRIES: `${reg.host},${other.host}` };
      const app = `${reg.host}/cross`;
      expect((await run("analyzer", ["-run-image", `${other.host}/cnb/run:v1`, app], env)).err).toBe("");
      const e = await run("exporter", ["-launcher", b.launcher, app], env);
      expect(e.err).toBe("");
      const copy = path.join(root, "copy");
      tool("skopeo", ["copy", "--insecure-policy", "--src-tls-verify=false", `docker://${app}:latest`, `oci:${copy}:latest`]);
      const img = await Layout.open(copy).image();
      expect(img.layers().slice(0, 3).map((l) => l.digest)).toEqual(run1.layers.map((l) => l.digest));
    } finally {
      other.stop();
    }
  }, 60_000);

  test("-oci with -publish is still refused; tags in another repository are refused", async () => {
    const root = tmpDir("reg2-");
    const b = makeBuiltLayers(root);
    const env = { CNB_LAYERS_DIR: b.layers, CNB_APP_DIR: b.app, CNB_INSECURE_REGISTRIES: reg.host };
    const r = await run("exporter", ["-oci", "-publish", "-launcher", b.launcher, "x"], env);
    expect(r.err).toBe("ERROR: exporting to multiples target is not allowed");
    const run1 = await makeRunImage(path.join(root, "oci"), "cnb/run", "v1");
    tool("skopeo", ["copy", "--insecure-policy", "--dest-tls-verify=false", `oci:${run1.layout}:v1`, `docker://${reg.host}/cnb/run2:v1`]);
    expect((await run("analyzer", ["-run-image", `${reg.host}/cnb/run2:v1`, `${reg.host}/a`], env)).code).toBe(0);
    const t = await run("exporter", ["-launcher", b.launcher, `${reg.host}/a`, `${reg.host}/b:t`], env);
    expect(t.code).toBe(62);
    expect(t.err).toContain("all tags must be in one repository");
  }, 30_000);
});
