/**
 * The examples of ../shared/docs/rfc-export-to-oci.md, each run with the RFC's own command line (flag form and
 * environment form) on layouts these tests build, plus the layout rules of DESIGN §4–§5 for the exporter.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { main } from "../src/cli/main.ts";
import { Layout } from "../src/image/layout.ts";
import { makeBuiltLayers, makeRunImage, type RunImageInfo, tmpDir } from "./helpers/images.ts";
import { readToml } from "../src/platform/toml.ts";
import type { AnalyzedFile } from "../src/platform/files.ts";

interface Run {
  code: number;
  out: string;
  err: string;
}

async function run(argv0: string, args: string[], env: Record<string, string>): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv0, args, env, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** Every file under a directory with its size and inode: a snapshot to prove nothing was written. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    const st = fs.lstatSync(p);
    out.push(`${path.relative(dir, p)} ${st.size} ${st.ino} ${st.mtimeMs}`);
    if (st.isDirectory()) { for (const n of fs.readdirSync(p).sort()) walk(path.join(p, n)); }
  };
  walk(dir);
  return out;
}

function blobs(layout: string): string[] {
  return fs.readdirSync(path.join(layout, "blobs", "sha256")).filter((n) => !n.startsWith(".")).sort();
}

let root: string;
let oci: string;
let full: RunImageInfo;
let partial: RunImageInfo;
let built: ReturnType<typeof makeBuiltLayers>;

beforeAll(async () => {
  root = tmpDir("rfc-");
  oci = path.join(root, "oci");
  full = await makeRunImage(oci, "cnb/my-full-stack-run", "bionic");
  partial = await makeRunImage(oci, "cnb/my-partial-stack-run", "bionic", { sparse: true });
  built = makeBuiltLayers(root);
});

/** The same example in the RFC's two forms: `export CNB_USE_OCI=true` and the `-oci` flag. */
const forms = [
  { name: "environment form", env: { CNB_USE_OCI: "true" } as Record<string, string>, flag: [] as string[] },
  { name: "flag form", env: {} as Record<string, string>, flag: ["-oci"] },
];

function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { CNB_OCI_PATH: oci, CNB_LAYERS_DIR: built.layers, CNB_APP_DIR: built.app, ...extra };
}

describe("Analyze phase", () => {
  for (const f of forms) {
    test(`analyzing run-image full saved on disk (${f.name})`, async () => {
      const r = await run("/cnb/lifecycle/analyzer", [...f.flag, "-run-image", "cnb/my-full-stack-run:bionic", "my-app-image"], baseEnv(f.env));
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      const a = readToml<AnalyzedFile>(path.join(built.layers, "analyzed.toml"));
      expect(a["run-image"]?.reference).toBe(`${full.layout}@${full.manifestDigest}`);
      expect(a["run-image"]?.image).toBe("cnb/my-full-stack-run:bionic");
      expect(a["run-image"]?.target).toEqual({ os: "linux", arch: "amd64", id: "io.buildpacks.stacks.test", distro: { name: "testos", version: "1.0" } });
    });

    test(`analyzing run-image partial saved on disk (${f.name})`, async () => {
      // The RFC writes `cnb/cnb/my-partial-stack-run:bionic` here (its tree has the image at cnb/my-partial-stack-run);
      // the exact command line is kept, so this test puts a partial image where that reference points.
      const doubled = await makeRunImage(oci, "cnb/cnb/my-partial-stack-run", "bionic", { sparse: true });
      const r = await run("/cnb/lifecycle/analyzer", [...f.flag, "-run-image", "cnb/cnb/my-partial-stack-run:bionic", "my-app-image"], baseEnv(f.env));
      expect(r.code).toBe(0);
      const a = readToml<AnalyzedFile>(path.join(built.layers, "analyzed.toml"));
      expect(a["run-image"]?.reference).toBe(`${doubled.layout}@${doubled.manifestDigest}`);
      expect(a["run-image"]?.target?.os).toBe("linux");
      // And the image of the RFC's tree, by its real name.
      const r2 = await run("/cnb/lifecycle/analyzer", [...f.flag, "-run-image", "cnb/my-partial-stack-run:bionic", "my-app-image"], baseEnv(f.env));
      expect(r2.code).toBe(0);
      expect(readToml<AnalyzedFile>(path.join(built.layers, "analyzed.toml"))["run-image"]?.reference).toBe(`${partial.layout}@${partial.manifestDigest}`);
    });

    test(`analyzing run-image not saved on disk (${f.name})`, async () => {
      const r = await run("/cnb/lifecycle/analyzer", [...f.flag, "-run-image", "cnb/bad-run-image", "my-app-image"], baseEnv(f.env));
      expect(r.code).not.toBe(0);
      expect(r.err).toBe(`ERROR: the run-image could not be found at path: ${path.join(oci, "cnb/bad-run-image")}`);
    });

    test(`analyzing without run-image argument (${f.name})`, async () => {
      const r = await run("/cnb/lifecycle/analyzer", [...f.flag, "my-app-image"], baseEnv(f.env));
      expect(r.code).not.toBe(0);
      expect(r.err).toBe("ERROR: -run-image is required when OCI feature is enabled");
    });
  }

  test("analyzing previous-image (both forms)", async () => {
    // Make bar/my-previous-app by exporting once under that name.
    const env = baseEnv({ CNB_USE_OCI: "true" });
    expect((await run("/cnb/lifecycle/analyzer", ["-run-image", "cnb/my-full-stack-run:bionic", "bar/my-previous-app"], env)).code).toBe(0);
    const ex = await run("/cnb/lifecycle/exporter", ["-launcher", built.launcher, "bar/my-previous-app"], env);
    expect(ex.code).toBe(0);
    const prevDigest = /\*\*\* Digest: (sha256:[a-f0-9]{64})/.exec(ex.out)?.[1];
    // The RFC's flag example reads `-run-image cnb/my-full-stack-run:bionic-previous-image bar/my-previous-app`
    // (a space is missing); the intended command line is used.
    for (const f of forms) {
      const r = await run("/cnb/lifecycle/analyzer", [
        ...f.flag,
        "-run-image",
        "cnb/my-full-stack-run:bionic",
        "-previous-image",
        "bar/my-previous-app",
        "my-app-image",
      ], baseEnv(f.env));
      expect(r.code).toBe(0);
      const a = readToml<AnalyzedFile>(path.join(built.layers, "analyzed.toml"));
      expect(a.image?.reference).toBe(`${path.join(oci, "bar/my-previous-app")}@${prevDigest}`);
      expect(a["run-image"]?.reference).toBe(`${full.layout}@${full.manifestDigest}`);
      const md = a.metadata as unknown as Record<string, unknown> & {
        buildpacks: { key: string; layers: Record<string, { sha: string; metadata: unknown }> }[];
      };
      expect(md.buildpacks[0].key).toBe("test/hello");
      expect(md.buildpacks[0].layers.hello.sha).toMatch(/^sha256:/);
      expect(md.buildpacks[0].layers.hello.metadata).toEqual({ version: "1.0" });
      expect((md["run-image"] as { reference: string }).reference).toBe(`${full.layout}@${full.manifestDigest}`);
    }
  });
});

