/**
 * The exporter beyond the RFC's examples: reuse from the previous image, reproducible digests, tags, the
 * canonical form of `-layout`, the volume cache round trip through the restorer, the stat index, and the output
 * checked with the real OCI tools.
 */
import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { Layout } from "../src/image/layout.ts";
import { createOciValidator } from "./helpers/oci-schema.ts";
import { makeBuiltLayers, makeRunImage, tmpDir } from "./helpers/images.ts";
import { readToml } from "../src/platform/toml.ts";
import { run, tool } from "./helpers/run.ts";

const validator = createOciValidator(new URL("../../shared/fixtures/external/oci-schema/", import.meta.url));

/** A fresh build directory with run images and built layers; returns env and a runner of analyze+export. */
async function setup(opts: { docker?: boolean } = {}) {
  const root = tmpDir("export-");
  const oci = path.join(root, "oci");
  await makeRunImage(oci, "cnb/run", "bionic", { docker: opts.docker });
  const b = makeBuiltLayers(root);
  const cache = path.join(root, "cache");
  fs.mkdirSync(cache);
  const env = { CNB_USE_OCI: "true", CNB_OCI_PATH: oci, CNB_LAYERS_DIR: b.layers, CNB_APP_DIR: b.app, CNB_USER_ID: "1000", CNB_GROUP_ID: "1000" };
  const build = async (image = "my-app", extra: string[] = [], envExtra: Record<string, string> = {}) => {
    const a = await run("analyzer", ["-run-image", "cnb/run:bionic", image], { ...env, ...envExtra });
    expect(a.err).toBe("");
    const e = await run("exporter", ["-launcher", b.launcher, "-cache-dir", cache, ...extra, image], { ...env, ...envExtra });
    expect(e.err).toBe("");
    expect(e.code).toBe(0);
    return { ...e, digest: /\*\*\* Digest: (sha256:\w+)/.exec(e.out)?.[1] as string };
  };
  return { root, oci, b, cache, env, build };
}

