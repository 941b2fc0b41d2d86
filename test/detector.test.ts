import { afterAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "smol-toml";
import { PhaseError } from "../src/ground/errors.ts";
import { type BuildPlan, type DetectOutput, emptyPlan, parseBuildPlan } from "../src/buildpack/detect.ts";
import { readBuildpackDescriptor } from "../src/buildpack/descriptor.ts";
import { ALLOW_ROOT_ENV, refuseRoot } from "../src/buildpack/privileges.ts";
import { type Detected, resolveGroup } from "../src/buildpack/resolve.ts";
import { resolveTarget, targetMatches } from "../src/buildpack/target.ts";
import { detect, type DetectOptions, mergeSystem } from "../src/phase/detector.ts";
import { capture, workspace } from "./helpers/workspace.ts";
import { run } from "./helpers/run.ts";

const FIX = fileURLToPath(new URL("../fixtures/", import.meta.url));
const BUILDPACKS = path.join(FIX, "buildpacks");
const ORDER = (name: string) => path.join(FIX, "order", `${name}.toml`);
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "detector-test-"));
afterAll(() => fs.rmSync(TMP, { recursive: true, force: true }));

const LIFECYCLE_ENV = {
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: "/home/cnb",
  SECRET_TOKEN: "s3cr3t",
  CNB_REGISTRY_AUTH: '{"r.example":"Basic x"}',
  CNB_PLATFORM_API: "0.15",
};

function options(ws: ReturnType<typeof workspace>, order: string, extra: Partial<DetectOptions> = {}): DetectOptions {
  return {
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
    osReleasePath: path.join(FIX, "no-such-os-release"),
    ...extra,
  };
}

async function detectCode(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 0;
  } catch (e) {
    if (e instanceof PhaseError) return e.code;
    throw e;
  }
}

// deno-lint-ignore no-explicit-any -- parsed TOML of any shape, checked field by field
const readTomlFile = (f: string) => parse(fs.readFileSync(f, "utf8")) as Record<string, any>;

describe("detect: groups and outputs", () => {
  test("a single passing buildpack: group.toml with api and homepage, an empty plan", async () => {
    const ws = workspace(TMP);
    const c = capture("info");
    const r = await detect(options(ws, "hello"), c.log);
    expect(r.group.group).toEqual([{ id: "test/hello", version: "0.0.1", api: "0.12", homepage: "https://example.com/test/hello" }]);
    expect(r.plan.entries).toEqual([]);
    expect(readTomlFile(path.join(ws.layers, "group.toml"))).toEqual({
      group: [{ id: "test/hello", version: "0.0.1", api: "0.12", homepage: "https://example.com/test/hello" }],
    });
    expect(readTomlFile(path.join(ws.layers, "plan.toml"))).toEqual({ entries: [] });
    // at info: only the participating list; detect output stays at debug when detection passes
    expect(c.out).toEqual(["test/hello 0.0.1"]);
    expect(c.err).toEqual([`Warning: No analyzed metadata found at path "${path.join(ws.layers, "analyzed.toml")}"`]);
  });

  test("debug level shows the buffered output blocks, the results and the plan trials", async () => {
    const ws = workspace(TMP);
    const c = capture("debug");
    await detect(options(ws, "hello"), c.log);
    expect(c.out).toEqual([
      "======== Output: test/hello@0.0.1 ========",
      "hello: detect passes",
      "======== Results ========",
      "pass: test/hello@0.0.1",
      "Resolving plan... (try #1)",
      "test/hello 0.0.1",
    ]);
  });

  test("provides/requires: one plan entry with the provider and the requirer's metadata", async () => {
    const ws = workspace(TMP, { userEnv: { USER_VAR: "from-platform" } });
    const c = capture("debug");
    const r = await detect(options(ws, "provides"), c.log);
    expect(r.group.group.map((g) => g.id)).toEqual(["test/provider", "test/consumer"]);
    expect(r.group.group[0]).toEqual({ id: "test/provider", version: "0.0.1", api: "0.11" });
    const plan = readTomlFile(path.join(ws.layers, "plan.toml"));
    expect(plan).toEqual({
      entries: [{ providers: [{ id: "test/provider", version: "0.0.1" }], requires: [{ name: "runtime", metadata: { version: "1.2.3", launch: true } }] }],
    });
    // test/provider has clear-env = true: it does not see the user env
    expect(c.out).toContain("provider: USER_VAR=unset");
    // aligned participating list
    expect(c.out).toContain("test/provider 0.0.1");
    expect(c.out).toContain("test/consumer 0.0.1");
  });

  test("a composite buildpack expands; its failing optional element is skipped", async () => {
    const ws = workspace(TMP);
    const c = capture("debug");
    const r = await detect(options(ws, "meta"), c.log);
    expect(r.group.group).toEqual([{ id: "test/hello", version: "0.0.1", api: "0.12", homepage: "https://example.com/test/hello" }]);
    expect(c.out).toContain("skip: test/optional@0.0.1");
    expect(c.out).toContain("1 of 2 buildpacks participating");
  });

  test("an ID already in the group path is not repeated", async () => {
    const ws = workspace(TMP);
    const r = await detect(options(ws, "meta-dup"), capture().log);
    expect(r.group.group.map((g) => g.id)).toEqual(["test/hello"]);
  });

  test("an optional composite whose sub-orders all fail is left out; errors of optional groups show at info", async () => {
    const ws = workspace(TMP);
    const c = capture("info");
    const r = await detect(options(ws, "meta-optional"), c.log);
    expect(r.group.group.map((g) => g.id)).toEqual(["test/hello"]);
    expect(c.out).toContain("err:  test/error-detect@0.0.1 (3)");
    expect(c.out).toContain("error-detect: something broke");
  });

  test("groups are tried in order; bin/detect runs once per buildpack per run", async () => {
    const detectLog = path.join(TMP, "detect-count.log");
    fs.rmSync(detectLog, { force: true });
    const ws = workspace(TMP, { userEnv: { DETECT_LOG: detectLog } });
    const c = capture("debug");
    const r = await detect(options(ws, "fallback"), c.log);
    expect(r.group.group.map((g) => g.id)).toEqual(["test/env"]);
    expect(fs.readFileSync(detectLog, "utf8")).toBe("test/env\n");
    expect(c.out).toContain("fail: test/fail-detect@0.0.1");
    expect(c.out).toContain("fail: test/consumer@0.0.1 requires runtime");
    expect(c.out).toContain("skip: test/fail-detect@0.0.1");
    expect(c.out.filter((l) => l === "======== Results ========")).toHaveLength(3);
  });
});

