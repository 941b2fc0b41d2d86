/**
 * Buildpack API 0.7, 0.8 and 0.9 beside 0.12 (issue 10): one group of fixtures/buildpacks/test_legacy-07, -08,
 * -09 and test/hello (0.12), detected, built and exported by the real phases in process. Each behaviour that
 * differs by API has its check here; the launcher's side (user args appended before 0.9, shell processes) is in
 * test/launcher.test.ts, and the whole group is built and run in a chroot in test/e2e.test.ts.
 */
import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "smol-toml";
import { readBuildpackDescriptor } from "../src/buildpack/descriptor.ts";
import { resolveTarget, targetMatches } from "../src/buildpack/target.ts";
import { Layout } from "../src/image/layout.ts";
import { BUILDPACK_APIS } from "../src/ground/version.ts";
import { makeRunImage, tmpDir } from "./helpers/images.ts";
import { run } from "./helpers/run.ts";
import { FIX, workspace } from "./helpers/workspace.ts";

const ENV = {
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  CNB_PLATFORM_API: "0.15",
  CNB_LIFECYCLE_ALLOW_ROOT: "true",
  CNB_STACK_ID: "io.buildpacks.stacks.test",
};

/** Detects and builds the mixed group in a fresh workspace, the buildpacks' dumps in `<root>/dump`. */
async function detectAndBuild(buildpacks = path.join(FIX, "buildpacks")) {
  const ws = workspace(tmpDir("bpapi-"), { analyzed: '[run-image]\nreference = "r"\n[run-image.target]\nos = "linux"\narch = "amd64"\n' });
  const dump = path.join(ws.root, "dump");
  fs.mkdirSync(dump);
  fs.writeFileSync(path.join(ws.platform, "env", "DUMP_DIR"), dump);
  const dirs = ["-app", ws.app, "-layers", ws.layers, "-platform", ws.platform, "-buildpacks", buildpacks];
  const d = await run("detector", [...dirs, "-order", path.join(FIX, "order", "legacy.toml")], ENV);
  const b = d.code === 0 ? await run("builder", dirs, ENV) : undefined;
  const env = (name: string) => fs.readFileSync(path.join(dump, name), "utf8").split("\n");
  return { ws, d, b, env, dirs };
}

const vars = (lines: string[]) => new Set(lines.map((l) => l.split("=")[0]));