describe("exporter", () => {
  test("the same inputs give the same manifest digest, twice in a row", async () => {
    const s = await setup();
    const first = await s.build();
    fs.rmSync(path.join(s.oci, "my-app"), { recursive: true });
    const second = await s.build();
    expect(second.digest).toBe(first.digest);
  });

  test("a rebuild reuses unchanged layers from the previous image and hardlinks their blobs", async () => {
    const s = await setup();
    const first = await s.build();
    expect(first.out).toContain("Adding layer 'test/hello:hello'");
    const second = await s.build("my-app", [], { CNB_LOG_LEVEL: "debug" });
    expect(second.out).toContain("Reusing layer 'test/hello:hello'");
    expect(second.out).toContain("Reusing 1/1 app layer(s)");
    expect(second.out).toContain("Reusing layer 'buildpacksio/lifecycle:launcher'");
    expect(second.out).toContain("Reusing layer 'buildpacksio/lifecycle:config'");
    expect(second.out).toContain("is unchanged since it was last exported (stat index): not read again");
    expect(second.digest).toBe(first.digest);
    // A changed file is read again and its layer added anew.
    fs.writeFileSync(path.join(s.b.app, "index.txt"), "changed\n");
    const third = await s.build("my-app", [], { CNB_LOG_LEVEL: "debug" });
    expect(third.out).toContain("Adding 1/1 app layer(s)");
    expect(third.out).toContain("Reusing layer 'test/hello:hello'");
    expect(third.digest).not.toBe(first.digest);
    // Touching a file without changing it: the stat index misses, the tar is hashed, the layer is still reused.
    const t = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(s.b.layers, "test_hello", "hello", "bin", "hello"), t, t);
    const fourth = await s.build("my-app", [], { CNB_LOG_LEVEL: "debug" });
    expect(fourth.out).toContain("Reusing layer 'test/hello:hello'");
    expect(fourth.out).not.toContain("'test/hello:hello' is unchanged since");
  });

  test("a layer with only <layer>.toml is reused from the previous image; without one it is an error (62)", async () => {
    const s = await setup();
    await s.build();
    fs.rmSync(path.join(s.b.layers, "test_hello", "hello"), { recursive: true });
    const again = await s.build();
    expect(again.out).toContain("Reusing layer 'test/hello:hello'");
    fs.rmSync(path.join(s.oci, "my-app"), { recursive: true });
    await run("analyzer", ["-run-image", "cnb/run:bionic", "my-app"], s.env);
    const e = await run("exporter", ["-launcher", s.b.launcher, "my-app"], s.env);
    expect(e.code).toBe(62);
    expect(e.err).toContain("failed to reuse layer 'test/hello:hello'");
  });

  test("further names become further refs; -layout writes the canonical form", async () => {
    const s = await setup();
    await s.build("my-app", ["my-app:v2", "other/name:t"]);
    const idx = Layout.open(path.join(s.oci, "my-app")).entries();
    expect(idx.map((d) => d.annotations?.["org.opencontainers.image.ref.name"]).sort()).toEqual(["latest", "v2"]);
    expect(Layout.open(path.join(s.oci, "other/name")).entries()[0].annotations?.["org.opencontainers.image.ref.name"]).toBe("t");
    const report = readToml<{ image: { tags: string[] } }>(path.join(s.b.layers, "report.toml"));
    expect(report.image.tags).toEqual(["my-app:v2", "other/name:t", "my-app"]);
    // -layout: <dir>/<registry>/<repository>/<tag>, where pack looks.
    const env = { ...s.env, CNB_USE_OCI: "", CNB_USE_LAYOUT: "true", CNB_LAYOUT_DIR: s.oci };
    const a = await run("analyzer", ["-run-image", "cnb/run:bionic", "my-app"], env);
    expect(a.code).toBe(0);
    const e = await run("exporter", ["-launcher", s.b.launcher, "my-app"], env);
    expect(e.code).toBe(0);
    const canonical = Layout.open(path.join(s.oci, "index.docker.io/library/my-app/latest"));
    expect((await canonical.image()).layers().length).toBe(8);
  });

  test("the run image's media-type family is kept: a Docker v2 run image gives a Docker v2 app image", async () => {
    const s = await setup({ docker: true });
    await s.build();
    const img = await Layout.open(path.join(s.oci, "my-app")).image();
    expect(img.manifest.mediaType).toBe("application/vnd.docker.distribution.manifest.v2+json");
    expect(img.manifest.config.mediaType).toBe("application/vnd.docker.container.image.v1+json");
    expect(new Set(img.manifest.layers.map((l) => l.mediaType))).toEqual(new Set(["application/vnd.docker.image.rootfs.diff.tar.gzip"]));
  });

  test("config, labels and history as the spec says; the documents validate against the OCI schemas", async () => {
    const s = await setup();
    await s.build("my-app", ["-process-type", "web"], { SOURCE_DATE_EPOCH: "1700000000" });
    const img = await Layout.open(path.join(s.oci, "my-app")).image();
    const c = img.config;
    expect(c.created).toBe("2023-11-14T22:13:20Z");
    expect(c.config?.Entrypoint).toEqual(["/cnb/process/web"]);
    expect(c.config?.Cmd).toBeUndefined();
    expect(c.config?.WorkingDir).toBe(s.b.app);
    expect(c.config?.Env).toContain(`CNB_LAYERS_DIR=${s.b.layers}`);
    expect(c.config?.Env).toContain(`CNB_APP_DIR=${s.b.app}`);
    expect(c.config?.Env).toContain("PATH=/cnb/process:/cnb/lifecycle:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    expect(c.config?.User).toBe("1000:1000");
    const labels = img.labels();
    const lifecycle = JSON.parse(labels["io.buildpacks.lifecycle.metadata"]);
    expect(lifecycle.buildpacks[0].layers.hello.data).toEqual({ version: "1.0" });
    expect(lifecycle.buildpacks[0].store).toEqual({ metadata: { last: "one" } });
    expect(lifecycle.runImage.topLayer).toBe(c.rootfs.diff_ids[2]);
    expect(JSON.parse(labels["io.buildpacks.build.metadata"]).processes[0]).toMatchObject({ type: "web", command: ["hello"], buildpackID: "test/hello" });
    expect(labels["io.buildpacks.project.metadata"]).toBe("{}");
    expect(c.history?.slice(-5).map((h) => h.created_by)).toEqual([
      "Layer: 'hello', Created by buildpack: test/hello@0.0.1",
      "Application Layer",
      "Buildpacks Application Launcher",
      "Buildpacks Launcher Config",
      "Buildpacks Process Types",
    ]);
    expect(validator.validate("application/vnd.oci.image.manifest.v1+json", img.manifest)).toEqual([]);
    expect(validator.validate("application/vnd.oci.image.config.v1+json", c)).toEqual([]);
    expect(validator.validate("application/vnd.oci.image.index.v1+json", Layout.open(path.join(s.oci, "my-app")).index())).toEqual([]);
    // An unknown process type is an export error.
    const e = await run("exporter", ["-launcher", s.b.launcher, "-process-type", "nope", "my-app"], s.env);
    expect(e.code).toBe(62);
    expect(e.err).toContain("process type 'nope'");
  });

  test("[[slices]] give one app layer each plus one for the rest, with their history", async () => {
    const s = await setup();
    fs.appendFileSync(path.join(s.b.layers, "config", "metadata.toml"), '[[slices]]\n  paths = ["src"]\n');
    const r = await s.build();
    expect(r.out).toContain("Adding 2/2 app layer(s)");
    const img = await Layout.open(path.join(s.oci, "my-app")).image();
    expect(img.config.history?.map((h) => h.created_by).filter((c) => c?.startsWith("Application"))).toEqual(["Application Slice: 1", "Application Slice: 2"]);
    const lifecycle = JSON.parse(img.labels()["io.buildpacks.lifecycle.metadata"]);
    expect(lifecycle.app.length).toBe(2);
    // Unchanged slices are reused on a rebuild.
    expect((await s.build()).out).toContain("Reusing 2/2 app layer(s)");
  });

  (process.getuid?.() === 0 ? test : test.skip)("started as root, the exporter hands the cache to the build user, drops to it and writes as it", async () => {
    const s = await setup();
    fs.chmodSync(s.root, 0o755); // mkdtemp makes it 0700; the build user must be able to reach its directories
    expect((await run("analyzer", ["-run-image", "cnb/run:bionic", "my-app"], s.env)).code).toBe(0);
    // The builder, running as the build user, left the layers directory as its own.
    spawnSync("chown", ["-R", "1000:1000", s.b.layers]);
    // Its own process (the in-process runs above never drop privileges). One compressing thread: a worker's
    // script is read from this checkout after the drop, and uid 1000 may not reach a private checkout.
    const r = spawnSync(process.execPath, [
      path.join(import.meta.dir, "../src/main.ts"),
      "exporter",
      "-launcher",
      s.b.launcher,
      "-cache-dir",
      s.cache,
      "my-app",
    ], { env: { ...process.env, ...s.env, CNB_LIFECYCLE_WORKERS: "1" }, encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const app = Layout.open(path.join(s.oci, "my-app"));
    expect(fs.statSync(path.join(app.dir, "index.json")).uid).toBe(1000);
    expect(fs.statSync(path.join(s.b.layers, "report.toml")).uid).toBe(1000);
    expect(fs.statSync(path.join(s.cache, "committed")).uid).toBe(1000);
    // The run image's blobs are still hardlinked, not copied.
    const runImg = await Layout.open(path.join(s.oci, "cnb/run")).image();
    for (const l of runImg.layers()) expect(fs.statSync(app.blobPath(l.digest)).ino).toBe(fs.statSync(runImg.layout.blobPath(l.digest)).ino);
  });

  test("the SBOM layer: exported from <layers>/sbom/launch, restored by the analyzer, moved beside the layer by the restorer", async () => {
    const s = await setup();
    const sbomDir = path.join(s.b.layers, "sbom", "launch", "test_hello", "hello");
    fs.mkdirSync(sbomDir, { recursive: true });
    fs.writeFileSync(path.join(sbomDir, "sbom.cdx.json"), '{"bomFormat":"CycloneDX"}');
    const first = await s.build();
    expect(first.out).toContain("Adding layer 'buildpacksio/lifecycle:launch.sbom'");
    // A new build: empty layers dir (but the config the builder would write again).
    fs.rmSync(path.join(s.b.layers, "sbom"), { recursive: true });
    fs.rmSync(path.join(s.b.layers, "test_hello"), { recursive: true });
    expect((await run("analyzer", ["-run-image", "cnb/run:bionic", "my-app"], s.env)).code).toBe(0);
    expect(fs.readFileSync(path.join(sbomDir, "sbom.cdx.json"), "utf8")).toBe('{"bomFormat":"CycloneDX"}');
    expect((await run("restorer", [], s.env)).code).toBe(0);
    expect(fs.readFileSync(path.join(s.b.layers, "test_hello", "hello.sbom.cdx.json"), "utf8")).toBe('{"bomFormat":"CycloneDX"}');
    expect(fs.existsSync(path.join(s.b.layers, "sbom"))).toBe(false);
    // -skip-layers leaves the SBOM layer alone.
    expect((await run("analyzer", ["-skip-layers", "-run-image", "cnb/run:bionic", "my-app"], s.env)).code).toBe(0);
    expect(fs.existsSync(path.join(s.b.layers, "sbom"))).toBe(false);
  });

  for (const engine of ["zlib", "fflate"]) {
    test(`skopeo, umoci and oci-image-tool accept the app image (CNB_LIFECYCLE_DEFLATE=${engine})`, async () => {
      const s = await setup();
      const r = await s.build("my-app", [], { CNB_LIFECYCLE_DEFLATE: engine });
      const dir = path.join(s.oci, "my-app");
      const inspect = JSON.parse(tool("skopeo", ["inspect", `oci:${dir}:latest`]));
      expect(inspect.Digest).toBe(r.digest);
      const out = path.join(s.root, "copied");
      tool("skopeo", ["copy", "--insecure-policy", `oci:${dir}:latest`, `dir:${out}`]);
      expect(`sha256:${new Bun.CryptoHasher("sha256").update(fs.readFileSync(path.join(out, "manifest.json"))).digest("hex")}`).toBe(r.digest);
      const bundle = path.join(s.root, "bundle");
      tool("umoci", ["unpack", "--image", `${dir}:latest`, bundle]);
      expect(fs.readFileSync(path.join(bundle, "rootfs", s.b.layers.slice(1), "test_hello/hello/bin/hello"), "utf8")).toContain("hello");
      expect(fs.readlinkSync(path.join(bundle, "rootfs/cnb/process/web"))).toBe("/cnb/lifecycle/launcher");
      expect(fs.statSync(path.join(bundle, "rootfs", s.b.app.slice(1), "index.txt")).uid).toBe(1000);
      tool("oci-image-tool", ["validate", "--type", "image", "--ref", "name=latest", dir]);
    });
  }

  test("-layer-compression zstd: new layers are tar+zstd of their diffIDs, skopeo copies the image, umoci unpacks its gzip copy; gzip again reuses them by diffID", async () => {
    const s = await setup();
    const r = await s.build("my-app", ["-layer-compression", "zstd"]);
    const dir = path.join(s.oci, "my-app");
    const blob = (digest: string) => fs.readFileSync(path.join(dir, "blobs", ...digest.split(":")));
    const manifest = JSON.parse(blob(r.digest).toString("utf8"));
    const types: string[] = manifest.layers.map((l: { mediaType: string }) => l.mediaType);
    const runLayers = 3; // the run image's, reused as they are
    expect(types.slice(0, runLayers).every((t) => t === "application/vnd.oci.image.layer.v1.tar+gzip")).toBe(true);
    expect(types.slice(runLayers).length).toBeGreaterThan(3);
    expect(types.slice(runLayers).every((t) => t === "application/vnd.oci.image.layer.v1.tar+zstd")).toBe(true);
    for (const l of manifest.layers.slice(runLayers)) expect([...blob(l.digest).subarray(0, 4)]).toEqual([0x28, 0xb5, 0x2f, 0xfd]);
    // Every zstd blob decodes (the zstd tool) to the tar of its diffID.
    const config = JSON.parse(blob(manifest.config.digest).toString("utf8"));
    manifest.layers.slice(runLayers).forEach((l: { digest: string }, i: number) => {
      const tar = spawnSync("zstd", ["-dc", "-q", path.join(dir, "blobs", ...l.digest.split(":"))], { maxBuffer: 1 << 28 });
      expect(tar.status).toBe(0);
      expect(`sha256:${new Bun.CryptoHasher("sha256").update(tar.stdout).digest("hex")}`).toBe(config.rootfs.diff_ids[runLayers + i]);
    });
    // skopeo reads it as it is, and re-compresses it to gzip; umoci (0.4.7, which knows no zstd) unpacks that copy.
    tool("skopeo", ["copy", "--insecure-policy", `oci:${dir}:latest`, `oci:${path.join(s.root, "copied")}:latest`]);
    const gz = path.join(s.root, "as-gzip");
    tool("skopeo", ["copy", "--insecure-policy", "--dest-compress-format", "gzip", `oci:${dir}:latest`, `oci:${gz}:latest`]);
    const bundle = path.join(s.root, "bundle");
    tool("umoci", ["unpack", "--image", `${gz}:latest`, bundle]);
    expect(fs.readFileSync(path.join(bundle, "rootfs", s.b.layers.slice(1), "test_hello/hello/bin/hello"), "utf8")).toContain("hello");
    expect(fs.readlinkSync(path.join(bundle, "rootfs/cnb/process/web"))).toBe("/cnb/lifecycle/launcher");
    // The env name, and a rebuild with gzip: every layer is reused by diffID, zstd blobs and all.
    const again = await s.build("my-app", [], { CNB_LAYER_COMPRESSION: "gzip" });
    expect(again.out).not.toContain("Adding layer");
    expect(again.digest).toBe(r.digest);
  });

  test("-layer-compression: zstd refused on a Docker v2 run image, anything but gzip or zstd refused", async () => {
    const s = await setup({ docker: true });
    expect((await run("analyzer", ["-run-image", "cnb/run:bionic", "my-app"], s.env)).code).toBe(0);
    const docker = await run("exporter", ["-launcher", s.b.launcher, "-layer-compression", "zstd", "my-app"], s.env);
    expect(docker.code).toBe(62);
    expect(docker.err).toContain("zstd layers need an OCI run image: its manifest is Docker v2, which has no zstd layer type");
    const bad = await run("exporter", ["-launcher", s.b.launcher, "my-app"], { ...s.env, CNB_LAYER_COMPRESSION: "xz" });
    expect(bad.code).toBe(3);
    expect(bad.err).toContain('-layer-compression must be gzip or zstd, got "xz"');
  });

  test("cache layers go to -cache-dir and the restorer brings back their metadata, data and store.toml", async () => {
    const s = await setup();
    const first = await s.build();
    expect(first.out).toContain("Adding cache layer 'test/hello:cached'");
    const meta = JSON.parse(fs.readFileSync(path.join(s.cache, "committed", "io.buildpacks.lifecycle.cache.metadata"), "utf8"));
    const sha = meta.buildpacks[0].layers.cached.sha;
    expect(fs.existsSync(path.join(s.cache, "committed", `${sha}.tar`))).toBe(true);
    // A new build starts from an empty layers dir: analyze, then restore.
    const bp = path.join(s.b.layers, "test_hello");
    fs.rmSync(bp, { recursive: true });
    expect((await run("analyzer", ["-run-image", "cnb/run:bionic", "my-app"], s.env)).code).toBe(0);
    const r = await run("restorer", ["-cache-dir", s.cache], s.env);
    expect(r.code).toBe(0);
    expect(r.out).toContain("Restoring data for 'test/hello:cached' from cache");
    expect(fs.readFileSync(path.join(bp, "cached", "data.txt"), "utf8")).toBe("cached data\n");
    expect(fs.readFileSync(path.join(bp, "cached.toml"), "utf8")).toContain('key = "v1"');
    expect(fs.readFileSync(path.join(bp, "hello.toml"), "utf8")).toContain('version = "1.0"');
    expect(fs.existsSync(path.join(bp, "hello"))).toBe(false);
    expect(fs.readFileSync(path.join(bp, "store.toml"), "utf8")).toContain('last = "one"');
    // The next export reuses the cache layer (the buildpack, run again, declares its layers' types again;
    // `hello` keeps only its .toml, so it is reused from the previous image).
    fs.writeFileSync(path.join(bp, "cached.toml"), '[types]\ncache = true\n[metadata]\nkey = "v1"\n');
    fs.writeFileSync(path.join(bp, "hello.toml"), '[types]\nlaunch = true\n[metadata]\nversion = "1.0"\n');
    const second = await run("exporter", ["-launcher", s.b.launcher, "-cache-dir", s.cache, "my-app"], s.env);
    expect(second.out).toContain("Reusing cache layer 'test/hello:cached'");
    expect(second.out).toContain("Reusing layer 'test/hello:hello'");
    // A corrupted cache tar is not restored (a warning), and nothing half-extracted is left.
    fs.writeFileSync(path.join(s.cache, "committed", `${sha}.tar`), "garbage");
    fs.rmSync(bp, { recursive: true });
    const r2 = await run("restorer", ["-cache-dir", s.cache], s.env);
    expect(r2.err).toContain("is corrupt");
    expect(r2.code).toBe(0);
    expect(r2.err).toContain("is corrupt");
    expect(fs.existsSync(path.join(bp, "cached"))).toBe(false);
  });
});
