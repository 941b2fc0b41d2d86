/**
 * End to end (issue: "The RFC … End to end"): the compiled binary builds the fixture app with the test buildpacks
 * into an OCI layout, with the launcher build.ts makes (the static Rust one of launcher/, or without its toolchain
 * the multi-call binary); the run image is busybox-static plus the glibc files that launcher needs (none for the
 * Rust one); umoci unpacks the result; the image's entrypoint runs in a chroot of it (as root, in a private mount
 * and PID namespace with its own /proc, which Bun's executables need). A rebuild reuses every layer and gives the
 * same digest.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { busyboxMissing, makeHostRunImage } from "../fixtures/run-image.ts";
import { buildLauncher } from "../launcher/build-launcher.ts";
import { tmpDir } from "./helpers/images.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const isRoot = process.getuid?.() === 0;
const missing = !isRoot ? "needs root (chroot, unshare, chown)" : busyboxMissing();
if (missing) console.warn(`e2e.test.ts: skipped: ${missing}`);
const maybe = missing ? test.skip : test;

let work: string;
let bin: string;
let launcher: string;
let rustLauncher = false;
let oci: string;
let app: string;
let layers: string;
let cache: string;

function create(extra: string[] = [], o: { runImage?: string; order?: string; layers?: string; image?: string } = {}) {
  const args = [
    "creator",
    "-oci",
    "-oci-dir",
    oci,
    "-run-image",
    o.runImage ?? "cnb/busybox-run:v1",
    "-layers",
    o.layers ?? layers,
    "-app",
    app,
    "-cache-dir",
    cache,
    "-buildpacks",
    path.join(work, "buildpacks"),
    "-order",
    o.order ?? path.join(work, "build.toml"),
    "-platform",
    path.join(work, "platform"),
    "-launcher",
    launcher,
    "-uid",
    "1000",
    "-gid",
    "1000",
    ...extra,
    o.image ?? "e2e-app",
  ];
  const r = spawnSync(bin, args, { encoding: "utf8", env: { PATH: process.env.PATH, CNB_PLATFORM_API: "0.15" } });
  if (r.status !== 0) throw new Error(`creator exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return { out: r.stdout, digest: /\*\*\* Digest: (sha256:\w+)/.exec(r.stdout)?.[1] as string };
}

/** Unpacks an app image with umoci into a bundle a chroot can run (its rootfs reachable, the device nodes there). */
function unpack(image: string, bundle: string) {
  const u = spawnSync("umoci", ["unpack", "--image", `${path.join(oci, image)}:latest`, bundle], { encoding: "utf8" });
  if (u.error) throw new Error(`umoci is not installed (CI installs it): ${u.error.message}`);
  expect(u.status).toBe(0);
  // umoci makes the rootfs 0700 (a runtime enters it as root); the chroot below switches to the image's user.
  fs.chmodSync(path.join(bundle, "rootfs"), 0o755);
  // The device nodes a container runtime would provide (Bun opens /dev/null for an ignored stdio).
  for (const [name, minor] of [["null", 3], ["zero", 5], ["urandom", 9]] as const) {
    expect(spawnSync("mknod", ["-m", "666", path.join(bundle, "rootfs/dev", name), "c", "1", String(minor)]).status).toBe(0);
  }
}