describe("detect: failures and exit codes", () => {
  test("every group fails: 20, with the results at info and the reference's error lines", async () => {
    const ws = workspace(TMP);
    const c = capture("info");
    expect(await detectCode(detect(options(ws, "fail"), c.log))).toBe(20);
    expect(c.out).toEqual([
      "======== Output: test/fail-detect@0.0.1 ========",
      "fail-detect: not applicable",
      "======== Results ========",
      "fail: test/fail-detect@0.0.1",
    ]);
    expect(c.err.slice(1)).toEqual(["ERROR: No buildpack groups passed detection.", "ERROR: Please check that you are running against the correct path."]);
    expect(fs.existsSync(path.join(ws.layers, "group.toml"))).toBe(false);
  });

  test("every group fails and a bin/detect errored: 21", async () => {
    const ws = workspace(TMP);
    const c = capture("info");
    expect(await detectCode(detect(options(ws, "error"), c.log))).toBe(21);
    expect(c.out).toContain("err:  test/error-detect@0.0.1 (3)");
    expect(c.out).toContain("fail: test/fail-detect@0.0.1");
    expect(c.err).toContain("ERROR: No buildpack groups passed detection.");
  });

  test("an unsupported Buildpack API: 12", async () => {
    const ws = workspace(TMP);
    expect(await detectCode(detect(options(ws, "bad-api"), capture().log))).toBe(12);
  });

  test("a buildpack missing from the buildpacks dir fails initialization (1); an unreadable order too", async () => {
    const ws = workspace(TMP);
    const order = path.join(ws.root, "order.toml");
    fs.writeFileSync(order, '[[order]]\n[[order.group]]\nid = "test/nope"\nversion = "9.9.9"\n');
    expect(await detectCode(detect(options(ws, "hello", { orderPath: order }), capture().log))).toBe(1);
    expect(await detectCode(detect(options(ws, "hello", { orderPath: path.join(ws.root, "missing.toml") }), capture().log))).toBe(1);
  });

  test("a missing buildpack inside a composite is a detect error (22)", async () => {
    const ws = workspace(TMP);
    const bps = path.join(ws.root, "bps");
    fs.cpSync(path.join(BUILDPACKS, "test_meta"), path.join(bps, "test_meta"), { recursive: true });
    expect(await detectCode(detect(options(ws, "meta", { buildpacksDir: bps }), capture().log))).toBe(22);
  });
});

