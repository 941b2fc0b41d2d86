/**
 * The cache image (issue 11): the reference's format (checked on what docker-registry holds, read with skopeo),
 * the empty-layer rule, reuse without uploading, restoring from it (by tag and by digest), a missing or unreadable
 * cache image as a warning and an empty cache, and a cache image as a layout under the layout directory.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { Layout } from "../src/image/layout.ts";
import { makeBuiltLayers, makeRunImage, tmpDir } from "./helpers/images.ts";
import { startRegistry, type TestRegistry } from "./helpers/registry.ts";
import { run, tool } from "./helpers/run.ts";

let reg: TestRegistry;
let RUN: string;
beforeAll(async () => {
  reg = await startRegistry();
  const root = tmpDir("cache-run-");
  const info = await makeRunImage(path.join(root, "oci"), "cnb/run", "v1");
  RUN = `${reg.host}/run:v1`;
  tool("skopeo", ["copy", "--insecure-policy", "--dest-tls-verify=false", `oci:${info.layout}:v1`, `docker://${RUN}`]);
}, 60_000);
afterAll(() => reg?.stop());

/** Built layers (a launch layer `hello` and a cache layer `cached`) and the phases against the registry. */
function setup(name: string) {
  const root = tmpDir("cache-");
  const b = makeBuiltLayers(root);
  const env = { CNB_LAYERS_DIR: b.layers, CNB_APP_DIR: b.app, CNB_PLATFORM_API: "0.15" };
  const app = `${reg.host}/${name}`;
  const cache = `${reg.host}/${name}-cache:latest`;
  const exp = (extra: string[] = []) => run("exporter", ["-launcher", b.launcher, "-cache-image", cache, ...extra, app], env);
  return { root, b, env, app, cache, exp, analyze: () => run("analyzer", ["-run-image", RUN, app], env) };
}

const raw = (ref: string, what: "manifest" | "config") =>
  JSON.parse(tool("skopeo", ["inspect", "--tls-verify=false", what === "manifest" ? "--raw" : "--config", `docker://${ref}`]));

