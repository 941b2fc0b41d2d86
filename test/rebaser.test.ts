/** The rebaser on layouts: an app image put on a new run image without a rebuild. */
import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { Layout } from "../src/image/layout.ts";
import { makeBuiltLayers, makeRunImage, tmpDir } from "./helpers/images.ts";
import { readToml } from "../src/platform/toml.ts";
import { run } from "./helpers/run.ts";

/** An app image built on cnb/run:v1, and the run images it may be rebased on. */
async function setup() {
  const root = tmpDir("rebase-");
  const oci = path.join(root, "oci");
  const v1 = await makeRunImage(oci, "cnb/run", "v1", { seed: "one" });
  const v2 = await makeRunImage(path.join(root, "v2"), "cnb/run", "v2", {
    seed: "two",
    layerCount: 2,
    labels: { "io.buildpacks.base.id": "io.buildpacks.stacks.new" },
  });
  // v2 goes into the same layout as v1 under its own tag.
  const w = Layout.open(v2.layout);
  fs.cpSync(path.join(v2.layout, "blobs"), path.join(v1.layout, "blobs"), { recursive: true });
  const idx = JSON.parse(fs.readFileSync(path.join(v1.layout, "index.json"), "utf8"));
  idx.manifests.push(...w.entries());
  fs.writeFileSync(path.join(v1.layout, "index.json"), JSON.stringify(idx));
  const b = makeBuiltLayers(root);
  const env = { CNB_USE_OCI: "true", CNB_OCI_PATH: oci, CNB_LAYERS_DIR: b.layers, CNB_APP_DIR: b.app };
  expect((await run("analyzer", ["-run-image", "cnb/run:v1", "my-app"], env)).code).toBe(0);
  const e = await run("exporter", ["-launcher", b.launcher, "my-app"], env);
  expect(e.code).toBe(0);
  const before = await Layout.open(path.join(oci, "my-app")).image();
  return { root, oci, env, b, v1, v2, before };
}

describe("rebaser", () => {
  test("replaces the run layers, keeps the app's layers and config, and moves the labels", async () => {
    const s = await setup();
    // cnb/run:v2 is not the run image named in the label: -force is needed (the names differ).
    const refused = await run("rebaser", ["-run-image", "cnb/run:v2", "my-app"], s.env);
    expect(refused.code).toBe(72);
    expect(refused.err).toContain("is not the app image's run image");
    const r = await run("rebaser", ["-force", "-run-image", "cnb/run:v2", "my-app"], s.env);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const after = await Layout.open(path.join(s.oci, "my-app")).image({ refName: "latest" });
    const oldLayers = s.before.layers();
    const newLayers = after.layers();
    expect(newLayers.length).toBe(2 + (oldLayers.length - 3));
    expect(newLayers.slice(0, 2).map((l) => l.digest)).toEqual(s.v2.layers.map((l) => l.digest));
    expect(newLayers.slice(2).map((l) => l.digest)).toEqual(oldLayers.slice(3).map((l) => l.digest));
    expect(after.config.config?.Entrypoint).toEqual(s.before.config.config?.Entrypoint);
    expect(after.config.config?.Env).toEqual(s.before.config.config?.Env);
    expect(after.config.created).toBe(s.before.config.created);
    const labels = after.labels();
    expect(labels["io.buildpacks.base.id"]).toBe("io.buildpacks.stacks.new");
    const md = JSON.parse(labels["io.buildpacks.lifecycle.metadata"]);
    expect(md.runImage.topLayer).toBe(s.v2.layers[1].diffID);
    expect(md.runImage.reference).toBe(`${s.v1.layout}@${s.v2.manifestDigest}`);
    expect(md.runImage.image).toBe("cnb/run:v2");
    expect(md.buildpacks).toEqual(JSON.parse(s.before.labels()["io.buildpacks.lifecycle.metadata"]).buildpacks);
    expect(readToml<{ image: { digest: string } }>(path.join(s.b.layers, "report.toml")).image.digest).toBe(after.manifestDigest);
    // The result unpacks with both the new run image's files and the app's.
    const bundle = path.join(s.root, "bundle");
    const u = spawnSync("umoci", ["unpack", "--image", `${path.join(s.oci, "my-app")}:latest`, bundle], { encoding: "utf8" });
    if (u.error) throw new Error(`umoci is not installed (CI installs it): ${u.error.message}`);
    expect(u.status).toBe(0);
    expect(fs.readFileSync(path.join(bundle, "rootfs/etc/part1/content.txt"), "utf8")).toContain("two");
    expect(fs.existsSync(path.join(bundle, "rootfs/etc/part2"))).toBe(false);
    expect(fs.existsSync(path.join(bundle, "rootfs", s.b.app.slice(1), "index.txt"))).toBe(true);
  });

  test("the same run image (a new digest under the label's name) needs no -force", async () => {
    const s = await setup();
    // Replace cnb/run:v1 by a new build of it.
    fs.rmSync(s.v1.layout, { recursive: true });
    const v1b = await makeRunImage(s.oci, "cnb/run", "v1", { seed: "one, patched" });
    const r = await run("rebaser", ["my-app"], s.env);
    expect(r.err).toBe("");
    const after = await Layout.open(path.join(s.oci, "my-app")).image();
    expect(after.layers().slice(0, 3).map((l) => l.digest)).toEqual(v1b.layers.map((l) => l.digest));
    expect(JSON.parse(after.labels()["io.buildpacks.lifecycle.metadata"]).runImage.image).toBe("cnb/run:v1");
  });

  test("refuses a run image for another architecture and an image marked not rebasable, unless -force; a missing run image", async () => {
    const s = await setup();
    await makeRunImage(s.oci, "cnb/arm", "v1", { arch: "arm64" });
    const arch = await run("rebaser", ["-run-image", "cnb/arm:v1", "-force=false", "my-app"], s.env);
    expect(arch.code).toBe(72);
    const again = await run("rebaser", ["-force", "-run-image", "cnb/arm:v1", "my-app"], s.env);
    expect(again.code).toBe(0);
    const img = await Layout.open(path.join(s.oci, "my-app")).image();
    expect(img.config.architecture).toBe("arm64");
    // An app built on a run image labelled io.buildpacks.rebasable=false inherits the label.
    await makeRunImage(s.oci, "cnb/locked", "v1", { labels: { "io.buildpacks.rebasable": "false" } });
    expect((await run("analyzer", ["-run-image", "cnb/locked:v1", "locked-app"], s.env)).code).toBe(0);
    expect((await run("exporter", ["-launcher", s.b.launcher, "locked-app"], s.env)).code).toBe(0);
    const locked = await run("rebaser", ["locked-app"], s.env);
    expect(locked.code).toBe(72);
    expect(locked.err).toContain("is not marked as rebasable (io.buildpacks.rebasable=false)");
    expect((await run("rebaser", ["-force", "locked-app"], s.env)).code).toBe(0);
    const none = await run("rebaser", ["-run-image", "cnb/none:v1", "my-app"], s.env);
    expect(none.code).toBe(72);
    expect(none.err).toContain(`the run-image could not be found at path: ${path.join(s.oci, "cnb/none")}`);
  });
});
