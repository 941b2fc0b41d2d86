/**
 * Bad input (issue 8 §2, §5): every malformed image document, platform file, refused credential, full disk or
 * read-only layout gives an error that names the file, field or reference at fault, with the phase's exit code,
 * never a JavaScript TypeError or a stack trace; and nothing is left half-written.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { makeBuiltLayers, makeRunImage, tmpDir } from "./helpers/images.ts";
import { startRegistry, type TestRegistry } from "./helpers/registry.ts";
import { run, tool } from "./helpers/run.ts";

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn("bad-input.test.ts: the full-disk and read-only cases are skipped: they need root (mount)");
const asRoot = isRoot ? test : test.skip;

/** Writes `text` as a blob of the layout and returns its digest. */
function putBlob(layout: string, text: string): { digest: string; size: number } {
  const hex = createHash("sha256").update(text).digest("hex");
  fs.writeFileSync(path.join(layout, "blobs", "sha256", hex), text);
  return { digest: `sha256:${hex}`, size: Buffer.byteLength(text) };
}

/** Points the layout's only index entry (ref.name `tag`) at a new manifest document. */
function setManifest(layout: string, manifest: unknown, tag = "bionic"): string {
  const m = putBlob(layout, JSON.stringify(manifest));
  const index = {
    schemaVersion: 2,
    manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", ...m, annotations: { "org.opencontainers.image.ref.name": tag } }],
  };
  fs.writeFileSync(path.join(layout, "index.json"), JSON.stringify(index));
  return path.join(layout, "blobs", "sha256", m.digest.slice(7));
}

/** The run image's manifest and config documents. */
function documents(layout: string, info: { manifestDigest: string; configDigest: string }) {
  const read = (d: string) => JSON.parse(fs.readFileSync(path.join(layout, "blobs", "sha256", d.slice(7)), "utf8"));
  return { manifest: read(info.manifestDigest), config: read(info.configDigest) };
}

/** A run image plus built layers, and an analyzer run against them. */
async function setup() {
  const root = tmpDir("bad-");
  const oci = path.join(root, "oci");
  const info = await makeRunImage(oci, "cnb/run", "bionic");
  const b = makeBuiltLayers(root);
  const env = { CNB_USE_OCI: "true", CNB_OCI_PATH: oci, CNB_LAYERS_DIR: b.layers, CNB_APP_DIR: b.app, CNB_LOG_LEVEL: "debug" };
  const analyze = () => run("analyzer", ["-run-image", "cnb/run:bionic", "my-app"], env);
  return { root, oci, info, b, env, analyze };
}

/** No JavaScript error type or stack frame reached the user. */
function expectNoTrace(text: string): void {
  expect(text).not.toMatch(/TypeError|ReferenceError|RangeError|undefined is not|null is not|\n\s+at /);
}

describe("image documents are checked where they come in", () => {
  test("a manifest whose JSON is null: exit 32 naming the blob file, no stack trace even at debug", async () => {
    const s = await setup();
    const file = setManifest(s.info.layout, null);
    const r = await s.analyze();
    expect(r.code).toBe(32);
    expect(r.err).toContain(file);
    expect(r.err).toContain("must be a JSON object, not null");
    expectNoTrace(r.out + r.err);
    expect(fs.existsSync(path.join(s.b.layers, "analyzed.toml"))).toBe(false);
  });

  test("a config whose JSON is null: exit 32 naming the config blob", async () => {
    const s = await setup();
    const { manifest } = documents(s.info.layout, s.info);
    const cfg = putBlob(s.info.layout, "null");
    setManifest(s.info.layout, { ...manifest, config: { ...manifest.config, ...cfg } });
    const r = await s.analyze();
    expect(r.code).toBe(32);
    expect(r.err).toContain(`config ${cfg.digest} in ${s.info.layout}`);
    expect(r.err).toContain("must be a JSON object, not null");
    expectNoTrace(r.out + r.err);
  });

  for (
    const [name, change, field] of [
      [
        "an architecture that is an array",
        (c: Record<string, unknown>) => ({ ...c, architecture: ["amd64", "amd64"] }),
        '"architecture" must be a string, not an array',
      ],
      [
        "a malformed diff_id",
        (c: Record<string, unknown>) => ({
          ...c,
          rootfs: { type: "layers", diff_ids: [...(c.rootfs as { diff_ids: string[] }).diff_ids.slice(1), "sha256:1234"] },
        }),
        '"rootfs.diff_ids[2]" is not a valid digest: "sha256:1234"',
      ],
      [
        "labels that are not strings",
        (c: Record<string, unknown>) => ({ ...c, config: { Labels: { a: 1 } } }),
        '"config.Labels.a" must be a string, not a number',
      ],
    ] as const
  ) {
    test(`a run image config with ${name} is refused (exit 32), and analyzed.toml is not written`, async () => {
      const s = await setup();
      const { manifest, config } = documents(s.info.layout, s.info);
      const cfg = putBlob(s.info.layout, JSON.stringify(change(config)));
      setManifest(s.info.layout, { ...manifest, config: { ...manifest.config, ...cfg } });
      const r = await s.analyze();
      expect(r.code).toBe(32);
      expect(r.err).toContain(`config ${cfg.digest}`);
      expect(r.err).toContain(field);
      expect(fs.existsSync(path.join(s.b.layers, "analyzed.toml"))).toBe(false);
    });
  }
});

