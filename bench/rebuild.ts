/**
 * First build and no-change rebuild, export side, on the generated realistic app (bench/generate.ts):
 *   run image   <data>/runtime as a two-layer OCI layout (≥ 100 MB at full scale)
 *   buildpack   one launch layer holding <data>/deps (a node_modules-like tree)
 *   app         <data>/app and <data>/assets
 *   launcher    dist/lifecycle (the compiled binary, ~110 MB; compressed once, then cached)
 * Runs `dist/lifecycle analyzer` and `dist/lifecycle exporter` under GNU time, twice (first build, then a rebuild
 * with nothing changed), and a third time with CNB_LIFECYCLE_REREAD=true (every layer hashed again).
 * Each measurement waits for a quiet machine (bench/quiet.ts) and its row gives the 1-minute load it started at.
 * Usage: bun bench/rebuild.ts [quick|full]    (after `bun build.ts`; LIFECYCLE=<binary> measures another build of
 * the lifecycle, e.g. one compiled from an earlier commit, as phases and launcher)
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { LayoutWriter } from "../src/image/layout-write.ts";
import { MediaType } from "../src/image/types.ts";
import { LayerPool } from "../src/layer/pool.ts";
import { dirLayerEntries } from "../src/layer/tar-entries.ts";
import { waitQuiet } from "./quiet.ts";

const scale = process.argv[2] ?? "quick";
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const data = path.join(root, "bench", "data", scale);
const work = path.join(root, "bench", "out", `rebuild-${scale}`);
const bin = process.env.LIFECYCLE ? path.resolve(process.env.LIFECYCLE) : path.join(root, "dist", "lifecycle");
if (!fs.existsSync(bin)) throw new Error("run `bun build.ts` first");
if (!fs.existsSync(data)) spawnSync("bun", [path.join(root, "bench/generate.ts"), data, scale], { stdio: "inherit" });
fs.rmSync(work, { recursive: true, force: true });
const oci = path.join(work, "oci");
const layers = path.join(work, "layers");
const app = path.join(work, "workspace");
const cache = path.join(work, "cache");
for (const d of [oci, layers, app, cache]) fs.mkdirSync(d, { recursive: true });

// The run image.
const w = LayoutWriter.open(path.join(oci, "bench/run"));
const pool = new LayerPool();
const runLayers = [];
for (const sub of ["bin", "lib"]) {
  const tmp = w.tempBlobPath();
  const r = await pool.runEntries(dirLayerEntries({ disk: path.join(data, "runtime", sub), image: `/usr/${sub}` }, { uid: 0, gid: 0 }), tmp);
  w.commitBlob(tmp, r.digest);
  runLayers.push(r);
}
await pool.close();
const config = {
  architecture: "amd64",
  os: "linux",
  config: { Env: ["PATH=/usr/bin:/bin"] },
  rootfs: { type: "layers", diff_ids: runLayers.map((l) => l.diffID) },
};
const cfg = await w.writeBlob(new TextEncoder().encode(JSON.stringify(config)), MediaType.ociConfig);
const manifest = {
  schemaVersion: 2,
  mediaType: MediaType.ociManifest,
  config: cfg,
  layers: runLayers.map((l) => ({ mediaType: MediaType.ociLayerGzip, digest: l.digest, size: l.size })),
};
await w.addToIndex(await w.writeBlob(new TextEncoder().encode(JSON.stringify(manifest)), MediaType.ociManifest), ["v1"]);
const runBytes = runLayers.reduce((n, l) => n + l.tarSize, 0);

// What detector and builder would have left.
const bp = path.join(layers, "bench_node");
fs.mkdirSync(bp, { recursive: true });
fs.cpSync(path.join(data, "deps"), path.join(bp, "modules"), { recursive: true });
fs.writeFileSync(path.join(bp, "modules.toml"), "[types]\nlaunch = true\n");
fs.mkdirSync(path.join(layers, "config"));
fs.writeFileSync(
  path.join(layers, "config", "metadata.toml"),
  'buildpack-default-process-type = "web"\n[[buildpacks]]\nid = "bench/node"\nversion = "1.0.0"\napi = "0.12"\n[[processes]]\ntype = "web"\ncommand = ["node", "index.js"]\nargs = []\ndirect = true\nbuildpack-id = "bench/node"\n',
);
fs.writeFileSync(path.join(layers, "group.toml"), '[[group]]\nid = "bench/node"\nversion = "1.0.0"\napi = "0.12"\n');
fs.cpSync(path.join(data, "app"), app, { recursive: true });
fs.cpSync(path.join(data, "assets"), path.join(app, "assets"), { recursive: true });

const env = { ...process.env, CNB_USE_OCI: "true", CNB_OCI_PATH: oci, CNB_LAYERS_DIR: layers, CNB_APP_DIR: app, CNB_PLATFORM_API: "0.15" };
function timed(args: string[], extraEnv: Record<string, string> = {}) {
  spawnSync("sync");
  const tf = path.join(work, "time.txt");
  const r = spawnSync("/usr/bin/time", ["-f", "%e %U %S %M %O", "-o", tf, bin, ...args], { env: { ...env, ...extraEnv }, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${args[0]} failed: ${r.stdout}\n${r.stderr}`);
  const [wall, user, sys, rss, outBlocks] = fs.readFileSync(tf, "utf8").trim().split(/\s+/).map(Number);
  return { wall, cpu: user + sys, rss: rss / 1024, written: (outBlocks * 512) / 1e6, out: r.stdout };
}
const rows: string[] = [];
const size = (p: string) => Number(spawnSync("du", ["-sb", p], { encoding: "utf8" }).stdout.split("\t")[0]);
for (
  const [name, extra] of [["first build", {}], ["no-change rebuild", {}], ["rebuild, CNB_LIFECYCLE_REREAD=true", { CNB_LIFECYCLE_REREAD: "true" }]] as const
) {
  const a = timed(["analyzer", "-run-image", "bench/run:v1", "bench/app"], extra);
  const load = await waitQuiet();
  const e = timed(["exporter", "-launcher", bin, "-cache-dir", cache, "bench/app"], extra);
  const reused = (e.out.match(/Reusing/g) ?? []).length;
  rows.push(
    `| ${name} | ${a.wall.toFixed(2)} | ${e.wall.toFixed(2)} | ${e.cpu.toFixed(2)} | ${e.rss.toFixed(0)} | ${e.written.toFixed(1)} | ${reused} | ${
      load.toFixed(2)
    } |`,
  );
}
const appBytes = size(app) + size(path.join(bp, "modules"));
console.log(
  `run image ${(runBytes / 1e6).toFixed(0)} MB uncompressed (2 layers); new content ${(appBytes / 1e6).toFixed(0)} MB (app + one buildpack layer) + the ${
    (fs.statSync(bin).size / 1e6).toFixed(0)
  } MB launcher; ${scale} data; ${new Date().toISOString().slice(0, 10)}`,
);
console.log("");
console.log(
  "| export | analyzer wall s | exporter wall s | exporter CPU s | exporter peak RSS MB | exporter MB written | 'Reusing' lines | load before |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
for (const r of rows) console.log(r);
