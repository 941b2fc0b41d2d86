/**
 * Our layer engine on the generated data: every top-level directory of <data-dir> becomes one layer, written as a
 * blob into the layout <out-layout> through the one-pass pipeline, all layers' passes at once on <workers> threads
 * (default: CNB_LIFECYCLE_WORKERS, else the number of cores). The engine is the lifecycle's tuning
 * (CNB_LIFECYCLE_DEFLATE), the compression gzip unless <compression> is zstd.
 * Usage: bun bench/engine.ts <data-dir> <out-layout> [workers] [gzip|zstd]
 * Prints one JSON line: { bytes, layers: [{ dir, diffID, digest, size }] }.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { LayoutWriter } from "../src/image/layout-write.ts";
import { LayerPool } from "../src/layer/pool.ts";
import { dirLayerEntries } from "../src/layer/tar-entries.ts";
import type { LayerCompression } from "../src/layer/block-codec.ts";
import { tuningFrom } from "../src/cli/tuning.ts";

const [dataDir, outLayout, workersArg, compressionArg] = process.argv.slice(2);
const tuning = tuningFrom(process.env);
const workers = workersArg ? Number(workersArg) : tuning.workers;
const compression = (compressionArg ?? "gzip") as LayerCompression;
const dirs = fs.readdirSync(dataDir).sort();
const layout = LayoutWriter.open(outLayout);
const pool = new LayerPool(workers, { engine: tuning.deflate });
// Largest first, so the two threads finish together.
const sizes = new Map(dirs.map((d) => [d, duBytes(path.join(dataDir, d))]));
const order = [...dirs].sort((a, b) => (sizes.get(b) as number) - (sizes.get(a) as number));
const results = await Promise.all(
  order.map(async (d) => {
    const tmp = layout.tempBlobPath();
    const r = await pool.runEntries(dirLayerEntries({ disk: path.resolve(dataDir, d), image: `/layers/bench/${d}` }, { uid: 1000, gid: 1000 }), tmp, {
      compression,
    });
    layout.commitBlob(tmp, r.digest);
    return { dir: d, ...r };
  }),
);
await pool.close();
console.log(JSON.stringify({ bytes: results.reduce((n, r) => n + r.tarSize, 0), layers: results }));

function duBytes(p: string): number {
  const st = fs.lstatSync(p);
  if (!st.isDirectory()) return st.size;
  return fs.readdirSync(p).reduce((n, c) => n + duBytes(path.join(p, c)), 0);
}