describe("detect: environment", () => {
  test("bin/detect gets the filtered env, user and build-config env, CNB_* vars, args and cwd", async () => {
    const ws = workspace(TMP, {
      userEnv: { USER_VAR: "from-platform", PATH: "/user/bin" },
      buildConfigEnv: { BC_VAR: "from-build-config", "USER_VAR.default": "ignored" },
      analyzed:
        '[run-image]\nreference = "r"\n[run-image.target]\nos = "linux"\narch = "arm64"\narch-variant = "v8"\n[run-image.target.distro]\nname = "ubuntu"\nversion = "24.04"\n',
    });
    const c = capture("debug");
    await detect(options(ws, "fallback"), c.log);
    const env = Object.fromEntries(
      c.out.filter((l) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(l)).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    expect(env.SECRET_TOKEN).toBeUndefined();
    expect(env.CNB_REGISTRY_AUTH).toBeUndefined();
    expect(env.CNB_PLATFORM_API).toBeUndefined();
    expect(env.HOME).toBe("/home/cnb");
    expect(env.PATH).toBe(`/user/bin:${LIFECYCLE_ENV.PATH}`);
    expect(env.USER_VAR).toBe("from-platform");
    expect(env.BC_VAR).toBe("from-build-config");
    expect(env.CNB_BUILDPACK_DIR).toBe(path.join(BUILDPACKS, "test_env", "0.0.1"));
    expect(env.CNB_PLATFORM_DIR).toBe(ws.platform);
    expect(env.CNB_BUILD_PLAN_PATH).toMatch(new RegExp(`^${ws.tmp}/plan\\.[^/]+/plan\\.toml$`));
    expect(env.CNB_EXEC_ENV).toBe("production");
    expect([env.CNB_TARGET_OS, env.CNB_TARGET_ARCH, env.CNB_TARGET_ARCH_VARIANT, env.CNB_TARGET_DISTRO_NAME, env.CNB_TARGET_DISTRO_VERSION]).toEqual([
      "linux",
      "arm64",
      "v8",
      "ubuntu",
      "24.04",
    ]);
    expect(c.out).toContain(`detect-args: ${ws.platform} ${env.CNB_BUILD_PLAN_PATH}`);
    expect(c.out).toContain(`detect-cwd: ${ws.app}`);
    expect(c.out).toContain("detect-plan: empty");
    // the temporary plan directories are gone
    expect(fs.readdirSync(ws.tmp)).toEqual([]);
  });
});

describe("detect: targets, exec-env, system buildpacks", () => {
  const analyzed = (target: string) => `[run-image]\nreference = "r"\n[run-image.target]\n${target}\n`;

  test("a declared target must match the run image (os/arch/variant/distro)", async () => {
    const ws1 = workspace(TMP, { analyzed: analyzed('os = "linux"\narch = "amd64"\n[run-image.target.distro]\nname = "ubuntu"\nversion = "22.04"') });
    const c1 = capture("debug");
    await detect(options(ws1, "targets"), c1.log);
    expect(c1.out).toContain("os=linux arch=amd64 variant= distro=ubuntu@22.04");

    // second target: linux/arm64/v8 with any distro; the spec spelling `variant` is read too
    const ws2 = workspace(TMP, {
      analyzed: analyzed('os = "linux"\narch = "arm64"\nvariant = "v8"\n[run-image.target.distro]\nname = "debian"\nversion = "12"'),
    });
    const c2 = capture("debug");
    await detect(options(ws2, "targets"), c2.log);
    expect(c2.out).toContain("os=linux arch=arm64 variant=v8 distro=debian@12");

    // amd64 on another distro: no match → an error result → 21
    const ws3 = workspace(TMP, { analyzed: analyzed('os = "linux"\narch = "amd64"\n[run-image.target.distro]\nname = "alpine"\nversion = "3.20"') });
    const c3 = capture("info");
    expect(await detectCode(detect(options(ws3, "targets"), c3.log))).toBe(21);
    expect(c3.out).toContain("======== Error: test/targeted@0.0.1 ========");
    expect(c3.out.find((l) => l.startsWith("unable to satisfy target os/arch constraints"))).toBeDefined();
    expect(c3.out).toContain("err:  test/targeted@0.0.1");
  });

  test("no distro in analyzed.toml: it comes from the os-release file", async () => {
    const rel = path.join(TMP, "os-release");
    fs.writeFileSync(rel, 'NAME="Ubuntu"\nID=ubuntu\nVERSION_ID="22.04"\n');
    const ws = workspace(TMP, { analyzed: analyzed('os = "linux"\narch = "amd64"') });
    const c = capture("debug");
    await detect(options(ws, "targets", { osReleasePath: rel }), c.log);
    expect(c.out).toContain("os=linux arch=amd64 variant= distro=ubuntu@22.04");
  });

  test("buildpacks without [[targets]] are linux (inferred from bin/build)", async () => {
    const ws = workspace(TMP, { analyzed: analyzed('os = "windows"\narch = "amd64"') });
    expect(await detectCode(detect(options(ws, "hello"), capture().log))).toBe(21);
    const ws2 = workspace(TMP, { analyzed: analyzed('os = "linux"\narch = "s390x"') });
    expect((await detect(options(ws2, "hello"), capture().log)).group.group[0].id).toBe("test/hello");
  });

  test("exec-env: a buildpack for other environments is skipped silently (Platform 0.15)", async () => {
    const ws = workspace(TMP);
    expect((await detect(options(ws, "exec-env"), capture().log)).group.group.map((g) => g.id)).toEqual(["test/hello"]);
    expect((await detect(options(ws, "exec-env", { execEnv: "test" }), capture().log)).group.group.map((g) => g.id)).toEqual(["test/testonly", "test/hello"]);
    expect((await detect(options(ws, "exec-env", { platformApi: "0.14" }), capture().log)).group.group.map((g) => g.id)).toEqual([
      "test/testonly",
      "test/hello",
    ]);
  });

  test("system.toml pre/post buildpacks join every group (0.15), IDs already there are skipped, optional ones may fail", async () => {
    const ws = workspace(TMP);
    const systemPath = path.join(FIX, "system", "system.toml");
    const r = await detect(options(ws, "hello", { systemPath }), capture().log);
    expect(r.group.group.map((g) => g.id)).toEqual(["test/env", "test/hello"]);
    const old = await detect(options(ws, "hello", { systemPath, platformApi: "0.14" }), capture().log);
    expect(old.group.group.map((g) => g.id)).toEqual(["test/hello"]);
    expect(
      mergeSystem([{ group: [{ id: "a", version: "1" }] }], {
        system: { pre: { buildpacks: [{ id: "a", version: "2" }, { id: "p", version: "1", optional: true }] } },
      }),
    ).toEqual([
      { group: [{ id: "p", version: "1", optional: true }, { id: "a", version: "1" }] },
    ]);
  });
});

describe("plan resolution (resolveGroup)", () => {
  const el = (id: string, optional = false) => ({ id, version: "1", api: "0.12", ...(optional ? { optional: true } : {}) });
  const pass = (plan: Partial<BuildPlan> = {}): DetectOutput => ({ code: 0, output: "", plan: { ...emptyPlan(), ...plan } });
  const run = (done: Detected[]) => {
    const lines: string[] = [];
    return { r: resolveGroup(done, (_l, m) => lines.push(m)), lines };
  };

  test("`or` alternatives are tried depth-first, left to right", () => {
    const unused = run([{ el: el("a"), out: pass({ provides: [{ name: "x" }] }) }]);
    expect(unused.r).toEqual({ ok: false, reason: "failed" });
    expect(unused.lines).toContain("fail: a@1 provides unused x");
    const { r, lines } = run([
      { el: el("a"), out: pass({ provides: [{ name: "x" }], or: [{ provides: [{ name: "y" }], requires: [] }] }) },
      { el: el("b"), out: pass({ requires: [{ name: "y", metadata: { k: 1 } }] }) },
    ]);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.entries).toEqual([{ providers: [{ id: "a", version: "1" }], requires: [{ name: "y", metadata: { k: 1 } }] }]);
    expect(lines.filter((l) => l.startsWith("Resolving plan"))).toEqual(["Resolving plan... (try #1)", "Resolving plan... (try #2)"]);
    expect(lines).toContain("fail: b@1 requires y");
  });

  test("an element can satisfy its own require; providers before the require all count", () => {
    const { r } = run([
      { el: el("a"), out: pass({ provides: [{ name: "x" }] }) },
      { el: el("b"), out: pass({ provides: [{ name: "x" }], requires: [{ name: "x" }] }) },
    ]);
    expect(r.ok && r.entries).toEqual([{ providers: [{ id: "a", version: "1" }, { id: "b", version: "1" }], requires: [{ name: "x" }] }]);
  });

  test("a require before any provider is unmet", () => {
    const { r, lines } = run([
      { el: el("b"), out: pass({ requires: [{ name: "x" }] }) },
      { el: el("a"), out: pass({ provides: [{ name: "x" }] }) },
    ]);
    expect(r).toEqual({ ok: false, reason: "failed" });
    expect(lines).toContain("fail: b@1 requires x");
  });

  test("an optional element with an unmet require is dropped and the walk redone", () => {
    const { r, lines } = run([
      { el: el("a", true), out: pass({ provides: [{ name: "x" }], requires: [{ name: "z" }] }) },
      { el: el("b"), out: pass() },
    ]);
    expect(r.ok && r.group.map((g) => g.id)).toEqual(["b"]);
    expect(r.ok && r.group[0]).toEqual({ id: "b", version: "1", api: "0.12" });
    expect(lines).toContain("skip: a@1 requires z");
    expect(lines).toContain("1 of 2 buildpacks participating");
  });

  test("[ref] only the last alternative of an optional element is optional: earlier ones fail their trial", () => {
    // c provides y; a (optional) requires x, or y. Trial 1 (a requires x, not optional) fails; trial 2 keeps a.
    const { r, lines } = run([
      { el: el("c"), out: pass({ provides: [{ name: "y" }] }) },
      { el: el("a", true), out: pass({ requires: [{ name: "x" }], or: [{ requires: [{ name: "y" }], provides: [] }] }) },
    ]);
    expect(r.ok && r.group.map((g) => g.id)).toEqual(["c", "a"]);
    expect(lines).toContain("fail: a@1 requires x");
    expect(r.ok && r.entries).toEqual([{ providers: [{ id: "c", version: "1" }], requires: [{ name: "y" }] }]);
  });

  test("non-optional fail or error fails the group; nothing passing fails it too", () => {
    expect(run([{ el: el("a"), out: { code: 100, output: "", plan: emptyPlan() } }]).r).toEqual({ ok: false, reason: "failed" });
    expect(run([{ el: el("a"), out: { code: 7, output: "x\n", plan: emptyPlan() } }]).r).toEqual({ ok: false, reason: "buildpack" });
    const only = run([{ el: el("a", true), out: { code: 100, output: "", plan: emptyPlan() } }]);
    expect(only.r).toEqual({ ok: false, reason: "failed" });
    expect(only.lines).toContain("fail: no viable buildpacks in group");
    // an optional error does not fail the group but is reported at info
    const lines: [string, string][] = [];
    const r = resolveGroup(
      [{ el: el("a", true), out: { code: 7, output: "boom\n", plan: emptyPlan() } }, { el: el("b"), out: pass() }],
      (l, m) => lines.push([l, m]),
    );
    expect(r.ok).toBe(true);
    expect(lines).toContainEqual(["info", "err:  a@1 (7)"]);
    expect(lines).toContainEqual(["info", "boom"]);
  });

  test("a Build Plan with requires.version is rejected", () => {
    expect(() => parseBuildPlan('[[requires]]\nname = "x"\nversion = "1"\n', "a")).toThrow('"metadata.version" should be used instead');
    expect(parseBuildPlan('[[or]]\n[[or.provides]]\nname = "x"\n', "a").or).toEqual([{ requires: [], provides: [{ name: "x" }] }]);
  });
});

