/**
 * Platform API 0.7–0.11 beside 0.12+ (issue 11): one check per behaviour that differs by version — flags,
 * stack.toml, analyzed.toml, the lifecycle label, history and SOURCE_DATE_EPOCH, metadata.toml's command, the
 * legacy BOM in the label and report.toml, SBOM handling, the creator's -skip-restore, the restorer's cached launch
 * layers, the rebaser's stack check. Images live in docker-registry on 127.0.0.1 (layouts need 0.12).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "smol-toml";
import { PLATFORM_APIS } from "../src/ground/version.ts";
import { makeBuiltLayers, makeRunImage, tmpDir } from "./helpers/images.ts";
import { startRegistry, type TestRegistry } from "./helpers/registry.ts";
import { run, tool } from "./helpers/run.ts";
import { FIX, workspace } from "./helpers/workspace.ts";

let reg: TestRegistry;
let RUN: string;
beforeAll(async () => {
  reg = await startRegistry();
  const root = tmpDir("papi-run-");
  for (const [tag, stack] of [["v1", "io.buildpacks.stacks.test"], ["other", "io.buildpacks.stacks.other"]]) {
    const info = await makeRunImage(path.join(root, tag), "cnb/run", tag, {
      seed: tag,
      labels: { "io.buildpacks.stack.id": stack, "io.buildpacks.stack.mixins": '["run:curl"]' },
    });
    tool("skopeo", ["copy", "--insecure-policy", "--dest-tls-verify=false", `oci:${info.layout}:${tag}`, `docker://${reg.host}/run:${tag}`]);
  }
  RUN = `${reg.host}/run:v1`;
}, 60_000);
afterAll(() => reg?.stop());

// deno-lint-ignore no-explicit-any -- parsed TOML of any shape, checked field by field
const toml = (f: string) => parse(fs.readFileSync(f, "utf8")) as Record<string, any>;
const inspect = (ref: string) => JSON.parse(tool("skopeo", ["inspect", "--tls-verify=false", `docker://${ref}`]));
const config = (ref: string) => JSON.parse(tool("skopeo", ["inspect", "--tls-verify=false", "--config", `docker://${ref}`]));

/** Built layers and the analyzer/exporter at a Platform API, with stack.toml naming the run image. */
function setup(api: string, name: string, extraEnv: Record<string, string> = {}) {
  const root = tmpDir(`papi-${api}-`);
  const b = makeBuiltLayers(root);
  const stack = path.join(root, "stack.toml");
  fs.writeFileSync(stack, `[run-image]\nimage = "${RUN}"\nmirrors = ["${reg.host}/mirror/run:v1"]\n`);
  const env = {
    CNB_LAYERS_DIR: b.layers,
    CNB_APP_DIR: b.app,
    CNB_PLATFORM_API: api,
    CNB_STACK_PATH: stack,
    CNB_RUN_PATH: path.join(root, "none.toml"),
    ...extraEnv,
  };
  const app = `${reg.host}/${name}:latest`;
  return {
    root,
    b,
    env,
    app,
    stack,
    analyze: (args: string[] = []) => run("analyzer", [...args, app], env),
    exp: (args: string[] = [], e: Record<string, string> = {}) => run("exporter", ["-launcher", b.launcher, ...args, app], { ...env, ...e }),
  };
}