describe("the cache image", () => {
  test("is in the reference's format: OCI, no base, linux with an empty architecture, the constant time, one label", async () => {
    const s = setup("fmt-app");
    expect((await s.analyze()).code).toBe(0);
    const e = await s.exp();
    expect(e.err).toBe("");
    expect(e.out).toContain("Adding cache layer 'test/hello:cached'");
    const manifest = raw(s.cache, "manifest");
    expect(manifest.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
    expect(manifest.config.mediaType).toBe("application/vnd.oci.image.config.v1+json");
    expect(manifest.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual(["application/vnd.oci.image.layer.v1.tar+gzip"]);
    const config = raw(s.cache, "config");
    expect(config.os).toBe("linux");
    expect(config.architecture).toBe("");
    expect(config.created).toBe("1980-01-01T00:00:01Z");
    expect(config.history).toEqual([{ created: "1980-01-01T00:00:01Z" }]);
    expect(Object.keys(config.config.Labels)).toEqual(["io.buildpacks.lifecycle.cache.metadata"]);
    const meta = JSON.parse(config.config.Labels["io.buildpacks.lifecycle.cache.metadata"]);
    expect(meta).toEqual({
      sbom: { sha: "" },
      buildpacks: [{
        key: "test/hello",
        version: "0.0.1",
        layers: { cached: { sha: config.rootfs.diff_ids[0], data: { key: "v1" }, build: false, launch: false, cache: true } },
      }],
    });
  });

  test("with no cached layer it holds one empty layer of 1024 zero bytes", async () => {
    const s = setup("empty-app");
    fs.writeFileSync(path.join(s.b.layers, "test_hello", "cached.toml"), "[types]\ncache = false\n");
    expect((await s.analyze()).code).toBe(0);
    expect((await s.exp()).code).toBe(0);
    const manifest = raw(s.cache, "manifest");
    expect(manifest.layers).toEqual([{
      mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
      digest: "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
      size: 1024,
    }]);
  });

  test("an unchanged layer is reused without compressing or uploading it; the restorer brings it back, by tag and by digest", async () => {
    const s = setup("reuse-app");
    expect((await s.analyze()).code).toBe(0);
    expect((await s.exp()).code).toBe(0);
    const first = raw(s.cache, "manifest");
    await new Promise((r) => setTimeout(r, 200));
    const before = reg.requests().length;
    const again = await s.exp();
    await new Promise((r) => setTimeout(r, 300));
    expect(again.out).toContain("Reusing cache layer 'test/hello:cached'");
    expect(reg.requests().slice(before).filter((r) => r.startsWith("POST ") && r.includes("/reuse-app-cache/blobs/uploads/"))).toEqual([]);
    expect(raw(s.cache, "manifest")).toEqual(first);
    // A new build: the layer's contents come back from the cache image.
    const bp = path.join(s.b.layers, "test_hello");
    fs.rmSync(bp, { recursive: true });
    const digest = JSON.parse(tool("skopeo", ["inspect", "--tls-verify=false", `docker://${s.cache}`])).Digest;
    for (const ref of [s.cache, `${reg.host}/reuse-app-cache@${digest}`]) {
      fs.rmSync(bp, { recursive: true, force: true });
      expect((await s.analyze()).code).toBe(0);
      const r = await run("restorer", ["-cache-image", ref], s.env);
      expect(r.err).toBe("");
      expect(r.out).toContain("Restoring data for 'test/hello:cached' from cache");
      expect(fs.readFileSync(path.join(bp, "cached", "data.txt"), "utf8")).toBe("cached data\n");
    }
  });

  test("a missing cache image is an empty cache; an unreadable one a warning and an empty cache", async () => {
    const s = setup("missing-app");
    expect((await s.analyze()).code).toBe(0);
    const none = await run("restorer", ["-cache-image", `${reg.host}/never-written:latest`], s.env);
    expect(none.code).toBe(0);
    expect(none.err).toBe("");
    const down = await run("restorer", ["-cache-image", "127.0.0.1:1/cache:latest"], s.env);
    expect(down.code).toBe(0);
    expect(down.err).toContain("Warning: the cache image 127.0.0.1:1/cache:latest cannot be read");
    const e = await run("exporter", ["-launcher", s.b.launcher, "-cache-image", "127.0.0.1:1/cache:latest", s.app], s.env);
    expect(e.code).toBe(0); // the app image is saved; the cache only warns
    expect(e.err).toContain("failed to export the cache to the cache image 127.0.0.1:1/cache:latest");
  });

  test("in layout mode it is a layout under the layout directory (the RFC's foo/my-cache), restored from there", async () => {
    const root = tmpDir("cache-layout-");
    const oci = path.join(root, "oci");
    await makeRunImage(oci, "cnb/run", "bionic");
    const b = makeBuiltLayers(root);
    const env = { CNB_USE_OCI: "true", CNB_OCI_PATH: oci, CNB_LAYERS_DIR: b.layers, CNB_APP_DIR: b.app };
    expect((await run("analyzer", ["-run-image", "cnb/run:bionic", "my-app"], env)).code).toBe(0);
    const e = await run("exporter", ["-launcher", b.launcher, "-cache-image", "foo/my-cache", "my-app"], env);
    expect(e.err).toBe("");
    const img = await Layout.open(path.join(oci, "foo", "my-cache")).image();
    expect(Object.keys(img.labels())).toEqual(["io.buildpacks.lifecycle.cache.metadata"]);
    tool("oci-image-tool", ["validate", "--type", "image", "--ref", "name=latest", path.join(oci, "foo", "my-cache")]);
    const again = await run("exporter", ["-launcher", b.launcher, "-cache-image", "foo/my-cache", "my-app"], env);
    expect(again.out).toContain("Reusing cache layer 'test/hello:cached'");
    fs.rmSync(path.join(b.layers, "test_hello"), { recursive: true });
    expect((await run("analyzer", ["-run-image", "cnb/run:bionic", "my-app"], env)).code).toBe(0);
    const r = await run("restorer", ["-cache-image", "foo/my-cache"], env);
    expect(r.out).toContain("Restoring data for 'test/hello:cached' from cache");
    expect(fs.readFileSync(path.join(b.layers, "test_hello", "cached", "data.txt"), "utf8")).toBe("cached data\n");
  });
});
