/**
 * Our layer engine on the generated data, the way the exporter writes layers: every top-level directory of
 * <data-dir> becomes one layer of an image in the OCI layout <out-layout>, asked for in name order from the
 * exporter's Assembly (src/phase/export/assembly.ts: its passes at once, committed in order), on <workers> threads
 * (default: CNB_LIFECYCLE_WORKERS, else the number of cores). The DEFLATE engine is the lifecycle's tuning
 * (CNB_LIFECYCLE_DEFLATE), the compression gzip unless <compression> is zstd.
 * Usage: bun bench/engine.ts <data-dir> <out-layout> [workers] [gzip|zstd]
 * Prints one JSON line: { layers: [{ dir, diffID, digest, size, mediaType }] }.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { tuningFrom } from "../src/cli/tuning.ts";
import { Logger } from "../src/ground/log.ts";
import { LayoutStore } from "../src/image/layout-store.ts";
import type { LayerCompression } from "../src/layer/block-codec.ts";
import { LayerPool } from "../src/layer/pool.ts";
import { dirLayerEntries } from "../src/layer/tar-entries.ts";
import { Assembly } from "../src/phase/export/assembly.ts";

const [dataDir, outLayout, workersArg, compressionArg] = process.argv.slice(2);
const tuning = tuningFrom(process.env);
const workers = workersArg ? Number(workersArg) : tuning.workers;
const compression = (compressionArg ?? "gzip") as LayerCompression;
const log = new Logger("warn");
const store = new LayoutStore({ dir: path.dirname(path.resolve(outLayout)), form: "rfc" });
const pool = new LayerPool(workers, { engine: tuning.deflate });
const asm = new Assembly(store.sink([path.basename(outLayout)], log), "oci", undefined, pool, log, undefined, undefined, compression);
const dirs = fs.readdirSync(dataDir).sort();
const owner = { uid: 1000, gid: 1000 };
const done = dirs.map((d) => {
  const placement = { disk: path.resolve(dataDir, d), image: `/layers/bench/${d}` };
  return asm.addOrReuse(`bench:${d}`, () => dirLayerEntries(placement, owner), undefined, d);
});
await Promise.all(done);
await pool.close();
const layers = asm.layers.map((l, i) => ({
  dir: dirs[i],
  diffID: l.diffID,
  digest: l.descriptor.digest,
  size: l.descriptor.size,
  mediaType: l.descriptor.mediaType,
}));
console.log(JSON.stringify({ layers }));
