/**
 * The Docker daemon target (issue 12) against a real Docker-API daemon, podman's service on a unix socket: the
 * analyzer and exporter find the run image and the previous image there, the exporter loads the app image and
 * reports its image ID, reused layers go as placeholders, the launch cache serves reused layers, the rebaser
 * puts the app on a new run image, a root-owned 0600 socket works through the drop to the build user, and an
 * absent daemon is a clear error naming DOCKER_HOST.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { parse as parseToml } from "smol-toml";
import { makeBuiltLayers, makeRunImage, tmpDir } from "./helpers/images.ts";
import { startPodman, type TestDaemon } from "./helpers/podman.ts";
import { compiledLifecycle, run, tool } from "./helpers/run.ts";
import { FIX, workspace } from "./helpers/workspace.ts";

let d: TestDaemon;

/** Loads a run image written as a layout into the daemon as `name` (through skopeo's docker-archive and podman load). */
async function loadRunImage(name: string, tag: string, seed: string): Promise<{ diffIDs: string[] }> {
  const root = tmpDir("daemon-run-");
  const info = await makeRunImage(path.join(root, "oci"), "run", tag, { seed });
  const archive = path.join(root, "run.tar");
  tool("skopeo", ["copy", "--insecure-policy", `oci:${info.layout}:${tag}`, `docker-archive:${archive}:${name}`]);
  d.podman(["load", "-i", archive]);
  return { diffIDs: info.layers.map((l) => l.diffID) };
}

interface Inspect {
  Id: string;
  RepoTags: string[];
  RootFS: { Layers: string[] };
  Config: { Labels?: Record<string, string>; Entrypoint?: string[] };
}

let RUN1: { diffIDs: string[] };
let RUN2: { diffIDs: string[] };
beforeAll(async () => {
  d = await startPodman();
  RUN1 = await loadRunImage("localhost/run:v1", "v1", "one");
  RUN2 = await loadRunImage("localhost/run:v2", "v2", "two");
}, 120_000);
afterAll(() => d?.stop());

function setup() {
  const root = tmpDir("daemon-");
  const b = makeBuiltLayers(root);
  const env = { CNB_LAYERS_DIR: b.layers, CNB_APP_DIR: b.app, CNB_PLATFORM_API: "0.15", DOCKER_HOST: d.host };
  return { root, b, env };
}