describe("platform files are checked where they are read", () => {
  test("metadata.toml without buildpacks exports; with buildpacks of the wrong type it fails naming the file and field (exit 62)", async () => {
    const s = await setup();
    expect((await s.analyze()).code).toBe(0);
    const md = path.join(s.b.layers, "config", "metadata.toml");
    fs.writeFileSync(md, '[[processes]]\ntype = "web"\ncommand = ["hello"]\n');
    const ok = await run("exporter", ["-launcher", s.b.launcher, "my-app"], s.env);
    expect(ok.err).toBe("");
    expect(ok.code).toBe(0);
    fs.writeFileSync(md, 'buildpacks = "test/hello"\n');
    const bad = await run("exporter", ["-launcher", s.b.launcher, "my-app"], s.env);
    expect(bad.code).toBe(62);
    expect(bad.err).toContain(`${md}: buildpacks must be an array, not a string`);
    expectNoTrace(bad.out + bad.err);
  });

  test("group.toml and analyzed.toml of the wrong shape name the field (restorer: exit 42)", async () => {
    const s = await setup();
    expect((await s.analyze()).code).toBe(0);
    const group = path.join(s.b.layers, "group.toml");
    fs.writeFileSync(group, '[[group]]\nversion = "1"\n');
    let r = await run("restorer", [], s.env);
    expect(r.code).toBe(42);
    expect(r.err).toContain(`${group}: group[0].id must be a string, not missing`);
    fs.writeFileSync(group, '[[group]]\nid = "test/hello"\nversion = "0.0.1"\napi = "0.12"\n');
    const analyzed = path.join(s.b.layers, "analyzed.toml");
    fs.writeFileSync(analyzed, '[run-image]\nreference = "x"\n[metadata]\nbuildpacks = [1]\n');
    r = await run("restorer", [], s.env);
    expect(r.code).toBe(42);
    expect(r.err).toContain(`${analyzed}: metadata.buildpacks[0] must be a table, not a number`);
    expectNoTrace(r.out + r.err);
  });

  test("a cache whose metadata is not cache metadata is read as empty, with a warning", async () => {
    const s = await setup();
    const cache = path.join(s.root, "cache");
    fs.mkdirSync(path.join(cache, "committed"), { recursive: true });
    fs.writeFileSync(path.join(cache, "committed", "io.buildpacks.lifecycle.cache.metadata"), '{"buildpacks":[null]}');
    expect((await s.analyze()).code).toBe(0);
    const r = await run("restorer", ["-cache-dir", cache], s.env);
    expect(r.code).toBe(0);
    expect(r.err).toContain('"buildpacks[0]" must be an object with a "key" string');
    expect(r.err).toContain("the cache is read as empty");
  });
});

