/**
 * Archives and mixed sources (issue 12): `-oci-archive` and `-docker-archive` written complete, read by skopeo
 * (inspect, copy) and podman load, from a run image in a layout or in a registry (a sparse layout's blobs from
 * its registry, or a clear error), never left half-written; a run image in a registry with the app image in a
 * layout (sparse, or complete with -oci-full, fetched once); a run image in a layout with the app image pushed to a
 * registry; and one target per export.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { makeBuiltLayers, makeRunImage, type RunImageInfo, tmpDir } from "./helpers/images.ts";
import { startPodman, type TestDaemon } from "./helpers/podman.ts";
import { startRegistry, type TestRegistry } from "./helpers/registry.ts";
import { run, tool } from "./helpers/run.ts";

let reg: TestRegistry;
let d: TestDaemon;
let RUN: RunImageInfo;
let RUN_REF: string;
beforeAll(async () => {
  reg = await startRegistry();
  d = await startPodman();
  RUN = await makeRunImage(path.join(tmpDir("archive-run-"), "oci"), "run", "v1");
  RUN_REF = `${reg.host}/run:v1`;
  tool("skopeo", ["copy", "--insecure-policy", "--dest-tls-verify=false", `oci:${RUN.layout}:v1`, `docker://${RUN_REF}`]);
}, 120_000);
afterAll(() => {
  reg?.stop();
  d?.stop();
});

/** Built layers and an OCI directory holding the run image as a full layout (`cnb/run:v1`), or as a sparse one. */
async function setup(opts: { sparse?: boolean } = {}) {
  const root = tmpDir("archive-");
  const b = makeBuiltLayers(root);
  const oci = path.join(root, "oci");
  const env = { CNB_LAYERS_DIR: b.layers, CNB_APP_DIR: b.app, CNB_PLATFORM_API: "0.15" };
  return { root, b, oci, env, run: opts.sparse ? await makeRunImage(oci, "cnb/run", "v1", { sparse: true }) : undefined };
}

/** Copies the registry's run image into `<oci>/<ref>` (the RFC's form) as a layout, sparse (its layer blobs removed) when asked. */
function layoutOfRegistryRun(oci: string, sparse: boolean): string {
  const dir = path.join(oci, reg.host, "run");
  const tmp = path.join(tmpDir("layout-copy-"), "run"); // skopeo's oci: transport cannot name a path with a colon
  tool("skopeo", ["copy", "--insecure-policy", "--src-tls-verify=false", `docker://${RUN_REF}`, `oci:${tmp}:v1`]);
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  fs.renameSync(tmp, dir);
  if (sparse) { for (const l of RUN.layers) fs.rmSync(path.join(dir, "blobs", "sha256", l.digest.slice(7))); }
  return dir;
}

const ls = (dir: string) => fs.readdirSync(dir).sort();

