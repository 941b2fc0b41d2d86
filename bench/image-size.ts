/**
 * Prints how big an app image in an OCI layout is: every layer blob its manifest lists (compressed and, read
 * through gunzip, uncompressed), and the launcher layer (the one the lifecycle label's `launcher.sha` names) with
 * its digest. For BENCHMARKS.md ("The launcher in app images").
 * Usage: bun bench/image-size.ts <layout dir> [<ref.name>]   (e.g. bun bench/image-size.ts out/oci/demo-app latest)
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { gunzipSync } from "node:zlib";

const [dir, tag = "latest"] = process.argv.slice(2);
if (!dir) {
  console.error("usage: bun bench/image-size.ts <layout dir> [<ref.name>]");
  process.exit(2);
}
const blob = (digest: string) => path.join(dir, "blobs", ...digest.split(":"));
const json = (digest: string) => JSON.parse(fs.readFileSync(blob(digest), "utf8"));
const index = JSON.parse(fs.readFileSync(path.join(dir, "index.json"), "utf8"));
const desc = index.manifests.find((m: { annotations?: Record<string, string> }) => m.annotations?.["org.opencontainers.image.ref.name"] === tag) ??
  index.manifests[0];
const manifest = json(desc.digest);
const config = json(manifest.config.digest);
const label = JSON.parse(config.config?.Labels?.["io.buildpacks.lifecycle.metadata"] ?? "{}");
const launcherIndex = (config.rootfs.diff_ids as string[]).indexOf(label.launcher?.sha);

const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
let compressed = 0;
let uncompressed = 0;
for (const layer of manifest.layers as { digest: string; size: number }[]) {
  compressed += layer.size;
  uncompressed += fs.existsSync(blob(layer.digest)) ? gunzipSync(fs.readFileSync(blob(layer.digest))).length : 0;
}
console.log(`image ${dir}:${tag}: ${manifest.layers.length} layers, ${mb(compressed)} compressed, ${mb(uncompressed)} uncompressed`);
if (launcherIndex >= 0) {
  const l = manifest.layers[launcherIndex];
  const raw = gunzipSync(fs.readFileSync(blob(l.digest))).length;
  console.log(`launcher layer: ${mb(l.size)} compressed, ${mb(raw)} uncompressed, digest ${l.digest}, diffID ${label.launcher.sha}`);
}