describe("the Docker daemon (-daemon)", () => {
  test("analyze and export: the app image is loaded, tagged, reported by image ID, on the run image's layers", async () => {
    const s = setup();
    const a = await run("analyzer", ["-daemon", "-run-image", "localhost/run:v1", "localhost/app:one"], s.env);
    expect(a.err).toBe("");
    expect(a.code).toBe(0);
    const analyzed = parseToml(fs.readFileSync(path.join(s.b.layers, "analyzed.toml"), "utf8")) as { "run-image": { reference: string } };
    const runInspect = (await d.api<Inspect>("/images/localhost/run:v1/json")) as Inspect;
    expect(analyzed["run-image"].reference).toBe(runInspect.Id);

    const e = await run("exporter", ["-daemon", "-launcher", s.b.launcher, "-log-level", "debug", "localhost/app:one", "localhost/app:other"], s.env);
    expect(e.err).toBe("");
    expect(e.code).toBe(0);
    expect(e.out).toContain(
      `Loading into the daemon: ${
        RUN1.diffIDs.length + 5
      } layers, ${RUN1.diffIDs.length} of them already there, 0 from the launch cache, 0 read back from the daemon`,
    );
    const report = parseToml(fs.readFileSync(path.join(s.b.layers, "report.toml"), "utf8")) as { image: Record<string, unknown> };
    const app = (await d.api<Inspect>("/images/localhost/app:one/json")) as Inspect;
    expect(report.image["image-id"]).toBe(app.Id);
    expect(report.image.digest).toBeUndefined();
    expect(report.image.tags).toEqual(["localhost/app:one", "localhost/app:other"]);
    expect(e.out).toContain(`*** Image ID: ${app.Id}`);
    expect(app.RepoTags.sort()).toEqual(["localhost/app:one", "localhost/app:other"]);
    expect(app.RootFS.Layers.slice(0, RUN1.diffIDs.length)).toEqual(RUN1.diffIDs);
    expect(app.RootFS.Layers.length).toBe(RUN1.diffIDs.length + 5);
    expect(app.Config.Entrypoint).toEqual(["/cnb/process/web"]);
    const md = JSON.parse(app.Config.Labels?.["io.buildpacks.lifecycle.metadata"] ?? "{}");
    expect(md.runImage.reference).toBe(runInspect.Id);

    // What the daemon holds is a whole image: it saves as a docker-archive that skopeo reads, layer for layer.
    const saved = path.join(s.root, "saved.tar");
    d.podman(["save", "-o", saved, "localhost/app:one"]);
    const inspected = JSON.parse(tool("skopeo", ["inspect", "--config", `docker-archive:${saved}`]));
    expect(inspected.rootfs.diff_ids).toEqual(app.RootFS.Layers);
  });

  test("a rebuild finds the previous image in the daemon, reuses its layers, and the launch cache serves them", async () => {
    const s = setup();
    const launchCache = path.join(s.root, "launch-cache");
    const flow = async (tag: string) => {
      expect((await run("analyzer", ["-daemon", "-run-image", "localhost/run:v1", "-launch-cache", launchCache, "localhost/app:rebuild"], s.env)).code)
        .toBe(0);
      return run("exporter", ["-daemon", "-launcher", s.b.launcher, "-launch-cache", launchCache, "-log-level", "debug", `localhost/app:${tag}`], s.env);
    };
    const first = await flow("rebuild");
    expect(first.code).toBe(0);
    const before = (await d.api<Inspect>("/images/localhost/app:rebuild/json")) as Inspect;
    const cached = fs.readdirSync(path.join(launchCache, "layers")).sort();
    expect(cached).toEqual(before.RootFS.Layers.slice(RUN1.diffIDs.length).map((x) => x.replace(":", "-")).sort());
    const second = await flow("rebuild");
    expect(second.err).toBe("");
    expect(second.code).toBe(0);
    expect(second.out).toContain("Reusing layer 'test/hello:hello'");
    // Every layer is in the daemon already, in the same chain: nothing is sent.
    expect(second.out).toContain(
      `Loading into the daemon: ${before.RootFS.Layers.length} layers, ${before.RootFS.Layers.length} of them already there, 0 from the launch cache`,
    );
    const after = (await d.api<Inspect>("/images/localhost/app:rebuild/json")) as Inspect;
    expect(after.Id).toBe(before.Id);

    // On another run image the reused layers are in another chain: the daemon needs their bytes, which the launch
    // cache has.
    const onV2 = async (args: string[]) => {
      expect((await run("analyzer", ["-daemon", "-run-image", "localhost/run:v2", ...args, "localhost/app:rebuild"], s.env)).code).toBe(0);
      return run("exporter", ["-daemon", "-launcher", s.b.launcher, ...args, "-log-level", "debug", "localhost/app:rebuild"], s.env);
    };
    const third = await onV2(["-launch-cache", launchCache]);
    expect(third.code).toBe(0);
    expect(third.out).toContain("Reusing layer 'test/hello:hello'");
    const reused = before.RootFS.Layers.length - RUN1.diffIDs.length;
    expect(third.out).toContain(`layers, ${RUN2.diffIDs.length} of them already there, ${reused} from the launch cache, 0 read back from the daemon`);
    const v2 = (await d.api<Inspect>("/images/localhost/app:rebuild/json")) as Inspect;
    expect(v2.RootFS.Layers).toEqual([...RUN2.diffIDs, ...before.RootFS.Layers.slice(RUN1.diffIDs.length)]);
    // Without the launch cache, back on v1: they are read back from the daemon's copy of the previous image.
    const fourth = await (async () => {
      expect((await run("analyzer", ["-daemon", "-run-image", "localhost/run:v1", "localhost/app:rebuild"], s.env)).code).toBe(0);
      return run("exporter", ["-daemon", "-launcher", s.b.launcher, "-log-level", "debug", "localhost/app:rebuild"], s.env);
    })();
    expect(fourth.err).toBe("");
    expect(fourth.code).toBe(0);
    expect(fourth.out).toContain(`layers, ${RUN1.diffIDs.length} of them already there, 0 from the launch cache, ${reused} read back from the daemon`);
    expect(((await d.api<Inspect>("/images/localhost/app:rebuild/json")) as Inspect).Id).toBe(before.Id);
  }, 120_000);

  test("pack's default flow: the creator with -daemon, a launch cache and a cache directory, twice; the second reuses every layer", async () => {
    const ws = workspace(tmpDir("daemon-creator-"));
    fs.mkdirSync(path.join(ws.root, "cache")); // pack mounts its cache volume there
    const argv = [
      "-daemon",
      "-launch-cache",
      path.join(ws.root, "launch-cache"),
      "-cache-dir",
      path.join(ws.root, "cache"),
      "-app",
      ws.app,
      "-layers",
      ws.layers,
      "-platform",
      ws.platform,
      "-buildpacks",
      path.join(FIX, "buildpacks"),
      "-order",
      path.join(FIX, "order", "hello.toml"),
      "-run-image",
      "localhost/run:v1",
      "-launcher",
      path.join(FIX, "app", "hello.txt"),
      "-log-level",
      "debug",
    ];
    const env = { PATH: process.env.PATH ?? "", CNB_LIFECYCLE_ALLOW_ROOT: "true", CNB_PLATFORM_API: "0.13", DOCKER_HOST: d.host };
    const first = await run("creator", [...argv, "localhost/created:latest"], env);
    expect(first.err).toBe("");
    expect(first.code).toBe(0);
    const before = (await d.api<Inspect>("/images/localhost/created:latest/json")) as Inspect;
    expect(first.out).toContain(`*** Image ID: ${before.Id}`);
    expect(before.RootFS.Layers.slice(0, RUN1.diffIDs.length)).toEqual(RUN1.diffIDs);
    const second = await run("creator", [...argv, "localhost/created:latest"], env);
    expect(second.code).toBe(0);
    expect(second.out).toContain(`Loading into the daemon: ${before.RootFS.Layers.length} layers, ${before.RootFS.Layers.length} of them already there`);
    expect(((await d.api<Inspect>("/images/localhost/created:latest/json")) as Inspect).Id).toBe(before.Id);
  }, 120_000);

  test("the rebaser puts the app image on a new run image in the daemon", async () => {
    const s = setup();
    expect((await run("analyzer", ["-daemon", "-run-image", "localhost/run:v1", "localhost/app:rebase"], s.env)).code).toBe(0);
    expect((await run("exporter", ["-daemon", "-launcher", s.b.launcher, "localhost/app:rebase"], s.env)).code).toBe(0);
    const before = (await d.api<Inspect>("/images/localhost/app:rebase/json")) as Inspect;
    const report = path.join(s.root, "rebase-report.toml");
    const r = await run("rebaser", ["-daemon", "-force", "-run-image", "localhost/run:v2", "-report", report, "localhost/app:rebase"], s.env);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const after = (await d.api<Inspect>("/images/localhost/app:rebase/json")) as Inspect;
    expect(after.Id).not.toBe(before.Id);
    expect(after.RootFS.Layers).toEqual([...RUN2.diffIDs, ...before.RootFS.Layers.slice(RUN1.diffIDs.length)]);
    expect((parseToml(fs.readFileSync(report, "utf8")) as { image: Record<string, unknown> }).image["image-id"]).toBe(after.Id);
  });

  test("an absent daemon is a clear error naming DOCKER_HOST, with the phase's exit code", async () => {
    const s = setup();
    const host = `unix://${path.join(s.root, "no-daemon.sock")}`;
    const a = await run("analyzer", ["-daemon", "-run-image", "localhost/run:v1", "localhost/app:x"], { ...s.env, DOCKER_HOST: host });
    expect(a.code).toBe(32);
    expect(a.err).toContain(`cannot reach the Docker daemon at DOCKER_HOST=${host}: no daemon listens there`);
    const e = await run("exporter", ["-daemon", "-launcher", s.b.launcher, "localhost/app:x"], { ...s.env, DOCKER_HOST: host });
    expect(e.code).toBe(62);
    expect(e.err).toContain(`DOCKER_HOST=${host}`);
  });

  test("a root-owned 0600 socket: the binary connects before it drops to the build user", async () => {
    if (process.getuid?.() !== 0) {
      console.warn("SKIP: the 0600 socket test needs root (it runs the binary as root with -uid/-gid)");
      return;
    }
    const s = setup();
    const bin = compiledLifecycle();
    fs.chmodSync(s.root, 0o755);
    spawnSync("chown", ["-R", "1234:1000", s.b.layers, s.b.app]);
    fs.chmodSync(d.socket, 0o600);
    try {
      const env = { ...process.env, ...s.env, CNB_USER_ID: "1234", CNB_GROUP_ID: "1000", DOCKER_HOST: `unix://${d.socket}` };
      const phase = (name: string, args: string[]) => spawnSync(bin, [name, ...args], { env, encoding: "utf8" });
      const a = phase("analyzer", ["-daemon", "-run-image", "localhost/run:v1", "localhost/app:root"]);
      expect(a.stderr).toBe("");
      expect(a.status).toBe(0);
      const e = phase("exporter", ["-daemon", "-launcher", s.b.launcher, "localhost/app:root"]);
      expect(e.stderr).toBe("");
      expect(e.status).toBe(0);
      expect(fs.statSync(path.join(s.b.layers, "report.toml")).uid).toBe(1234);
      expect(await d.api<Inspect>("/images/localhost/app:root/json")).toBeDefined();
      // The build user itself cannot open the socket: what the phases did, they did through the connection opened as root.
      const probe = spawnSync("setpriv", [
        "--reuid=1234",
        "--regid=1000",
        "--clear-groups",
        bin,
        "analyzer",
        "-daemon",
        "-run-image",
        "localhost/run:v1",
        "localhost/app:root",
      ], {
        env,
        encoding: "utf8",
      });
      expect(probe.status).toBe(32);
      expect(probe.stderr).toContain(`cannot reach the Docker daemon at DOCKER_HOST=unix://${d.socket}: permission denied`);
    } finally {
      fs.chmodSync(d.socket, 0o660);
    }
  }, 180_000);
});