describe("descriptors and targets", () => {
  test("both exec-env shapes, variant spellings and inferred targets", () => {
    expect(readBuildpackDescriptor(path.join(BUILDPACKS, "test_testonly/0.0.1/buildpack.toml")).execEnv).toEqual(["test"]);
    expect(readBuildpackDescriptor(path.join(BUILDPACKS, "test_execd/0.0.1/buildpack.toml")).execEnv).toEqual(["production", "test"]);
    const t = readBuildpackDescriptor(path.join(BUILDPACKS, "test_targeted/0.0.1/buildpack.toml")).targets;
    expect(t[1]).toEqual({ os: "linux", arch: "arm64", archVariant: "v8", distros: [] });
    expect(readBuildpackDescriptor(path.join(BUILDPACKS, "test_hello/0.0.1/buildpack.toml")).targets).toEqual([{ os: "linux", distros: [] }]);
    const meta = readBuildpackDescriptor(path.join(BUILDPACKS, "test_meta/0.0.1/buildpack.toml"));
    expect(meta.targets).toEqual([]);
    expect(meta.order).toEqual([{ group: [{ id: "test/hello", version: "0.0.1" }, { id: "test/optional", version: "0.0.1", optional: true }] }]);
  });

  test("target matching: empty matches anything, distros need a match", () => {
    const base = resolveTarget({ os: "linux", arch: "amd64", distro: { name: "ubuntu", version: "22.04" } });
    expect(targetMatches(base, {})).toBe(true);
    expect(targetMatches(base, { os: "linux", arch: "arm64" })).toBe(false);
    expect(targetMatches(base, { distros: [{ name: "ubuntu" }] })).toBe(true);
    expect(targetMatches(base, { distros: [{ name: "ubuntu", version: "24.04" }] })).toBe(false);
    expect(targetMatches(resolveTarget({}, "/nonexistent", "arm64"), { os: "linux", arch: "arm64", distros: [{ name: "x" }] })).toBe(false);
  });
});

