/**
 * Test helpers: real run images written as OCI layouts with the project's own layer engine and layout writer,
 * and a hand-made layers directory (what detector and builder leave behind) for exporter tests.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LayoutWriter } from "../../src/image/layout-write.ts";
import { MediaType } from "../../src/image/types.ts";
import { compressLayer } from "../../src/layer/pipeline.ts";
import { dirLayerEntries } from "../../src/layer/tar-entries.ts";

/** A fresh temporary directory. */
export function tmpDir(prefix = "t-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** What a run image written by `makeRunImage` holds. */
export interface RunImageInfo {
  layout: string;
  manifestDigest: string;
  configDigest: string;
  layers: { digest: string; diffID: string; size: number }[];
}

/**
 * Writes a run image of `layerCount` small layers (each a directory with a file) to `<ociDir>/<repo>` under the
 * ref.name `tag`. With `sparse`, the layer blobs are removed afterwards (manifest and config stay).
 */
export async function makeRunImage(
  ociDir: string,
  repo: string,
  tag: string,
  opts: { layerCount?: number; sparse?: boolean; docker?: boolean; labels?: Record<string, string>; seed?: string; arch?: string } = {},
): Promise<RunImageInfo> {
  const layout = path.join(ociDir, repo);
  const w = LayoutWriter.open(layout);
  const src = tmpDir("runsrc-");
  const layers: RunImageInfo["layers"] = [];
  for (let i = 0; i < (opts.layerCount ?? 3); i++) {
    const d = path.join(src, `l${i}`, "etc", `part${i}`);
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, "content.txt"), `run layer ${i} of ${repo} ${opts.seed ?? ""}\n`.repeat(50));
    const tmp = w.tempBlobPath();
    const r = await compressLayer(dirLayerEntries({ disk: path.join(src, `l${i}`, "etc"), image: "/etc" }, { uid: 0, gid: 0 }), tmp);
    w.commitBlob(tmp, r.digest);
    layers.push({ digest: r.digest, diffID: r.diffID, size: r.size });
  }
  const docker = opts.docker ?? false;
  const config = {
    architecture: opts.arch ?? "amd64",
    os: "linux",
    config: {
      Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      User: "1000:1000",
      Labels: {
        "io.buildpacks.base.id": "io.buildpacks.stacks.test",
        "io.buildpacks.base.distro.name": "testos",
        "io.buildpacks.base.distro.version": "1.0",
        ...(opts.labels ?? {}),
      },
    },
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffID) },
    history: layers.map((_, i) => ({ created: "2024-01-01T00:00:00Z", created_by: `run layer ${i}` })),
  };
  const cfg = await w.writeBlob(new TextEncoder().encode(JSON.stringify(config)), docker ? MediaType.dockerConfig : MediaType.ociConfig);
  const manifest = {
    schemaVersion: 2,
    mediaType: docker ? MediaType.dockerManifest : MediaType.ociManifest,
    config: cfg,
    layers: layers.map((l) => ({ mediaType: docker ? MediaType.dockerLayerGzip : MediaType.ociLayerGzip, digest: l.digest, size: l.size })),
  };
  const m = await w.writeBlob(new TextEncoder().encode(JSON.stringify(manifest)), manifest.mediaType);
  await w.addToIndex(m, [tag]);
  if (opts.sparse) { for (const l of layers) fs.rmSync(w.blobPath(l.digest)); }
  return { layout, manifestDigest: m.digest, configDigest: cfg.digest, layers };
}

/**
 * A layers directory as detector and builder leave it for one buildpack `test/hello` with a launch layer
 * `hello`, a cache layer `cached`, and a `web` process; plus an app directory and a launcher file.
 */
export function makeBuiltLayers(root: string, opts: { greeting?: string } = {}): { layers: string; app: string; launcher: string } {
  const layers = path.join(root, "layers");
  const app = path.join(root, "workspace");
  const bp = path.join(layers, "test_hello");
  fs.mkdirSync(path.join(bp, "hello", "bin"), { recursive: true });
  fs.mkdirSync(path.join(bp, "hello", "env.launch"), { recursive: true });
  fs.writeFileSync(path.join(bp, "hello", "bin", "hello"), "#!/bin/sh\necho hello $GREETING\n", { mode: 0o755 });
  fs.writeFileSync(path.join(bp, "hello", "env.launch", "GREETING.default"), opts.greeting ?? "world");
  fs.writeFileSync(path.join(bp, "hello.toml"), '[types]\nlaunch = true\n[metadata]\nversion = "1.0"\n');
  fs.mkdirSync(path.join(bp, "cached"), { recursive: true });
  fs.writeFileSync(path.join(bp, "cached", "data.txt"), "cached data\n");
  fs.writeFileSync(path.join(bp, "cached.toml"), '[types]\ncache = true\n[metadata]\nkey = "v1"\n');
  fs.writeFileSync(path.join(bp, "store.toml"), '[metadata]\nlast = "one"\n');
  fs.mkdirSync(path.join(layers, "config"), { recursive: true });
  fs.writeFileSync(
    path.join(layers, "config", "metadata.toml"),
    [
      'buildpack-default-process-type = "web"',
      "[[buildpacks]]",
      '  id = "test/hello"',
      '  version = "0.0.1"',
      '  api = "0.12"',
      "[[processes]]",
      '  type = "web"',
      '  command = ["hello"]',
      "  args = []",
      "  direct = true",
      '  buildpack-id = "test/hello"',
      "",
    ].join("\n"),
  );
  fs.writeFileSync(path.join(layers, "group.toml"), '[[group]]\n  id = "test/hello"\n  version = "0.0.1"\n  api = "0.12"\n');
  fs.mkdirSync(path.join(app, "src"), { recursive: true });
  fs.writeFileSync(path.join(app, "index.txt"), "the app\n");
  fs.writeFileSync(path.join(app, "src", "main.sh"), "echo main\n");
  const launcher = path.join(root, "launcher");
  fs.writeFileSync(launcher, "#!/bin/sh\necho launcher\n", { mode: 0o755 });
  return { layers, app, launcher };
}
