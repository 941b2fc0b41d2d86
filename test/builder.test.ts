import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "smol-toml";
import { PhaseError } from "../src/ground/errors.ts";
import { readLayerToml } from "../src/buildpack/files.ts";
import { ALLOW_ROOT_ENV } from "../src/buildpack/privileges.ts";
import { build, type BuildOptions, filterPlan, planFor } from "../src/phase/builder.ts";
import { detect } from "../src/phase/detector.ts";
import type { BuildMetadataFile, GroupFile, PlanFile } from "../src/platform/files.ts";
import { capture, workspace } from "./helpers/workspace.ts";
import { run } from "./helpers/run.ts";

const FIX = fileURLToPath(new URL("../fixtures/", import.meta.url));
const BUILDPACKS = path.join(FIX, "buildpacks");
const ORDER = (name: string) => path.join(FIX, "order", `${name}.toml`);
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "builder-test-"));
afterAll(() => fs.rmSync(TMP, { recursive: true, force: true }));

const LIFECYCLE_ENV = {
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: "/home/cnb",
  SECRET_TOKEN: "s3cr3t",
  CNB_REGISTRY_AUTH: '{"r.example":"Basic x"}',
  CNB_PLATFORM_API: "0.15",
};

type Workspace = ReturnType<typeof workspace>;

function options(ws: Workspace, extra: Partial<BuildOptions> = {}): BuildOptions {
  return {
    appDir: ws.app,
    buildpacksDir: BUILDPACKS,
    buildConfigDir: ws.buildConfig,
    layersDir: ws.layers,
    platformDir: ws.platform,
    groupPath: path.join(ws.layers, "group.toml"),
    planPath: path.join(ws.layers, "plan.toml"),
    analyzedPath: path.join(ws.layers, "analyzed.toml"),
    platformApi: "0.15",
    env: LIFECYCLE_ENV,
    tmpDir: ws.tmp,
    osReleasePath: path.join(FIX, "no-such-os-release"),
    ...extra,
  };
}

async function detectInto(ws: Workspace, order: string): Promise<void> {
  await detect(
    {
      appDir: ws.app,
      buildpacksDir: BUILDPACKS,
      buildConfigDir: ws.buildConfig,
      platformDir: ws.platform,
      orderPath: ORDER(order),
      analyzedPath: path.join(ws.layers, "analyzed.toml"),
      groupPath: path.join(ws.layers, "group.toml"),
      planPath: path.join(ws.layers, "plan.toml"),
      platformApi: "0.15",
      env: LIFECYCLE_ENV,
      tmpDir: ws.tmp,
    },
    capture().log,
  );
}

async function code(p: Promise<unknown>): Promise<{ code: number; message?: string }> {
  try {
    await p;
    return { code: 0 };
  } catch (e) {
    if (e instanceof PhaseError) return { code: e.code, message: e.message };
    throw e;
  }
}

// deno-lint-ignore no-explicit-any -- parsed TOML of any shape, checked field by field
const readToml = (f: string) => parse(fs.readFileSync(f, "utf8")) as Record<string, any>;
const envFile = (f: string) =>
  Object.fromEntries(
    fs
      .readFileSync(f, "utf8")
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );

