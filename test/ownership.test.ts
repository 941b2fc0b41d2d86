/**
 * Ownership (issue 8 §1): started as root with a build user, the phases never change the owner or mode of what
 * they do not own — the layers a buildpack (or another user) wrote, the run image layouts, a platform's files in
 * the layers and layout directories — and setuid/setgid bits reach the layer tars. Blobs of the run image stay
 * hardlinked in the app layout although Linux's protected_hardlinks refuses the build user such links. Needs root
 * (chown, setuid); without it every test here is skipped with a message.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { gunzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { Layout } from "../src/image/layout.ts";
import { makeBuiltLayers, makeRunImage, tmpDir } from "./helpers/images.ts";
import { FIX } from "./helpers/workspace.ts";
import { compiledLifecycle } from "./helpers/run.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn("ownership.test.ts: skipped: needs root (chown, setuid)");
const maybe = isRoot ? test : test.skip;
const USER = { uid: 1234, gid: 1234 };

/** owner:group mode of every path under `dir` (not `dir` itself), by path relative to it. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (p: string) => {
    for (const n of fs.readdirSync(p)) {
      const f = path.join(p, n);
      const st = fs.lstatSync(f);
      out.set(path.relative(dir, f), `${st.uid}:${st.gid} ${(st.mode & 0o7777).toString(8)}`);
      if (st.isDirectory()) walk(f);
    }
  };
  walk(dir);
  return out;
}

/** Every pre-existing path keeps its owner and mode. */
function expectUnchanged(before: Map<string, string>, after: Map<string, string>): void {
  const changed = [...before].filter(([p, v]) => after.get(p) !== v).map(([p, v]) => `${p}: ${v} -> ${after.get(p) ?? "(gone)"}`);
  expect(changed).toEqual([]);
}

/** Runs the lifecycle from the sources as its own process (so that it drops privileges). */
function lifecycle(args: string[], env: Record<string, string>) {
  // One compressing thread: a worker's script is read from this checkout after the drop.
  return spawnSync(process.execPath, [path.join(ROOT, "src/main.ts"), ...args], {
    env: { PATH: process.env.PATH ?? "", CNB_LIFECYCLE_WORKERS: "1", ...env },
    encoding: "utf8",
  });
}

/** The tar headers (name, mode, uid, gid) of a gzip layer blob. */
function tarHeaders(blob: string): { name: string; mode: number; uid: number; gid: number }[] {
  const tar = gunzipSync(fs.readFileSync(blob));
  const out: { name: string; mode: number; uid: number; gid: number }[] = [];
  for (let off = 0; off + 512 <= tar.length;) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const str = (a: number, n: number) => new TextDecoder().decode(h.subarray(a, a + n)).replace(/\0.*$/s, "");
    const num = (a: number, n: number) => parseInt(str(a, n).trim() || "0", 8);
    const prefix = str(345, 155);
    out.push({ name: (prefix ? prefix + "/" : "") + str(0, 100), mode: num(100, 8), uid: num(108, 8), gid: num(116, 8) });
    off += 512 + Math.ceil(num(124, 12) / 512) * 512;
  }
  return out;
}

let work: string;
beforeAll(() => {
  if (!isRoot) return;
  work = tmpDir("ownership-");
  fs.chmodSync(work, 0o755);
});