/** Runs `argv` inside the unpacked image with the image's env, as the image's user. */
function runInImage(bundle: string, argv: string[], extraEnv: string[] = []) {
  const cfg = JSON.parse(fs.readFileSync(path.join(bundle, "config.json"), "utf8"));
  const env: string[] = [...cfg.process.env, ...extraEnv];
  const rootfs = path.join(bundle, "rootfs");
  // busybox's env switches to the image's environment; chroot --userspec gives the image's user.
  const r = spawnSync("unshare", [
    "-m",
    "-p",
    "-f",
    `--mount-proc=${path.join(rootfs, "proc")}`,
    "chroot",
    `--userspec=${cfg.process.user.uid}:${cfg.process.user.gid}`,
    rootfs,
    "/bin/env",
    "-i",
    ...env,
    ...argv,
  ], { encoding: "utf8", cwd: rootfs });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(() => {
  if (missing) return;
  work = tmpDir("e2e-");
  fs.chmodSync(work, 0o755);
  bin = path.join(work, "lifecycle");
  const c = spawnSync(process.execPath, ["build", "--compile", path.join(ROOT, "src/main.ts"), path.join(ROOT, "src/layer/worker.ts"), "--outfile", bin], {
    encoding: "utf8",
  });
  if (c.status !== 0) throw new Error(`compile failed: ${c.stderr}`);
  const built = buildLauncher({ targetDir: path.join(ROOT, "dist", "launcher-build"), quiet: true });
  rustLauncher = "file" in built;
  if ("file" in built) {
    // The exporter runs as uid 1000, which may not reach dist/ in this checkout.
    launcher = path.join(work, "launcher");
    fs.copyFileSync(built.file, launcher);
    fs.chmodSync(launcher, 0o755);
  } else {
    console.warn(`e2e.test.ts: the Rust launcher cannot be built here (${built.missing}): the image gets the multi-call binary`);
    launcher = bin;
  }
  oci = path.join(work, "oci");
  app = path.join(work, "workspace");
  layers = path.join(work, "layers");
  cache = path.join(work, "cache");
  for (const d of [oci, layers, cache, path.join(work, "platform")]) fs.mkdirSync(d, { recursive: true });
  fs.cpSync(path.join(ROOT, "fixtures/app"), app, { recursive: true });
  // The creator drops to uid 1000, which may not reach this checkout (a private clone directory): the
  // buildpacks and the order go beside the rest, in the world-readable work directory.
  fs.cpSync(path.join(ROOT, "fixtures/buildpacks"), path.join(work, "buildpacks"), { recursive: true });
  fs.copyFileSync(path.join(ROOT, "fixtures/order/build.toml"), path.join(work, "build.toml"));
  spawnSync("chown", ["-R", "1000:1000", app]);
}, 120_000);

describe("end to end", () => {
  maybe("build on a busybox run image, unpack with umoci, run the entrypoint in a chroot; rebuild reuses and reproduces", async () => {
    await makeHostRunImage(oci, "cnb/busybox-run", "v1", launcher);
    const first = create();
    expect(first.out).toContain("===> ANALYZING");
    expect(first.out).toContain("===> EXPORTING");
    expect(first.out).toContain("Adding layer 'test/hello:hello'");

    const bundle = path.join(work, "bundle");
    unpack("e2e-app", bundle);
    const cfg = JSON.parse(fs.readFileSync(path.join(bundle, "config.json"), "utf8"));
    expect(cfg.process.args).toEqual(["/cnb/process/web"]);
    // The image's launcher is the one given; the Rust one is static, so the run image carries no C library.
    expect(fs.readFileSync(path.join(bundle, "rootfs/cnb/lifecycle/launcher")).equals(fs.readFileSync(launcher))).toBe(true);
    if (rustLauncher) expect(spawnSync("find", [path.join(bundle, "rootfs"), "-name", "libc.so*"], { encoding: "utf8" }).stdout).toBe("");

    // The default process, with its launch env.
    const web = runInImage(bundle, cfg.process.args);
    expect(web.err).toBe("");
    expect(web.out).toContain("hello from the launcher");
    expect(web.out).toContain("GREETING=hi");
    expect(web.code).toBe(0);
    // User args replace the default args.
    const worker = runInImage(bundle, ["/cnb/process/worker", "x", "y"]);
    expect(worker.out).toContain("args: worker x y");
    // exec.d runs before the app and its output reaches the app's env; profile.d is for shell processes only.
    const execd = runInImage(bundle, ["/cnb/process/execd"]);
    expect(execd.out).toContain("EXECD_VAR=from-exec.d PROFILE_VAR=unset");
    // A shell process through the plain launcher sources profile.d.
    const shell = runInImage(bundle, ["/cnb/lifecycle/launcher", "echo PROFILE_VAR=$PROFILE_VAR"]);
    if (fs.existsSync(path.join(bundle, "rootfs/bin/bash"))) expect(shell.out).toContain("PROFILE_VAR=from-profile.d");
    // The environment: the lifecycle's own variables are stripped, the layers' bin dirs are on PATH.
    const env = runInImage(bundle, ["/cnb/lifecycle/launcher", "--", "env"]);
    expect(env.out).not.toContain("CNB_LAYERS_DIR=");
    expect(env.out).not.toContain("CNB_PLATFORM_API=");
    expect(env.out).toMatch(/PATH=[^\n]*test_hello\/hello\/bin/);
    // The app's exit code is the container's.
    expect(runInImage(bundle, ["/cnb/lifecycle/launcher", "--", "sh", "-c", "exit 7"]).code).toBe(7);

    const second = create();
    expect(second.out).toContain("Reusing layer 'test/hello:hello'");
    expect(second.out).toContain("Reusing layer 'buildpacksio/lifecycle:launcher'");
    expect(second.digest).toBe(first.digest);
  }, 300_000);

  maybe(
    "a group mixing Buildpack API 0.7, 0.8, 0.9 and 0.12: built, and run in a chroot (direct and shell processes, user args appended before 0.9)",
    async () => {
      expect(rustLauncher).toBe(true); // the TypeScript fallback launcher has no Buildpack API < 0.9 rules
      if (!fs.existsSync("/bin/bash")) throw new Error("/bin/bash is needed for the run image's shell processes");
      await makeHostRunImage(oci, "cnb/bash-run", "v1", launcher, { uid: 1000, gid: 1000 }, ["/bin/bash"]);
      fs.copyFileSync(path.join(ROOT, "fixtures/order/legacy.toml"), path.join(work, "legacy.toml"));
      const legacyLayers = path.join(work, "legacy-layers");
      const r = create([], { runImage: "cnb/bash-run:v1", order: path.join(work, "legacy.toml"), layers: legacyLayers, image: "legacy-app" });
      for (const bp of ["0.7", "0.8", "0.9"]) expect(r.out).toContain(`---> Legacy ${bp} buildpack`);
      const bundle = path.join(work, "legacy-bundle");
      unpack("legacy-app", bundle);
      // 0.7, direct: the default args, then the user's appended; no profile.d for a direct process.
      expect(runInImage(bundle, ["/cnb/process/legacy-direct", "two"]).out).toBe("legacy-hello one two LEGACY_VAR=from-0.7 PROFILE_07=unset\n");
      // 0.7, no `direct`: a bash script after profile.d.
      const shell = runInImage(bundle, ["/cnb/process/legacy-shell"]);
      expect(shell.err).toBe("");
      expect(shell.out).toBe("shell LEGACY_VAR=from-0.7 PROFILE_07=from-profile.d\n");
      // 0.7 had no working-dir: the process runs in the app directory; 0.8's runs in its own.
      expect(runInImage(bundle, ["/cnb/process/legacy-wd"]).out).toBe(`${app}\n`);
      expect(runInImage(bundle, ["/cnb/process/legacy-08"]).out).toBe("from 0.8 in /tmp\n");
      // 0.9: user args replace the default args; the command's tail always stays.
      expect(runInImage(bundle, ["/cnb/process/legacy-09"]).out).toBe("from-0.9 default-arg\n");
      expect(runInImage(bundle, ["/cnb/process/legacy-09", "mine"]).out).toBe("from-0.9 mine\n");
      // 0.12 in the same image.
      expect(runInImage(bundle, ["/cnb/process/web"]).out).toContain("hello from the launcher");
    },
    300_000,
  );
});