describe("build: the main scenario", () => {
  let ws: Workspace;
  let md: BuildMetadataFile;
  let c: ReturnType<typeof capture>;

  beforeAll(async () => {
    ws = workspace(TMP, {
      userEnv: { USER_VAR: "from-platform", TEST_SLICES: "1" },
      buildConfigEnv: { BC_VAR: "from-build-config", "USER_VAR.default": "not-used" },
      analyzed:
        '[run-image]\nreference = "r"\n[run-image.target]\nos = "linux"\narch = "arm64"\narch-variant = "v8"\n[run-image.target.distro]\nname = "ubuntu"\nversion = "22.04"\n',
    });
    await detectInto(ws, "build");
    c = capture("info");
    md = await build(options(ws), c.log);
  });

  test("metadata.toml: buildpacks, processes sorted by type, default type, labels, slices", () => {
    const file = readToml(path.join(ws.layers, "config", "metadata.toml"));
    // deno-lint-ignore no-explicit-any -- parsed TOML of any shape, checked field by field
    expect(file).toEqual(md as unknown as Record<string, any>);
    expect(md.buildpacks).toEqual([
      { id: "test/cache", version: "0.0.1", api: "0.10" },
      { id: "test/provider", version: "0.0.1", api: "0.11" },
      { id: "test/env", version: "0.0.1", api: "0.12" },
      { id: "test/consumer", version: "0.0.1", api: "0.12" },
      { id: "test/hello", version: "0.0.1", api: "0.12", homepage: "https://example.com/test/hello" },
      { id: "test/execd", version: "0.0.1", api: "0.12" },
    ]);
    expect(md.processes).toEqual([
      {
        type: "execd",
        command: ["sh", "-c", "echo EXECD_VAR=${EXECD_VAR:-unset} PROFILE_VAR=${PROFILE_VAR:-unset}"],
        direct: true,
        "buildpack-id": "test/execd",
        "exec-env": ["production"],
      },
      { type: "web", command: ["hello"], direct: true, "buildpack-id": "test/hello" },
      { type: "worker", command: ["hello", "worker"], args: ["--once"], direct: true, "buildpack-id": "test/hello" },
    ]);
    expect(md["buildpack-default-process-type"]).toBe("web");
    expect(md.labels).toEqual([{ key: "io.buildpacks.test.hello", value: "true" }]);
    expect(md.slices).toEqual([{ paths: ["sub/**"] }]);
  });

  test("buildpack output goes to stdout, in group order", () => {
    expect(c.out).toEqual([
      "---> Cache buildpack",
      "cache count: 1",
      "---> Provider buildpack",
      "---> Env buildpack",
      "---> Consumer buildpack",
      "---> Hello buildpack",
      "---> Exec.d buildpack",
    ]);
    expect(c.err).toEqual([]);
  });

  test("layers and their tomls; an all-false layer is renamed <layer>.ignore", () => {
    const L = ws.layers;
    expect(readLayerToml(path.join(L, "test_hello/hello.toml"))).toEqual({
      types: { launch: true, build: false, cache: false },
      metadata: { version: "1.0.0" },
    });
    expect(readLayerToml(path.join(L, "test_cache/cached.toml"))).toEqual({ types: { launch: false, build: false, cache: true }, metadata: { count: 1 } });
    expect(readLayerToml(path.join(L, "test_cache/tools.toml")).types).toEqual({ launch: false, build: true, cache: false });
    expect(fs.readFileSync(path.join(L, "test_hello/hello/env.launch/GREETING.default"), "utf8")).toBe("hi");
    expect(fs.statSync(path.join(L, "test_hello/hello/bin/hello")).mode & 0o111).not.toBe(0);
    expect(fs.existsSync(path.join(L, "test_env/dump"))).toBe(false);
    expect(fs.existsSync(path.join(L, "test_env/dump.ignore/env"))).toBe(true);
    expect(fs.existsSync(path.join(L, "test_execd/execd/exec.d/setenv"))).toBe(true);
    expect(fs.statSync(path.join(L, "test_consumer")).isDirectory()).toBe(true);
  });

  test("bin/build sees the base env, earlier build layers, user and build-config env, and the CNB_* vars", () => {
    const dump = path.join(ws.layers, "test_env/dump.ignore");
    const env = envFile(path.join(dump, "env"));
    expect(env.SECRET_TOKEN).toBeUndefined();
    expect(env.CNB_REGISTRY_AUTH).toBeUndefined();
    expect(env.CNB_PLATFORM_API).toBeUndefined();
    expect(env.HOME).toBe("/home/cnb");
    expect(env.PATH).toBe(`${path.join(ws.layers, "test_cache/tools/bin")}:${LIFECYCLE_ENV.PATH}`);
    expect(env.TOOL_VAR).toBe("from-cache-build-layer");
    expect(env.TOOL_PATH).toBe("/opt/tool");
    expect(env.SHARED_VAR).toBe("shared-default");
    expect(env.USER_VAR).toBe("from-platform");
    expect(env.BC_VAR).toBe("from-build-config");
    expect(env.CNB_LAYERS_DIR).toBe(path.join(ws.layers, "test_env"));
    expect(env.CNB_PLATFORM_DIR).toBe(ws.platform);
    expect(env.CNB_BUILDPACK_DIR).toBe(path.join(BUILDPACKS, "test_env/0.0.1"));
    expect(env.CNB_BP_PLAN_PATH).toMatch(new RegExp(`^${ws.tmp}/test_env-[^/]+/test_env/plan\\.toml$`));
    expect(env.CNB_EXEC_ENV).toBe("production");
    expect([env.CNB_TARGET_OS, env.CNB_TARGET_ARCH, env.CNB_TARGET_ARCH_VARIANT, env.CNB_TARGET_DISTRO_NAME, env.CNB_TARGET_DISTRO_VERSION]).toEqual([
      "linux",
      "arm64",
      "v8",
      "ubuntu",
      "22.04",
    ]);
    expect(fs.readFileSync(path.join(dump, "args"), "utf8")).toBe(`${path.join(ws.layers, "test_env")}\n${ws.platform}\n${env.CNB_BP_PLAN_PATH}\n`);
    expect(fs.readFileSync(path.join(dump, "cwd"), "utf8")).toBe(`${ws.app}\n`);
    expect(fs.readFileSync(path.join(dump, "tool"), "utf8")).toBe("cache-tool ran\n");
    expect(fs.readdirSync(ws.tmp)).toEqual([]);
  });

  test("each buildpack gets only its part of the plan; clear-env hides the user env but not the build-config env", () => {
    expect(readToml(path.join(ws.layers, "test_provider/runtime/plan.toml"))).toEqual({
      entries: [{ name: "runtime", metadata: { version: "1.2.3", launch: true } }],
    });
    expect(readToml(path.join(ws.layers, "test_env/dump.ignore/plan.toml"))).toEqual({ entries: [] });
    // test/provider has clear-env = true: no USER_VAR=from-platform, but the build-config default applies
    expect(fs.readFileSync(path.join(ws.layers, "test_provider/runtime/env-seen"), "utf8")).toBe("USER_VAR=not-used\n");
  });

  test("SBOM files are copied to <layers>/sbom/{launch,build,cache}/<bp>/...; legacy BOM files are written", () => {
    const S = path.join(ws.layers, "sbom");
    expect(fs.readFileSync(path.join(S, "launch/test_hello/hello/sbom.cdx.json"), "utf8")).toBe(
      fs.readFileSync(path.join(ws.layers, "test_hello/hello.sbom.cdx.json"), "utf8"),
    );
    expect(fs.existsSync(path.join(S, "launch/test_execd/sbom.spdx.json"))).toBe(true);
    expect(fs.readFileSync(path.join(S, "launch/sbom.legacy.json"), "utf8")).toBe("null\n");
    expect(fs.readFileSync(path.join(S, "build/sbom.legacy.json"), "utf8")).toBe("null\n");
    expect(fs.existsSync(path.join(S, "cache"))).toBe(false);
  });

  test("a second build over the same layers sees the restored cache layer and replaces old .ignore dirs", async () => {
    fs.writeFileSync(path.join(ws.layers, "sbom", "stale"), "x");
    const c2 = capture("info");
    await build(options(ws), c2.log);
    expect(c2.out).toContain("cache count: 2");
    expect(readLayerToml(path.join(ws.layers, "test_cache/cached.toml")).metadata).toEqual({ count: 2 });
    expect(fs.existsSync(path.join(ws.layers, "test_env/dump.ignore/env"))).toBe(true);
    expect(fs.existsSync(path.join(ws.layers, "sbom", "stale"))).toBe(false);
  });
});