describe("Platform API 0.7 to 0.11", () => {
  test("lifecycle.toml's list: 0.7 to 0.15", () => {
    expect(PLATFORM_APIS).toEqual(["0.7", "0.8", "0.9", "0.10", "0.11", "0.12", "0.13", "0.14", "0.15"]);
  });

  test("flags exist per version: one of another version is not defined (exit 2); its env variable still works", async () => {
    const s = setup("0.8", "flags");
    const r = await run("analyzer", ["-skip-layers", "-run-image", RUN, s.app], s.env);
    expect(r.code).toBe(2);
    expect(r.errLines[0]).toBe("flag provided but not defined: -skip-layers");
    expect((await run("analyzer", ["-run-image", RUN, s.app], { ...s.env, CNB_SKIP_LAYERS: "true" })).code).toBe(0);
    expect((await run("analyzer", ["-skip-layers", "-run-image", RUN, s.app], { ...s.env, CNB_PLATFORM_API: "0.9" })).code).toBe(0);
    expect((await run("analyzer", ["-stack", s.stack, s.app], { ...s.env, CNB_PLATFORM_API: "0.12" })).errLines[0]).toBe(
      "flag provided but not defined: -stack",
    );
    expect((await run("rebaser", ["-previous-image", s.app, s.app], { ...s.env, CNB_PLATFORM_API: "0.10" })).code).toBe(2);
    expect((await run("exporter", ["-insecure-registry", reg.host, s.app], { ...s.env, CNB_PLATFORM_API: "0.12" })).code).toBe(2);
    const help = await run("analyzer", ["-h"], s.env);
    expect(help.out).not.toMatch(/^ {2}-layout\b/m);
    expect(help.out).toMatch(/^ {2}-stack value$/m);
  });

  test("OCI layouts need 0.12: -layout is not defined before, CNB_USE_LAYOUT is refused with a clear error", async () => {
    const s = setup("0.11", "layout");
    expect((await run("analyzer", ["-layout", "-run-image", RUN, s.app], s.env)).code).toBe(2);
    const r = await run("analyzer", ["-run-image", RUN, s.app], { ...s.env, CNB_USE_LAYOUT: "true" });
    expect(r.code).toBe(3);
    expect(r.err).toBe("ERROR: OCI layouts (CNB_USE_OCI, CNB_USE_LAYOUT) need Platform API 0.12 or later; CNB_PLATFORM_API is 0.11");
  });

  test("stack.toml gives the run image before 0.12: the first readable of image and mirrors; none is exit 3", async () => {
    const s = setup("0.9", "stack");
    fs.writeFileSync(s.stack, `[run-image]\nimage = "127.0.0.1:1/run:v1"\nmirrors = ["${reg.host}/run:missing", "${RUN}"]\n`);
    expect((await s.analyze()).code).toBe(0);
    const analyzed = toml(path.join(s.b.layers, "analyzed.toml"));
    expect(analyzed["run-image"].reference).toStartWith(`${reg.host}/run@sha256:`);
    fs.rmSync(s.stack);
    const none = await s.analyze();
    expect(none.code).toBe(3);
    expect(none.err).toContain("missing run image metadata (-run-image)");
  });

  test("analyzed.toml before 0.12 has the run image's reference only (no name, no target)", async () => {
    const s = setup("0.11", "analyzed");
    expect((await s.analyze(["-run-image", RUN])).code).toBe(0);
    expect(Object.keys(toml(path.join(s.b.layers, "analyzed.toml"))["run-image"])).toEqual(["reference"]);
    expect((await run("analyzer", ["-run-image", RUN, s.app], { ...s.env, CNB_PLATFORM_API: "0.12" })).code).toBe(0);
    expect(Object.keys(toml(path.join(s.b.layers, "analyzed.toml"))["run-image"]).sort()).toEqual(["image", "reference", "target"]);
  });

  test("the label before 0.12: runImage is topLayer and reference, stack is stack.toml's [run-image]; history without created_by; -run-image refused, CNB_RUN_IMAGE ignored", async () => {
    const s = setup("0.9", "label");
    expect((await s.analyze()).code).toBe(0);
    expect((await s.exp(["-run-image", RUN])).code).toBe(3);
    const e = await s.exp([], { CNB_RUN_IMAGE: `${reg.host}/run:other` });
    expect(e.err).toBe("");
    expect(e.code).toBe(0);
    const md = JSON.parse(inspect(s.app).Labels["io.buildpacks.lifecycle.metadata"]);
    expect(Object.keys(md.runImage).sort()).toEqual(["reference", "topLayer"]);
    expect(md.stack).toEqual({ runImage: { image: RUN, mirrors: [`${reg.host}/mirror/run:v1`] } });
    const cfg = config(s.app);
    expect(cfg.history.every((h: Record<string, unknown>) => Object.keys(h).join() === "created")).toBe(true);
    expect(cfg.history.length).toBe(cfg.rootfs.diff_ids.length);
    expect(cfg.config.Env).toContain("CNB_PLATFORM_API=0.9");
  });

  test("SOURCE_DATE_EPOCH counts from 0.9", async () => {
    for (const [api, created] of [["0.8", "1980-01-01T00:00:01Z"], ["0.9", "2023-11-14T22:13:20Z"]]) {
      const s = setup(api, `sde-${api.replace(".", "")}`, { SOURCE_DATE_EPOCH: "1700000000" });
      expect((await s.analyze()).code).toBe(0);
      expect((await s.exp()).code).toBe(0);
      expect(config(s.app).created).toBe(created);
    }
  });

  test("metadata.toml's command is one string before 0.10 (the rest in front of the args), in the build label too", async () => {
    const ws = workspace(tmpDir("papi-b-"));
    const dirs = ["-app", ws.app, "-layers", ws.layers, "-platform", ws.platform, "-buildpacks", path.join(FIX, "buildpacks")];
    fs.writeFileSync(path.join(ws.layers, "group.toml"), '[[group]]\nid = "test/hello"\nversion = "0.0.1"\napi = "0.12"\n');
    fs.writeFileSync(path.join(ws.layers, "plan.toml"), "");
    const env = { PATH: process.env.PATH ?? "", CNB_LIFECYCLE_ALLOW_ROOT: "true" };
    expect((await run("builder", dirs, { ...env, CNB_PLATFORM_API: "0.9" })).code).toBe(0);
    let p = toml(path.join(ws.layers, "config", "metadata.toml")).processes.find((x: { type: string }) => x.type === "worker");
    expect(p).toMatchObject({ command: "hello", args: ["worker", "--once"] });
    expect((await run("builder", dirs, { ...env, CNB_PLATFORM_API: "0.10" })).code).toBe(0);
    p = toml(path.join(ws.layers, "config", "metadata.toml")).processes.find((x: { type: string }) => x.type === "worker");
    expect(p).toMatchObject({ command: ["hello", "worker"], args: ["--once"] });
  });

  test("the legacy BOM before 0.9: in metadata.toml, the build label and report.toml's [build]; SBOM files copied from 0.8", async () => {
    for (const api of ["0.7", "0.8", "0.9"]) {
      const ws = workspace(tmpDir("papi-bom-"));
      const dirs = ["-app", ws.app, "-layers", ws.layers, "-platform", ws.platform, "-buildpacks", path.join(FIX, "buildpacks")];
      const env = { PATH: process.env.PATH ?? "", CNB_LIFECYCLE_ALLOW_ROOT: "true", CNB_PLATFORM_API: api };
      expect((await run("detector", [...dirs, "-order", path.join(FIX, "order", "legacy.toml")], env)).code).toBe(0);
      // test/hello writes a layer SBOM; test/legacy-07 a launch [[bom]]; add a build.toml [[bom]] to test/legacy-08.
      const b = await run("builder", dirs, env);
      expect(b.code).toBe(0);
      const md = toml(path.join(ws.layers, "config", "metadata.toml"));
      expect(md.bom !== undefined).toBe(api !== "0.9");
      expect(fs.existsSync(path.join(ws.layers, "sbom", "launch", "sbom.legacy.json"))).toBe(api === "0.9");
      expect(fs.existsSync(path.join(ws.layers, "sbom", "launch", "test_hello", "hello", "sbom.cdx.json"))).toBe(api !== "0.7");
    }
    const s = setup("0.8", "bom");
    fs.writeFileSync(path.join(s.b.layers, "test_hello", "build.toml"), '[[bom]]\nname = "build-dep"\n[bom.metadata]\nversion = "2"\n');
    const md = path.join(s.b.layers, "config", "metadata.toml");
    fs.appendFileSync(md, '[[bom]]\nname = "launch-dep"\n[bom.buildpack]\nid = "test/hello"\nversion = "0.0.1"\n');
    expect((await s.analyze()).code).toBe(0);
    expect((await s.exp()).code).toBe(0);
    expect(JSON.parse(inspect(s.app).Labels["io.buildpacks.build.metadata"]).bom).toEqual([{
      name: "launch-dep",
      buildpack: { id: "test/hello", version: "0.0.1" },
    }]);
    expect(toml(path.join(s.b.layers, "report.toml")).build).toEqual({
      bom: [{ name: "build-dep", metadata: { version: "2" }, buildpack: { id: "test/hello", version: "0.0.1" } }],
    });
  });

  test("the creator's -skip-restore before 0.10 skips the whole restore phase (store.toml included); from 0.10 only the layers", async () => {
    for (const [api, store] of [["0.9", false], ["0.10", true]] as const) {
      const ws = workspace(tmpDir("papi-c-"));
      const stack = path.join(ws.root, "stack.toml");
      fs.writeFileSync(stack, `[run-image]\nimage = "${RUN}"\n`);
      const app = `${reg.host}/skip-${api.replace(".", "")}:latest`;
      const argv = [
        "-app",
        ws.app,
        "-layers",
        ws.layers,
        "-platform",
        ws.platform,
        "-buildpacks",
        path.join(FIX, "buildpacks"),
        "-order",
        path.join(FIX, "order", "legacy.toml"),
        "-stack",
        stack,
        "-launcher",
        path.join(FIX, "app", "hello.txt"),
      ];
      const env = { PATH: process.env.PATH ?? "", CNB_LIFECYCLE_ALLOW_ROOT: "true", CNB_PLATFORM_API: api };
      const first = await run("creator", [...argv, app], env);
      expect(first.code).toBe(0);
      fs.rmSync(ws.layers, { recursive: true });
      fs.mkdirSync(ws.layers);
      const second = await run("creator", [...argv, "-skip-restore", app], env);
      expect(second.code).toBe(0);
      expect(second.out.includes("===> RESTORING")).toBe(store);
    }
  });

  test("the restorer before 0.14 restores a cached launch layer only with the app image's", async () => {
    for (const [api, restored] of [["0.13", false], ["0.14", true]] as const) {
      const root = tmpDir("papi-r-");
      const b = makeBuiltLayers(root);
      const cache = path.join(root, "cache");
      fs.mkdirSync(path.join(cache, "committed"), { recursive: true });
      fs.writeFileSync(
        path.join(cache, "committed", "io.buildpacks.lifecycle.cache.metadata"),
        JSON.stringify({
          buildpacks: [{ key: "test/hello", version: "0.0.1", layers: { both: { sha: "sha256:" + "0".repeat(64), launch: true, cache: true } } }],
        }),
      );
      fs.writeFileSync(path.join(b.layers, "analyzed.toml"), '[run-image]\nreference = "x"\n');
      fs.rmSync(path.join(b.layers, "test_hello"), { recursive: true });
      expect((await run("restorer", ["-cache-dir", cache], { CNB_LAYERS_DIR: b.layers, CNB_PLATFORM_API: api })).code).toBe(0);
      expect(fs.existsSync(path.join(b.layers, "test_hello", "both.toml"))).toBe(restored);
    }
  });

  test("the rebaser checks stack ids (not targets) for an image built before 0.12, and moves only the stack labels", async () => {
    const s = setup("0.9", "rebase");
    expect((await s.analyze()).code).toBe(0);
    expect((await s.exp()).code).toBe(0);
    const refused = await run("rebaser", ["-run-image", `${reg.host}/run:other`, s.app], s.env);
    expect(refused.code).toBe(72);
    expect(refused.err).toContain("incompatible stack: 'io.buildpacks.stacks.other' is not compatible with 'io.buildpacks.stacks.test'");
    const ok = await run("rebaser", ["-run-image", RUN, s.app], s.env);
    expect(ok.err).toBe("");
    expect(ok.code).toBe(0);
  });

  test("the analyzer restores the previous image's SBOM layer from 0.8", async () => {
    for (const [api, restored] of [["0.7", false], ["0.8", true]] as const) {
      const s = setup(api, `sbom-${api.replace(".", "")}`);
      const dir = path.join(s.b.layers, "sbom", "launch", "test_hello", "hello");
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, "sbom.cdx.json"), "{}");
      expect((await s.analyze()).code).toBe(0);
      expect((await s.exp()).code).toBe(0);
      fs.rmSync(path.join(s.b.layers, "sbom"), { recursive: true });
      expect((await s.analyze()).code).toBe(0);
      expect(fs.existsSync(path.join(dir, "sbom.cdx.json"))).toBe(restored);
    }
  });
});