describe("registries", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ basicAuth: { user: "user", password: "secret" } });
  }, 20_000);
  afterAll(() => reg?.stop());

  test("a wrong password for a Basic challenge: unauthorized, naming the registry and the repository", async () => {
    const root = tmpDir("auth-");
    const info = await makeRunImage(path.join(root, "oci"), "cnb/run", "v1");
    tool("skopeo", [
      "copy",
      "--insecure-policy",
      "--dest-tls-verify=false",
      "--dest-creds",
      "user:secret",
      `oci:${info.layout}:v1`,
      `docker://${reg.host}/cnb/run:v1`,
    ]);
    const b = makeBuiltLayers(root);
    const env = { CNB_LAYERS_DIR: b.layers, CNB_APP_DIR: b.app, CNB_LOG_LEVEL: "debug" };
    const wrong = { ...env, CNB_REGISTRY_AUTH: JSON.stringify({ [reg.host]: `Basic ${btoa("user:wrong")}` }) };
    const r = await run("analyzer", ["-run-image", `${reg.host}/cnb/run:v1`, `${reg.host}/my-app`], wrong);
    expect(r.code).toBe(32);
    expect(r.err).toContain(
      `unauthorized: not allowed to pull from ${reg.host}/cnb/run: the credentials for ${reg.host} (CNB_REGISTRY_AUTH or docker's config.json) were refused`,
    );
    expect(r.err).not.toContain("Body already used");
    expectNoTrace(r.out + r.err);
    for (const bad of ["null", "[1]", '{"h": 1}', "not json"]) {
      const r2 = await run("analyzer", ["-run-image", `${reg.host}/cnb/run:v1`, `${reg.host}/my-app`], { ...env, CNB_REGISTRY_AUTH: bad });
      expect(r2.code).toBe(32);
      expect(r2.err).toContain("CNB_REGISTRY_AUTH is not a JSON object of registry to Authorization header");
      expectNoTrace(r2.out + r2.err);
    }
    const none = await run("analyzer", ["-run-image", `${reg.host}/cnb/run:v1`, `${reg.host}/my-app`], env);
    expect(none.err).toContain(`no credentials for ${reg.host} were found`);
    // The right password works, over plain HTTP without -insecure-registry (a loopback address).
    const right = await run("analyzer", ["-run-image", `${reg.host}/cnb/run:v1`, `${reg.host}/my-app`], {
      ...env,
      CNB_REGISTRY_AUTH: JSON.stringify({ [reg.host]: `Basic ${btoa("user:secret")}` }),
    });
    expect(right.err).toBe("");
    expect(right.code).toBe(0);
  });
});

describe("full and read-only filesystems (root: mount)", () => {
  const mounts: string[] = [];
  afterAll(() => {
    for (const m of mounts.reverse()) spawnSync("umount", [m]);
  });

  asRoot("a full disk: the error names the directory being written, index.json is untouched, no temporary file is left", async () => {
    const s = await setup();
    const small = path.join(s.root, "small");
    fs.mkdirSync(small);
    expect(spawnSync("mount", ["-t", "tmpfs", "-o", "size=400k", "tmpfs", small]).status).toBe(0);
    mounts.push(small);
    await makeRunImage(small, "cnb/run", "bionic");
    // An app layer that cannot fit: 1 MB of incompressible bytes.
    fs.writeFileSync(path.join(s.b.app, "big.bin"), randomBytes(1 << 20));
    const env = { ...s.env, CNB_OCI_PATH: small };
    expect((await run("analyzer", ["-run-image", "cnb/run:bionic", "my-app"], env)).code).toBe(0);
    const r = await run("exporter", ["-launcher", s.b.launcher, "my-app"], env);
    expect(r.code).toBe(62);
    expect(r.err).toContain(`cannot write a blob into ${path.join(small, "my-app", "blobs", "sha256")}: ENOSPC`);
    expectNoTrace(r.out + r.err);
    const leftovers = fs.readdirSync(path.join(small, "my-app", "blobs", "sha256")).filter((n) => n.startsWith(".tmp-"));
    expect(leftovers).toEqual([]);
    expect(JSON.parse(fs.readFileSync(path.join(small, "my-app", "index.json"), "utf8")).manifests).toEqual([]);
  });

  asRoot("a read-only layout: the error is the original one, naming the file, not a failed cleanup", async () => {
    const s = await setup();
    expect((await s.analyze()).code).toBe(0);
    const app = path.join(s.oci, "my-app");
    expect((await run("exporter", ["-launcher", s.b.launcher, "my-app"], s.env)).code).toBe(0);
    expect(spawnSync("mount", ["--bind", app, app]).status).toBe(0);
    mounts.push(app);
    expect(spawnSync("mount", ["-o", "remount,ro,bind", app]).status).toBe(0);
    fs.writeFileSync(path.join(s.b.app, "changed.txt"), "a change, so that a new app layer must be written\n");
    const r = await run("exporter", ["-launcher", s.b.launcher, "my-app"], s.env);
    expect(r.code).toBe(62);
    expect(r.err).toContain("EROFS");
    expect(r.err).toContain(app);
    // Not the failed removal of a temporary file (Node's message for it: "EROFS: …, unlink '<path>'").
    expect(r.err).not.toMatch(/, (unlink|rm|rmdir) '/);
    expectNoTrace(r.out + r.err);
  });
});