describe("build: failures", () => {
  test("a failing bin/build: 51, naming the buildpack and its exit status; earlier output is printed", async () => {
    const ws = workspace(TMP);
    await detectInto(ws, "fail-build");
    const c = capture("info");
    const r = await code(build(options(ws), c.log));
    expect(r.code).toBe(51);
    expect(r.message).toBe("failed to build: buildpack test/fail-build@0.0.1: bin/build exit status 1");
    // Both streams reach our stdout; their relative order is the kernel's (two pipes), not fixed.
    expect(c.out[0]).toBe("---> Hello buildpack");
    expect([...c.out.slice(1)].sort()).toEqual(["---> Fail-build buildpack", "fail-build: about to fail"]);
    expect(fs.existsSync(path.join(ws.layers, "config", "metadata.toml"))).toBe(false);
  });

  const group = (id: string, api = "0.12"): GroupFile => ({ group: [{ id, version: "0.0.1", api }] });
  const noPlan: PlanFile = { entries: [] };

  for (
    const [mode, msg] of [
      ["sbom", "undeclared SBOM media type: 'application/vnd.syft+json'"],
      ["layer", "the launch, cache and build flags should be in the types table of"],
      ["unmet", "unmet.name 'not-in-plan' must match a requested dependency"],
      ["direct", "process.direct is not supported on this buildpack version"],
      ["string-command", "must be an array of strings"],
      ["defaults", "multiple default process types aren't allowed"],
    ] as const
  ) {
    test(`invalid buildpack output (${mode}): 52`, async () => {
      const ws = workspace(TMP, { userEnv: { BAD_MODE: mode } });
      const r = await code(build(options(ws, { group: group("test/bad-output"), plan: noPlan }), capture().log));
      expect(r.code).toBe(52);
      expect(r.message).toContain(msg);
    });
  }

  test("an unsupported Buildpack API in group.toml: 12; an unreadable group.toml: 1", async () => {
    const ws = workspace(TMP);
    expect((await code(build(options(ws, { group: group("test/hello", "0.6"), plan: noPlan }), capture().log))).code).toBe(12);
    expect((await code(build(options(ws), capture().log))).code).toBe(1);
  });

  test("a buildpack missing from the buildpacks dir: 52", async () => {
    const ws = workspace(TMP);
    expect((await code(build(options(ws, { group: { group: [{ id: "test/nope", version: "1.0.0", api: "0.12" }] }, plan: noPlan }), capture().log))).code).toBe(
      52,
    );
  });
});