describe("Export phase", () => {
  for (const f of forms) {
    test(`export to OCI using run-image full saved on disk (${f.name})`, async () => {
      const dir = tmpDir("rfc-full-");
      const env = { ...baseEnv(f.env), CNB_OCI_PATH: dir };
      await makeRunImage(dir, "cnb/my-full-stack-run", "bionic");
      const runLayout = path.join(dir, "cnb/my-full-stack-run");
      const runBlobs = Layout.open(runLayout);
      const r = await run(
        "/cnb/lifecycle/exporter",
        [...f.flag, "-launcher", built.launcher, "-run-image", "cnb/my-full-stack-run:bionic", "my-app-image"],
        env,
      );
      expect(r.code).toBe(0);
      const app = Layout.open(path.join(dir, "my-app-image"));
      const img = await app.image({ refName: "latest" });
      expect(img.isComplete()).toBe(true);
      const layers = img.layers();
      const runImg = await runBlobs.image({ refName: "bionic" });
      // The run image's layers come first, as hardlinks of the run layout's blobs.
      for (const [i, l] of runImg.layers().entries()) {
        expect(layers[i].digest).toBe(l.digest);
        expect(fs.statSync(app.blobPath(l.digest)).ino).toBe(fs.statSync(runBlobs.blobPath(l.digest)).ino);
      }
      // Every buildpack-generated blob is there: launch layer, app, launcher, config, process types.
      expect(layers.length).toBe(runImg.layers().length + 5);
      expect(r.out).toContain(`*** Digest: ${img.manifestDigest}`);
      const report = readToml<{ image: { digest: string; tags: string[]; "manifest-size": number } }>(path.join(built.layers, "report.toml"));
      expect(report.image).toEqual({ tags: ["my-app-image"], digest: img.manifestDigest, "manifest-size": img.manifestBytes.length });
    });

    test(`export to OCI using run-image partially saved on disk (${f.name})`, async () => {
      const dir = tmpDir("rfc-partial-");
      const env = { ...baseEnv(f.env), CNB_OCI_PATH: dir };
      const p = await makeRunImage(dir, "cnb/my-partial-stack-run", "bionic", { sparse: true });
      const r = await run(
        "/cnb/lifecycle/exporter",
        [...f.flag, "-launcher", built.launcher, "-run-image", "cnb/my-partial-stack-run:bionic", "my-app-image"],
        env,
      );
      expect(r.code).toBe(0);
      const app = Layout.open(path.join(dir, "my-app-image"));
      const img = await app.image();
      const layers = img.layers();
      // The manifest still lists every layer; the run layers' blobs are skipped.
      expect(layers.slice(0, 3).map((l) => l.digest)).toEqual(p.layers.map((l) => l.digest));
      expect(layers.slice(0, 3).every((l) => !l.present)).toBe(true);
      expect(layers.slice(3).every((l) => l.present)).toBe(true);
      expect(blobs(app.dir).length).toBe(2 + 5);
    });

    for (const target of ["-daemon", "-publish"]) {
      test(`using -oci in combination with ${target} (${f.name})`, async () => {
        const before = snapshot(oci);
        const r = await run("/cnb/lifecycle/exporter", [
          ...f.flag,
          target,
          "-launcher",
          built.launcher,
          "-run-image",
          "cnb/my-full-stack-run:bionic",
          "my-app-image",
        ], baseEnv(f.env));
        expect(r.code).not.toBe(0);
        expect(r.err).toBe("ERROR: exporting to multiples target is not allowed");
        expect(snapshot(oci)).toEqual(before);
      });
    }
  }
  test("-daemon with CNB_USE_OCI set is refused by the analyzer too", async () => {
    const r = await run("/cnb/lifecycle/analyzer", ["-daemon", "-run-image", "cnb/my-full-stack-run:bionic", "my-app-image"], baseEnv({ CNB_USE_OCI: "true" }));
    expect(r.err).toBe("ERROR: exporting to multiples target is not allowed");
  });
});
