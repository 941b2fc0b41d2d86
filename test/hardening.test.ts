/**
 * Phases that must not fail after succeeding, nor abort where a warning will do (issue 8 §3), and what a user
 * reads (§6): help texts, warnings for flags that do not apply, single warnings, process types checked by the
 * builder.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { Layout } from "../src/image/layout.ts";
import { makeBuiltLayers, makeRunImage, tmpDir } from "./helpers/images.ts";
import { startRegistry, type TestRegistry } from "./helpers/registry.ts";
import { run, tool } from "./helpers/run.ts";
import { FIX, workspace } from "./helpers/workspace.ts";

async function setup() {
  const root = tmpDir("hard-");
  const oci = path.join(root, "oci");
  const v1 = await makeRunImage(oci, "cnb/run", "v1");
  const b = makeBuiltLayers(root);
  const env = { CNB_USE_OCI: "true", CNB_OCI_PATH: oci, CNB_LAYERS_DIR: b.layers, CNB_APP_DIR: b.app };
  const build = async (image = "my-app") => {
    expect((await run("analyzer", ["-run-image", "cnb/run:v1", image], env)).code).toBe(0);
    const e = await run("exporter", ["-launcher", b.launcher, image], env);
    expect(e.err).toBe("");
    expect(e.code).toBe(0);
    return /\*\*\* Digest: (sha256:\w+)/.exec(e.out)?.[1] as string;
  };
  return { root, oci, v1, b, env, build };
}

describe("phases that finish what they start", () => {
  test("the analyzer warns and goes on when the previous image's SBOM layer belongs to another -layers directory", async () => {
    const s = await setup();
    const sbom = path.join(s.b.layers, "sbom", "launch", "test_hello", "hello");
    fs.mkdirSync(sbom, { recursive: true });
    fs.writeFileSync(path.join(sbom, "sbom.cdx.json"), "{}");
    await s.build();
    const other = path.join(s.root, "other-layers");
    fs.mkdirSync(other);
    const r = await run("analyzer", ["-layers", other, "-run-image", "cnb/run:v1", "my-app"], s.env);
    expect(r.code).toBe(0);
    expect(r.err).toContain("the SBOM layer");
    expect(r.err).toContain("was not restored");
    expect(r.err.split("\n").length).toBe(1);
    expect(fs.existsSync(path.join(other, "analyzed.toml"))).toBe(true);
    expect(fs.existsSync(path.join(other, "sbom"))).toBe(false);
  });

  test("the rebaser checks where its report goes before it changes anything (exit 72, index.json untouched)", async () => {
    const s = await setup();
    await s.build();
    const index = path.join(s.oci, "my-app", "index.json");
    const before = fs.readFileSync(index, "utf8");
    const notDir = path.join(s.root, "a-file");
    fs.writeFileSync(notDir, "");
    const r = await run("rebaser", ["-report", path.join(notDir, "report.toml"), "my-app"], s.env);
    expect(r.code).toBe(72);
    expect(r.err).toContain(
      `cannot write the report to ${path.join(notDir, "report.toml")} (-report, CNB_REPORT_PATH): ${notDir} is not a directory; nothing was rebased`,
    );
    expect(fs.readFileSync(index, "utf8")).toBe(before);
  });

  test("rebasing onto the run image the app already has keeps the digest (labels in a fixed order)", async () => {
    const s = await setup();
    const digest = await s.build();
    const r = await run("rebaser", ["my-app"], s.env);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(/\*\*\* Digest: (sha256:\w+)/.exec(r.out)?.[1]).toBe(digest);
    const img = await Layout.open(path.join(s.oci, "my-app")).image({ refName: "latest" });
    const keys = Object.keys(img.config.config?.Labels ?? {});
    expect(keys).toEqual([...keys].sort());
  });

  describe("with a registry", () => {
    let reg: TestRegistry;
    beforeAll(async () => {
      reg = await startRegistry();
    }, 20_000);
    afterAll(() => reg?.stop());

    test("-oci-gc with a registry target warns and exits 0 after the image is saved", async () => {
      const root = tmpDir("gc-reg-");
      const v1 = await makeRunImage(path.join(root, "oci"), "cnb/run", "v1");
      tool("skopeo", ["copy", "--insecure-policy", "--dest-tls-verify=false", `oci:${v1.layout}:v1`, `docker://${reg.host}/cnb/run:v1`]);
      const b = makeBuiltLayers(root);
      // No -insecure-registry: a registry on 127.0.0.1 is spoken to over plain HTTP, as go-containerregistry does.
      const env = { CNB_LAYERS_DIR: b.layers, CNB_APP_DIR: b.app };
      expect((await run("analyzer", ["-run-image", `${reg.host}/cnb/run:v1`, `${reg.host}/app`], env)).code).toBe(0);
      const e = await run("exporter", ["-oci-gc", "-launcher", b.launcher, `${reg.host}/app`], env);
      expect(e.code).toBe(0);
      expect(e.err).toBe("Warning: -oci-gc applies to OCI layouts only; the image went to a registry, so nothing was collected");
      expect(JSON.parse(tool("skopeo", ["inspect", "--tls-verify=false", `docker://${reg.host}/app:latest`])).Digest).toBe(
        /\*\*\* Digest: (sha256:\w+)/.exec(e.out)?.[1],
      );
    });
  });
});

describe("what a user reads", () => {
  for (const phase of ["analyzer", "exporter", "creator"]) {
    test(`${phase} -h describes -publish and -insecure-registry as working`, async () => {
      const r = await run(phase, ["-h"], {});
      expect(r.code).toBe(0);
      const lines = r.out.split("\n");
      for (const flag of ["-publish", "-insecure-registry"]) {
        const i = lines.findIndex((l) => l.trim().startsWith(flag));
        expect(i).toBeGreaterThan(-1);
        expect(lines[i + 1]).not.toContain("not available");
      }
    });
  }

  test("-launch-cache without -daemon is not ignored silently", async () => {
    const s = await setup();
    const a = await run("analyzer", ["-launch-cache", path.join(s.root, "lc"), "-cache-image", "cache:latest", "-run-image", "cnb/run:v1", "my-app"], s.env);
    expect(a.code).toBe(0);
    expect(a.err).toContain("Warning: Ignoring -launch-cache, only intended for use with -daemon");
    const e = await run("exporter", ["-launch-cache", path.join(s.root, "lc"), "-launcher", s.b.launcher, "my-app"], s.env);
    expect(e.code).toBe(0);
    expect(e.err).toBe("Warning: Ignoring -launch-cache, only intended for use with -daemon");
  });

  test("a flag after the positional argument: one 'Warning:' prefix", async () => {
    const s = await setup();
    const r = await run("analyzer", ["-run-image", "cnb/run:v1", "my-app", "-skip-layers"], s.env);
    expect(r.err.split("\n")[0]).toBe('Warning: parsed flag-like argument "-skip-layers" after the positional arguments; flags must come first');
  });

  test("the builder says once that there is no analyzed metadata", async () => {
    const ws = workspace(tmpDir("b-"));
    fs.writeFileSync(path.join(ws.layers, "group.toml"), '[[group]]\nid = "test/hello"\nversion = "0.0.1"\napi = "0.12"\n');
    fs.writeFileSync(path.join(ws.layers, "plan.toml"), "");
    const env = { CNB_LIFECYCLE_ALLOW_ROOT: "true", CNB_PLATFORM_API: "0.15" };
    const r = await run("builder", ["-layers", ws.layers, "-app", ws.app, "-buildpacks", path.join(FIX, "buildpacks"), "-platform", ws.platform], env);
    expect(r.code).toBe(0);
    expect(r.err.split("\n").filter((l) => l.includes("No analyzed metadata")).length).toBe(1);
  });

  test("the builder refuses a process type the exporter could not make a /cnb/process link for (exit 52)", async () => {
    const ws = workspace(tmpDir("b-"));
    const bps = path.join(ws.root, "buildpacks");
    fs.cpSync(path.join(FIX, "buildpacks", "test_hello"), path.join(bps, "test_hello"), { recursive: true });
    const script = path.join(bps, "test_hello", "0.0.1", "bin", "build");
    fs.writeFileSync(script, fs.readFileSync(script, "utf8").replace('type = "worker"', 'type = "../worker"'));
    fs.writeFileSync(path.join(ws.layers, "group.toml"), '[[group]]\nid = "test/hello"\nversion = "0.0.1"\napi = "0.12"\n');
    fs.writeFileSync(path.join(ws.layers, "plan.toml"), "");
    const env = { CNB_LIFECYCLE_ALLOW_ROOT: "true", CNB_PLATFORM_API: "0.15" };
    const r = await run("builder", ["-layers", ws.layers, "-app", ws.app, "-buildpacks", bps, "-platform", ws.platform], env);
    expect(r.code).toBe(52);
    expect(r.err).toContain("invalid process type '../worker': type may not contain characters '/><:|&\\'");
    expect(fs.existsSync(path.join(ws.layers, "config", "metadata.toml"))).toBe(false);
  });
});