describe("Buildpack API 0.7, 0.8 and 0.9", () => {
  test("lifecycle.toml's list: 0.7 to 0.12", () => {
    expect(BUILDPACK_APIS).toEqual(["0.7", "0.8", "0.9", "0.10", "0.11", "0.12"]);
  });

  test("bin/detect: positional arguments for every API; CNB_PLATFORM_DIR and CNB_BUILD_PLAN_PATH from 0.8; CNB_TARGET_* from 0.10; CNB_STACK_ID passed through", async () => {
    const { d, env } = await detectAndBuild();
    expect(d.err).toBe("");
    expect(d.code).toBe(0);
    const d07 = env("detect-07");
    expect(d07[0]).toBe("args=2");
    expect(vars(d07).has("CNB_BUILDPACK_DIR")).toBe(true);
    expect(vars(d07).has("CNB_PLATFORM_DIR")).toBe(false);
    expect(vars(d07).has("CNB_BUILD_PLAN_PATH")).toBe(false);
    expect(d07).toContain("CNB_STACK_ID=io.buildpacks.stacks.test");
    expect(vars(env("detect-08")).has("CNB_BUILD_PLAN_PATH")).toBe(true);
    expect([...vars(env("detect-09"))].filter((v) => v.startsWith("CNB_TARGET_"))).toEqual([]);
    expect(env("detect-09")).toContain("CNB_STACK_ID=io.buildpacks.stacks.test");
  });

  test("bin/build: three positional arguments for every API; CNB_LAYERS_DIR, CNB_PLATFORM_DIR, CNB_BP_PLAN_PATH from 0.8; CNB_TARGET_* from 0.10", async () => {
    const { b, env } = await detectAndBuild();
    expect(b?.code).toBe(0);
    const b07 = env("build-07");
    expect(b07[0]).toBe("args=3");
    for (const v of ["CNB_LAYERS_DIR", "CNB_PLATFORM_DIR", "CNB_BP_PLAN_PATH"]) expect(vars(b07).has(v)).toBe(false);
    for (const v of ["CNB_LAYERS_DIR", "CNB_PLATFORM_DIR", "CNB_BP_PLAN_PATH"]) expect(vars(env("build-08")).has(v)).toBe(true);
    expect([...vars(env("build-09"))].filter((v) => v.startsWith("CNB_TARGET_"))).toEqual([]);
    expect(vars(env("build-09")).has("CNB_LAYERS_DIR")).toBe(true);
  });

  test("metadata.toml: string commands as one-element arrays, direct as written (unset before 0.9: false), working-dir dropped for 0.7 with a warning, kept for 0.8", async () => {
    const { b, ws } = await detectAndBuild();
    expect(b?.code).toBe(0);
    expect(b?.err).toContain(
      "Warning: process working directory isn't supported in this buildpack api version. Ignoring working directory for process 'legacy-wd'",
    );
    const md = parse(fs.readFileSync(path.join(ws.layers, "config", "metadata.toml"), "utf8")) as {
      processes: Record<string, unknown>[];
      buildpacks: { id: string; api: string }[];
    };
    const p = (type: string) => md.processes.find((x) => x.type === type);
    expect(p("legacy-direct")).toEqual({ type: "legacy-direct", command: ["legacy-hello"], args: ["one"], direct: true, "buildpack-id": "test/legacy-07" });
    expect(p("legacy-shell")).toEqual({
      type: "legacy-shell",
      command: ["echo shell LEGACY_VAR=$LEGACY_VAR PROFILE_07=$PROFILE_07"],
      direct: false,
      "buildpack-id": "test/legacy-07",
    });
    expect(p("legacy-wd")?.["working-dir"]).toBeUndefined();
    expect(p("legacy-08")).toMatchObject({ command: ["echo from 0.8 in $(pwd)"], direct: false, "working-dir": "/tmp" });
    expect(p("legacy-09")).toMatchObject({ command: ["echo", "from-0.9"], args: ["default-arg"], direct: true });
    expect(p("web")).toMatchObject({ direct: true, "buildpack-id": "test/hello" });
    expect(md.buildpacks.map((x) => `${x.id}@${x.api}`)).toEqual(["test/legacy-07@0.7", "test/legacy-08@0.8", "test/legacy-09@0.9", "test/hello@0.12"]);
  });

  test("the legacy [[bom]]: written to sbom/launch/sbom.legacy.json with a warning; the build label has no bom key (Platform >= 0.9)", async () => {
    const { b, ws } = await detectAndBuild();
    expect(b?.err).toContain("Warning: BOM table is deprecated in this buildpack api version");
    const legacy = JSON.parse(fs.readFileSync(path.join(ws.layers, "sbom", "launch", "sbom.legacy.json"), "utf8"));
    expect(legacy).toEqual([{ name: "legacy-dep", metadata: { version: "1.2.3" }, buildpack: { id: "test/legacy-07", version: "0.0.1" } }]);
    const oci = path.join(ws.root, "oci");
    await makeRunImage(oci, "cnb/run", "v1");
    const env = { ...ENV, CNB_USE_OCI: "true", CNB_OCI_PATH: oci, CNB_LAYERS_DIR: ws.layers, CNB_APP_DIR: ws.app };
    expect((await run("analyzer", ["-run-image", "cnb/run:v1", "legacy-app"], env)).code).toBe(0);
    const launcher = path.join(ws.root, "launcher");
    fs.writeFileSync(launcher, "#!/bin/sh\n", { mode: 0o755 });
    const e = await run("exporter", ["-launcher", launcher, "legacy-app"], env);
    expect(e.code).toBe(0);
    const img = await Layout.open(path.join(oci, "legacy-app")).image();
    const build = JSON.parse(img.labels()["io.buildpacks.build.metadata"]);
    expect("bom" in build).toBe(false);
    expect(build.processes.find((x: { type: string }) => x.type === "legacy-shell")).toMatchObject({
      command: ["echo shell LEGACY_VAR=$LEGACY_VAR PROFILE_07=$PROFILE_07"],
      direct: false,
    });
    expect(e.out).toContain("Adding layer 'buildpacksio/lifecycle:launch.sbom'");
  });

  for (
    const [what, id, from, to, message] of [
      [
        "an array command before 0.9",
        "test_legacy-07",
        'command = "legacy-hello"',
        'command = ["legacy-hello"]',
        "command must be a string on Buildpack API 0.7 (an array is for Buildpack API 0.9 and later)",
      ],
      [
        "a string command from 0.9",
        "test_legacy-09",
        'command = ["echo", "from-0.9"]',
        'command = "echo"',
        "command must be an array of strings on Buildpack API 0.9",
      ],
      [
        "direct from 0.9",
        "test_legacy-09",
        'args = ["default-arg"]',
        'args = ["default-arg"]\n  direct = true',
        "process.direct is not supported on this buildpack version",
      ],
    ] as const
  ) {
    test(`launch.toml with ${what} fails the build (exit 52)`, async () => {
      const bps = tmpDir("bps-");
      fs.cpSync(path.join(FIX, "buildpacks"), bps, { recursive: true });
      const script = path.join(bps, id, "0.0.1", "bin", "build");
      fs.writeFileSync(script, fs.readFileSync(script, "utf8").replace(from, to));
      const { b } = await detectAndBuild(bps);
      expect(b?.code).toBe(52);
      expect(b?.err).toContain(message);
    });
  }

  test("[[stacks]] without [[targets]]: bionic is ubuntu 18.04 for 0.10+ or as the only stack; for 0.7 beside another stack it infers nothing", () => {
    const dir = tmpDir("stacks-");
    const descriptor = (api: string, stacks: string[]) => {
      const root = path.join(dir, `${api}-${stacks.join("-")}`);
      fs.mkdirSync(path.join(root, "bin"), { recursive: true });
      fs.writeFileSync(path.join(root, "bin", "build"), "#!/bin/sh\n");
      fs.writeFileSync(
        path.join(root, "buildpack.toml"),
        `api = "${api}"\n[buildpack]\nid = "t/s"\nversion = "1"\n${stacks.map((s) => `[[stacks]]\nid = "${s}"\n`).join("")}`,
      );
      return readBuildpackDescriptor(path.join(root, "buildpack.toml"));
    };
    const jammy = resolveTarget({ os: "linux", arch: "amd64", distro: { name: "ubuntu", version: "22.04" } });
    const matches = (api: string, stacks: string[]) => descriptor(api, stacks).targets.some((t) => targetMatches(jammy, t));
    expect(matches("0.7", ["io.buildpacks.stacks.bionic"])).toBe(false);
    expect(matches("0.7", ["io.buildpacks.stacks.bionic", "io.buildpacks.stacks.jammy"])).toBe(true);
    expect(matches("0.10", ["io.buildpacks.stacks.bionic", "io.buildpacks.stacks.jammy"])).toBe(false);
    expect(matches("0.7", ["*"])).toBe(true);
  });
});