describe("-oci-archive and -docker-archive", () => {
  test("an OCI archive from a layout run image: skopeo reads and copies it, umoci unpacks the copy, podman loads it by name", async () => {
    const s = await setup();
    await makeRunImage(s.oci, "cnb/run", "v1");
    const archive = path.join(s.root, "out", "app.tar");
    const args = ["-oci", "-oci-dir", s.oci, "-run-image", "cnb/run:v1"];
    expect((await run("analyzer", [...args, "my-app"], s.env)).code).toBe(0);
    const e = await run("exporter", [...args, "-oci-archive", archive, "-launcher", s.b.launcher, "my-app"], s.env);
    expect(e.err).toBe("");
    expect(e.code).toBe(0);
    expect(e.out).toContain(`my-app - ${archive}`);
    expect(ls(path.dirname(archive))).toEqual(["app.tar"]); // no temporary left beside it
    expect(fs.existsSync(path.join(s.oci, "my-app"))).toBe(false); // the archive is the only target
    const inspect = JSON.parse(tool("skopeo", ["inspect", `oci-archive:${archive}`]));
    expect(inspect.Layers.length).toBe(8);
    expect(inspect.Labels["io.buildpacks.lifecycle.metadata"]).toBeDefined();
    const names = tool("tar", ["tf", archive]).trim().split("\n");
    expect(names.slice(0, 4)).toEqual(["oci-layout", "index.json", "blobs/", "blobs/sha256/"]);
    const index = JSON.parse(tool("tar", ["xOf", archive, "index.json"]));
    expect(index.manifests[0].annotations).toEqual({
      "io.containerd.image.name": "docker.io/library/my-app:latest",
      "org.opencontainers.image.ref.name": "my-app:latest",
    });
    const copy = path.join(s.root, "copy");
    tool("skopeo", ["copy", "--insecure-policy", `oci-archive:${archive}`, `oci:${copy}:app`]);
    tool("umoci", ["unpack", "--rootless", "--image", `${copy}:app`, path.join(s.root, "bundle")]);
    expect(fs.readFileSync(path.join(s.root, "bundle", "rootfs", s.b.app.slice(1), "index.txt"), "utf8")).toBe("the app\n");
    expect(fs.existsSync(path.join(s.root, "bundle", "rootfs", "etc", "part0", "content.txt"))).toBe(true);
    expect(d.podman(["load", "-i", archive])).toContain("my-app:latest");
    expect(d.podman(["images", "--format", "{{.Repository}}:{{.Tag}}"])).toContain("docker.io/library/my-app:latest");
  });

  test("a Docker archive from a registry run image: manifest.json, repositories, every blob; skopeo and podman load read it", async () => {
    const s = await setup();
    const archive = path.join(s.root, "app-docker.tar");
    expect((await run("analyzer", ["-run-image", RUN_REF, `${reg.host}/dapp`], s.env)).code).toBe(0);
    const e = await run("exporter", ["-docker-archive", archive, "-launcher", s.b.launcher, `${reg.host}/dapp:v7`], s.env);
    expect(e.err).toBe("");
    expect(e.code).toBe(0);
    const names = tool("tar", ["tf", archive]).trim().split("\n");
    expect(names).toContain("manifest.json");
    expect(names).toContain("repositories");
    expect(names).not.toContain("index.json");
    const manifest = JSON.parse(tool("tar", ["xOf", archive, "manifest.json"]));
    expect(manifest[0].RepoTags).toEqual([`${reg.host}/dapp:v7`]);
    expect(manifest[0].Layers.length).toBe(8);
    for (const l of manifest[0].Layers) expect(names).toContain(l);
    expect(JSON.parse(tool("tar", ["xOf", archive, "repositories"]))).toEqual({ [`${reg.host}/dapp`]: { v7: manifest[0].Layers.at(-1).slice(13) } });
    const config = JSON.parse(tool("skopeo", ["inspect", "--config", `docker-archive:${archive}`]));
    expect(config.rootfs.diff_ids.slice(0, 3)).toEqual(RUN.layers.map((l) => l.diffID));
    tool("skopeo", ["copy", "--insecure-policy", `docker-archive:${archive}`, `oci:${path.join(s.root, "copy")}:app`]);
    expect(d.podman(["load", "-i", archive])).toContain(`${reg.host}/dapp:v7`);
    // Nothing went to the registry (the analyzer only looked for a previous image there).
    expect(reg.requests().filter((r) => r.includes("/v2/dapp/") && !r.startsWith("GET") && !r.startsWith("HEAD"))).toEqual([]);
  });

  test("a sparse layout run image: its blobs come from its registry; where none supplies them the export is refused and an earlier archive stays", async () => {
    const s = await setup();
    layoutOfRegistryRun(s.oci, true);
    const archive = path.join(s.root, "app.tar");
    const args = ["-oci", "-oci-dir", s.oci, "-run-image", RUN_REF];
    expect((await run("analyzer", [...args, "my-app"], s.env)).code).toBe(0);
    const e = await run("exporter", [...args, "-oci-archive", archive, "-launcher", s.b.launcher, "my-app"], s.env);
    expect(e.err).toBe("");
    expect(e.code).toBe(0);
    const copy = path.join(s.root, "copy");
    tool("skopeo", ["copy", "--insecure-policy", `oci-archive:${archive}`, `oci:${copy}:app`]);
    for (const l of RUN.layers) expect(fs.existsSync(path.join(copy, "blobs", "sha256", l.digest.slice(7)))).toBe(true);

    // The RFC's partial run image, whose registry does not exist: a clear error, the earlier archive untouched.
    const before = fs.readFileSync(archive);
    await makeRunImage(s.oci, "cnb/partial-run", "v1", { sparse: true });
    const p = ["-oci", "-oci-dir", s.oci, "-run-image", "127.0.0.1:1/cnb/partial-run:v1"];
    fs.cpSync(path.join(s.oci, "cnb", "partial-run"), path.join(s.oci, "127.0.0.1:1", "cnb", "partial-run"), { recursive: true });
    expect((await run("analyzer", [...p, "my-app"], s.env)).code).toBe(0);
    const bad = await run("exporter", [...p, "-oci-archive", archive, "-launcher", s.b.launcher, "my-app"], s.env);
    expect(bad.code).toBe(62);
    expect(bad.err).toContain(`failed to export: cannot write ${archive}: layer sha256:`);
    expect(bad.err).toContain("is not on disk (a sparse layout) and its registry did not supply it: cannot reach registry 127.0.0.1:1");
    expect(bad.err).toContain("blob");
    expect(fs.readFileSync(archive).equals(before)).toBe(true);
    expect(ls(s.root).filter((n) => n.startsWith(".tmp"))).toEqual([]);
  });

  test("an archive with -daemon or -publish, or two archives, is the RFC's error", async () => {
    const s = await setup();
    for (const extra of [["-daemon"], ["-publish"], ["-docker-archive", path.join(s.root, "b.tar")]]) {
      const e = await run("exporter", ["-oci-archive", path.join(s.root, "a.tar"), ...extra, "-run-image", RUN_REF, "my-app"], s.env);
      expect(e.code).toBe(3);
      expect(e.err).toBe("ERROR: exporting to multiples target is not allowed");
    }
  });
});