describe("ownership, started as root", () => {
  maybe("a creator run changes no owner or mode under the layers and layout directories; run blobs stay hardlinked", async () => {
    const root = fs.mkdtempSync(path.join(work, "creator-"));
    fs.chmodSync(root, 0o755);
    const oci = path.join(root, "oci");
    const run = await makeRunImage(oci, "cnb/run", "bionic");
    // A platform's files: a root-only secret hardlinked into the layout directory, a setuid helper, notes.
    const secret = path.join(root, "secret");
    fs.writeFileSync(secret, "root only\n", { mode: 0o600 });
    fs.linkSync(secret, path.join(oci, "cnb", "run", "secret-link"));
    fs.mkdirSync(path.join(oci, "platform"));
    fs.writeFileSync(path.join(oci, "platform", "helper"), "#!/bin/sh\n", { mode: 0o644 });
    fs.chmodSync(path.join(oci, "platform", "helper"), 0o4755);
    // The layers directory: root's, with the platform's order.toml and project metadata in it.
    const layers = path.join(root, "layers");
    fs.mkdirSync(layers, { mode: 0o755 });
    fs.copyFileSync(path.join(FIX, "order/hello.toml"), path.join(layers, "order.toml"));
    fs.writeFileSync(path.join(layers, "project-metadata.toml"), '[source]\ntype = "git"\n', { mode: 0o644 });
    const app = path.join(root, "workspace");
    fs.cpSync(path.join(FIX, "app"), app, { recursive: true });
    fs.cpSync(path.join(FIX, "buildpacks"), path.join(root, "buildpacks"), { recursive: true });
    const launcher = path.join(root, "launcher");
    fs.writeFileSync(launcher, "#!/bin/sh\n", { mode: 0o755 });
    const cache = path.join(root, "cache");
    fs.mkdirSync(cache);
    fs.writeFileSync(path.join(cache, "old"), "x");
    const before = { layers: snapshot(layers), oci: snapshot(oci) };

    const r = lifecycle(
      [
        "creator",
        "-oci",
        "-oci-dir",
        oci,
        "-run-image",
        "cnb/run:bionic",
        "-layers",
        layers,
        "-app",
        app,
        "-cache-dir",
        cache,
        "-buildpacks",
        path.join(root, "buildpacks"),
        "-platform",
        path.join(root, "platform"),
        "-launcher",
        launcher,
        "-uid",
        String(USER.uid),
        "-gid",
        String(USER.gid),
        "my-app",
      ],
      { CNB_PLATFORM_API: "0.15" },
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expectUnchanged(before.layers, snapshot(layers));
    expectUnchanged(before.oci, snapshot(oci));
    expect(fs.readFileSync(secret, "utf8")).toBe("root only\n");
    // What the lifecycle wrote is the build user's; the cache volume is handed over whole (it was root's).
    const appLayout = Layout.open(path.join(oci, "my-app"));
    for (
      const f of [
        appLayout.dir,
        path.join(appLayout.dir, "index.json"),
        path.join(layers, "report.toml"),
        path.join(layers, "test_hello", "hello"),
        path.join(cache, "old"),
      ]
    ) {
      expect(`${f}: ${fs.statSync(f).uid}`).toBe(`${f}: ${USER.uid}`);
    }
    // The run image's blobs are hardlinks (made as root before the drop), not copies, and keep root's ownership.
    for (const l of run.layers) {
      const st = fs.statSync(appLayout.blobPath(l.digest));
      expect(st.ino).toBe(fs.statSync(path.join(run.layout, "blobs", "sha256", l.digest.slice(7))).ino);
      expect(st.uid).toBe(0);
    }
    expect(r.stdout).not.toContain("Copied");
  }, 120_000);

  maybe("the exporter alone over another user's layers: setuid/setgid bits reach the tar, parents keep their owner, nothing changes on disk", async () => {
    const root = fs.mkdtempSync(path.join(work, "exporter-"));
    fs.chmodSync(root, 0o755);
    const oci = path.join(root, "oci");
    await makeRunImage(oci, "cnb/run", "bionic");
    const b = makeBuiltLayers(root);
    const layerDir = path.join(b.layers, "test_hello", "hello");
    fs.writeFileSync(path.join(layerDir, "bin", "suid"), "#!/bin/sh\n");
    fs.writeFileSync(path.join(layerDir, "bin", "sgid"), "#!/bin/sh\n");
    // Everything under the layers directory belongs to another user, 2000, who wrote it.
    spawnSync("chown", ["-R", "2000:2000", b.layers, b.app]);
    fs.chmodSync(path.join(layerDir, "bin", "suid"), 0o4755);
    fs.chmodSync(path.join(layerDir, "bin", "sgid"), 0o2755);
    const env = { CNB_USE_OCI: "true", CNB_OCI_PATH: oci, CNB_LAYERS_DIR: b.layers, CNB_APP_DIR: b.app, CNB_PLATFORM_API: "0.15" };
    const a = lifecycle(["analyzer", "-run-image", "cnb/run:bionic", "my-app"], env);
    expect(a.status).toBe(0);
    spawnSync("chown", ["2000:2000", path.join(b.layers, "analyzed.toml")]);
    const before = snapshot(b.layers);
    const report = path.join(root, "out", "report.toml");
    fs.mkdirSync(path.dirname(report));
    fs.chownSync(path.dirname(report), USER.uid, USER.gid);
    const e = lifecycle(["exporter", "-launcher", b.launcher, "-report", report, "-uid", String(USER.uid), "-gid", String(USER.gid), "my-app"], env);
    expect(e.stderr).toBe("");
    expect(e.status).toBe(0);
    expectUnchanged(before, snapshot(b.layers));
    expect(fs.statSync(path.join(layerDir, "bin", "suid")).mode & 0o7777).toBe(0o4755);

    const img = await Layout.open(path.join(oci, "my-app")).image();
    const md = JSON.parse(img.labels()["io.buildpacks.lifecycle.metadata"]);
    const diffID = md.buildpacks[0].layers.hello.sha as string;
    const layer = img.layers().find((l) => l.diffID === diffID)!;
    const headers = tarHeaders(img.layout.blobPath(layer.digest));
    const byName = new Map(headers.map((h) => [h.name, h]));
    expect(byName.get(`${layerDir}/bin/suid`)?.mode).toBe(0o4755);
    expect(byName.get(`${layerDir}/bin/sgid`)?.mode).toBe(0o2755);
    // Contents carry the build user (-uid/-gid); parents their real owner, as the reference writes them.
    expect(byName.get(`${layerDir}/bin/suid`)?.uid).toBe(USER.uid);
    expect(byName.get(b.layers)?.uid).toBe(2000);
    expect(byName.get(path.dirname(layerDir))?.uid).toBe(2000);
    // The same diffID as the reference's tar writer (the Go oracle) gives for this directory.
    if (spawnSync("go", ["version"]).status === 0) {
      const out = path.join(root, "oracle.tar");
      const g = spawnSync("go", [
        "run",
        path.join(ROOT, "test/oracle/lifecycle-tar.go"),
        "-kind",
        "dir",
        "-disk",
        layerDir,
        "-image",
        layerDir,
        "-uid",
        String(USER.uid),
        "-gid",
        String(USER.gid),
        "-out",
        out,
      ], { encoding: "utf8" });
      expect(g.stderr).toBe("");
      expect(`sha256:${new Bun.CryptoHasher("sha256").update(fs.readFileSync(out)).digest("hex")}`).toBe(diffID);
    } else console.warn("ownership.test.ts: go is not installed: the oracle comparison is skipped (CI installs golang-go)");
  }, 120_000);

  maybe("started as the build user, blobs the kernel will not let it hardlink are copied, and the log says how many", async () => {
    const root = fs.mkdtempSync(path.join(work, "user-"));
    fs.chmodSync(root, 0o755);
    const oci = path.join(root, "oci");
    const run = await makeRunImage(oci, "cnb/run", "bionic");
    const b = makeBuiltLayers(root);
    // The build user owns its layers and app; the run image stays root's, and the layout directory too.
    spawnSync("chown", ["-R", `${USER.uid}:${USER.gid}`, b.layers, b.app]);
    fs.mkdirSync(path.join(oci, "my-app"));
    fs.chownSync(path.join(oci, "my-app"), USER.uid, USER.gid);
    const env = {
      CNB_USE_OCI: "true",
      CNB_OCI_PATH: oci,
      CNB_LAYERS_DIR: b.layers,
      CNB_APP_DIR: b.app,
      CNB_PLATFORM_API: "0.15",
      CNB_LIFECYCLE_WORKERS: "1",
      PATH: process.env.PATH ?? "",
    };
    const asUser = (args: string[]) =>
      spawnSync("setpriv", [`--reuid=${USER.uid}`, `--regid=${USER.gid}`, "--clear-groups", compiledLifecycle(), ...args], { env, encoding: "utf8" });
    expect(asUser(["analyzer", "-run-image", "cnb/run:bionic", "my-app"]).status).toBe(0);
    const e = asUser(["exporter", "-launcher", b.launcher, "my-app"]);
    expect(e.stderr).toBe("");
    expect(e.status).toBe(0);
    const bytes = run.layers.reduce((n, l) => n + l.size, 0);
    expect(e.stdout).toContain(`Copied ${run.layers.length} blob(s) (${(bytes / 1e6).toFixed(1)} MB) from other layouts into ${path.join(oci, "my-app")}`);
    const appLayout = Layout.open(path.join(oci, "my-app"));
    for (const l of run.layers) expect(fs.statSync(appLayout.blobPath(l.digest)).uid).toBe(USER.uid);
  }, 120_000);

  maybe("an app layout left by an earlier build as root is written by the build user; its blobs keep their owner", async () => {
    const root = fs.mkdtempSync(path.join(work, "rebuild-"));
    fs.chmodSync(root, 0o755);
    const oci = path.join(root, "oci");
    await makeRunImage(oci, "cnb/run", "bionic");
    const b = makeBuiltLayers(root);
    const env = { CNB_USE_OCI: "true", CNB_OCI_PATH: oci, CNB_LAYERS_DIR: b.layers, CNB_APP_DIR: b.app, CNB_PLATFORM_API: "0.15" };
    expect(lifecycle(["analyzer", "-run-image", "cnb/run:bionic", "my-app"], env).status).toBe(0);
    const first = lifecycle(["exporter", "-launcher", b.launcher, "my-app"], env);
    expect(first.status).toBe(0);
    const app = path.join(oci, "my-app");
    const blobs = fs.readdirSync(path.join(app, "blobs", "sha256")).map((n) => path.join(app, "blobs", "sha256", n));
    expect(blobs.every((f) => fs.statSync(f).uid === 0)).toBe(true);
    // The builder, as the build user, left the layers directory as its own; a change makes a new app layer.
    spawnSync("chown", ["-R", `${USER.uid}:${USER.gid}`, b.layers, b.app]);
    fs.writeFileSync(path.join(b.app, "new.txt"), "new\n");
    const second = lifecycle(["exporter", "-launcher", b.launcher, "-uid", String(USER.uid), "-gid", String(USER.gid), "my-app"], env);
    expect(second.stderr).toBe("");
    expect(second.status).toBe(0);
    expect(fs.statSync(app).uid).toBe(USER.uid);
    expect(fs.statSync(path.join(app, "index.json")).uid).toBe(USER.uid);
    for (const f of blobs) expect(fs.statSync(f).uid).toBe(0);
  }, 120_000);
});