describe("the detector command", () => {
  const base = (
    ws: ReturnType<typeof workspace>,
  ) => ["-app", ws.app, "-buildpacks", BUILDPACKS, "-layers", ws.layers, "-platform", ws.platform, "-build-config", ws.buildConfig];

  test("flags and defaults: -order from <layers>/order.toml, outputs under <layers>", async () => {
    const ws = workspace(TMP);
    fs.copyFileSync(ORDER("provides"), path.join(ws.layers, "order.toml"));
    const r = await run("detector", base(ws), { ...LIFECYCLE_ENV, [ALLOW_ROOT_ENV]: "true", CNB_SYSTEM_PATH: path.join(ws.root, "none.toml") });
    expect(r.code).toBe(0);
    expect(readTomlFile(path.join(ws.layers, "group.toml")).group.map((g: { id: string }) => g.id)).toEqual(["test/provider", "test/consumer"]);
    expect(readTomlFile(path.join(ws.layers, "plan.toml")).entries).toHaveLength(1);
  });

  test("env vars stand in for flags; CNB_EXEC_ENV is read", async () => {
    const ws = workspace(TMP);
    const r = await run("detector", [], {
      ...LIFECYCLE_ENV,
      [ALLOW_ROOT_ENV]: "1",
      CNB_APP_DIR: ws.app,
      CNB_BUILDPACKS_DIR: BUILDPACKS,
      CNB_LAYERS_DIR: ws.layers,
      CNB_PLATFORM_DIR: ws.platform,
      CNB_ORDER_PATH: ORDER("exec-env"),
      CNB_GROUP_PATH: path.join(ws.root, "g.toml"),
      CNB_EXEC_ENV: "test",
    });
    expect(r.code).toBe(0);
    expect(readTomlFile(path.join(ws.root, "g.toml")).group.map((g: { id: string }) => g.id)).toEqual(["test/testonly", "test/hello"]);
  });

  test("exit codes: 20 through the command, 3 for positional args, 11 for a bad Platform API", async () => {
    const ws = workspace(TMP);
    const env = { ...LIFECYCLE_ENV, [ALLOW_ROOT_ENV]: "true" };
    const r = await run("detector", [...base(ws), "-order", ORDER("fail")], env);
    expect(r.code).toBe(20);
    expect(r.errLines.at(-1)).toBe("ERROR: failed to detect: no buildpacks participating");
    expect((await run("detector", [...base(ws), "extra"], env)).code).toBe(3);
    expect((await run("detector", base(ws), { ...env, CNB_PLATFORM_API: "0.3" })).code).toBe(11);
  });

  test("refuses to run as root without the opt-in", async () => {
    expect(() => refuseRoot("detect", {}, 0)).toThrow("refusing to run as root");
    expect(() => refuseRoot("detect", { [ALLOW_ROOT_ENV]: "false" }, 0)).toThrow(PhaseError);
    expect(() => refuseRoot("detect", { [ALLOW_ROOT_ENV]: "true" }, 0)).not.toThrow();
    expect(() => refuseRoot("detect", {}, 1000)).not.toThrow();
    if (process.getuid?.() === 0) {
      const ws = workspace(TMP);
      const r = await run("detector", [...base(ws), "-order", ORDER("hello")], LIFECYCLE_ENV);
      expect(r.code).toBe(1);
      expect(r.errLines[0]).toContain("failed to detect: refusing to run as root");
      expect(r.errLines[0]).toContain(`${ALLOW_ROOT_ENV}=true`);
    }
  });
});