describe("mixed sources", () => {
  test("a registry run image with the app in a layout: sparse by default; -oci-full fetches the blobs once, verified", async () => {
    const s = await setup();
    const args = ["-oci", "-oci-dir", s.oci, "-run-image", `docker://${RUN_REF}`];
    expect((await run("analyzer", [...args, "my-app"], s.env)).code).toBe(0);
    const e = await run("exporter", [...args, "-launcher", s.b.launcher, "my-app"], s.env);
    expect(e.err).toBe("");
    expect(e.code).toBe(0);
    const app = path.join(s.oci, "my-app");
    for (const l of RUN.layers) expect(fs.existsSync(path.join(app, "blobs", "sha256", l.digest.slice(7)))).toBe(false);
    tool("skopeo", ["inspect", `oci:${app}:latest`]); // a sparse layout is still a valid one

    const full = await run("exporter", [...args, "-oci-full", "-launcher", s.b.launcher, "my-app"], s.env);
    expect(full.err).toBe("");
    expect(full.code).toBe(0);
    expect(full.out).toContain(`Fetched 3 blob(s)`);
    for (const l of RUN.layers) expect(fs.existsSync(path.join(app, "blobs", "sha256", l.digest.slice(7)))).toBe(true);
    tool("umoci", ["unpack", "--rootless", "--image", `${app}:latest`, path.join(s.root, "bundle")]);
    expect(fs.existsSync(path.join(s.root, "bundle", "rootfs", "etc", "part2", "content.txt"))).toBe(true);
    const again = await run("exporter", [...args, "-oci-full", "-launcher", s.b.launcher, "my-app"], s.env);
    expect(again.code).toBe(0);
    expect(again.out).not.toContain("Fetched");
  });

  test("-oci-full completes a layout from the RFC's sparse run image, with its blobs from its registry", async () => {
    const s = await setup();
    layoutOfRegistryRun(s.oci, true);
    const args = ["-oci", "-oci-dir", s.oci, "-run-image", RUN_REF, "-oci-full"];
    expect((await run("analyzer", ["-oci", "-oci-dir", s.oci, "-run-image", RUN_REF, "my-app"], s.env)).code).toBe(0);
    const e = await run("exporter", [...args, "-launcher", s.b.launcher, "my-app"], s.env);
    expect(e.err).toBe("");
    expect(e.code).toBe(0);
    expect(e.out).toContain("Fetched 3 blob(s)");
    tool("umoci", ["unpack", "--rootless", "--image", `${path.join(s.oci, "my-app")}:latest`, path.join(s.root, "bundle")]);
  });

  test("a layout run image (oci:<dir>:<tag>) with the app pushed to a registry: every blob uploaded, skopeo copies it", async () => {
    const s = await setup();
    const info = await makeRunImage(s.oci, "local/run", "v3", { seed: "three" });
    const app = `${reg.host}/from-layout:1`;
    const args = ["-run-image", `oci:${info.layout}:v3`];
    const a = await run("analyzer", [...args, app], s.env);
    expect(a.err).toBe("");
    expect(a.code).toBe(0);
    const e = await run("exporter", ["-launcher", s.b.launcher, app], s.env);
    expect(e.err).toBe("");
    expect(e.code).toBe(0);
    const config = JSON.parse(tool("skopeo", ["inspect", "--tls-verify=false", "--config", `docker://${app}`]));
    expect(config.rootfs.diff_ids.slice(0, 3)).toEqual(info.layers.map((l) => l.diffID));
    tool("skopeo", ["copy", "--insecure-policy", "--src-tls-verify=false", `docker://${app}`, `oci:${path.join(s.root, "pulled")}:app`]);
    const md = JSON.parse(config.config.Labels["io.buildpacks.lifecycle.metadata"]);
    expect(md.runImage.reference).toBe(`${info.layout}@${info.manifestDigest}`);
  });
});