describe("build: plan filtering and processes", () => {
  const plan: PlanFile = {
    entries: [
      { providers: [{ id: "test/provider", version: "0.0.1" }, { id: "test/env", version: "0.0.1" }], requires: [{ name: "runtime", metadata: { v: 1 } }] },
      { providers: [{ id: "test/env", version: "0.0.1" }], requires: [{ name: "other" }] },
    ],
  };
  const group: GroupFile = { group: [{ id: "test/provider", version: "0.0.1", api: "0.11" }, { id: "test/env", version: "0.0.1", api: "0.12" }] };

  test("planFor and filterPlan", () => {
    expect(planFor(plan, "test/env")).toEqual({ entries: [{ name: "runtime", metadata: { v: 1 } }, { name: "other" }] });
    expect(filterPlan(plan, ["runtime"])).toEqual({ entries: [plan.entries[1]] });
  });

  test("met requires leave the plan; unmet ones pass to the next provider", async () => {
    const met = workspace(TMP);
    await build(options(met, { group, plan }), capture().log);
    expect(readToml(path.join(met.layers, "test_env/dump.ignore/plan.toml"))).toEqual({ entries: [{ name: "other" }] });

    const unmet = workspace(TMP, { buildConfigEnv: { PROVIDER_UNMET: "1" } });
    await build(options(unmet, { group, plan }), capture().log);
    expect(readToml(path.join(unmet.layers, "test_provider/runtime/plan.toml"))).toEqual({ entries: [{ name: "runtime", metadata: { v: 1 } }] });
    expect(readToml(path.join(unmet.layers, "test_env/dump.ignore/plan.toml"))).toEqual({
      entries: [{ name: "runtime", metadata: { v: 1 } }, { name: "other" }],
    });
  });

  test("a later non-default process of the default type replaces it and clears the default, with a warning", async () => {
    const ws = workspace(TMP, { userEnv: { BAD_MODE: "override-web" } });
    const c = capture("info");
    const md = await build(
      options(ws, {
        group: { group: [{ id: "test/hello", version: "0.0.1", api: "0.12" }, { id: "test/bad-output", version: "0.0.1", api: "0.12" }] },
        plan: { entries: [] },
      }),
      c.log,
    );
    expect(md["buildpack-default-process-type"]).toBeUndefined();
    expect(md.processes?.find((p) => p.type === "web")).toEqual({ type: "web", command: ["other"], direct: true, "buildpack-id": "test/bad-output" });
    expect(c.err).toContain("Warning: redefining the following default process type with a process not marked as default: web");
  });
});

describe("the builder command", () => {
  test("flags resolve to <layers>/group.toml, plan.toml and config/metadata.toml", async () => {
    const ws = workspace(TMP);
    await detectInto(ws, "hello");
    const r = await run("builder", ["-app", ws.app, "-buildpacks", BUILDPACKS, "-layers", ws.layers, "-platform", ws.platform], {
      ...LIFECYCLE_ENV,
      [ALLOW_ROOT_ENV]: "true",
    });
    expect(r.code).toBe(0);
    expect(r.outLines).toEqual(["---> Hello buildpack"]);
    expect(readToml(path.join(ws.layers, "config/metadata.toml"))["buildpack-default-process-type"]).toBe("web");
  });

  test("refuses to run as root without the opt-in; 11 for a bad Platform API", async () => {
    const ws = workspace(TMP);
    const argv = ["-layers", ws.layers];
    if (process.getuid?.() === 0) {
      const r = await run("builder", argv, LIFECYCLE_ENV);
      expect(r.code).toBe(1);
      expect(r.errLines[0]).toContain("failed to build: refusing to run as root");
    }
    expect((await run("builder", argv, { ...LIFECYCLE_ENV, CNB_PLATFORM_API: "9.9" })).code).toBe(11);
  });
});
