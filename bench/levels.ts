/**
 * Per-core speed and ratio of the block compressors on the generated data, one thread: every layer's tar cut into
 * 1 MiB blocks, each block compressed on its own as the pipeline does (deflateBlock: incompressible blocks
 * stored, non-final blocks ending with a sync flush; zstd: one frame per block).
 * Waits for a quiet machine first (bench/quiet.ts). Each figure is the best of three passes over the blocks.
 * Usage: bun bench/levels.ts <data-dir> [methods, comma-separated]
 * Prints one markdown table: per method and layer, MB/s (uncompressed) and ratio (tar bytes / compressed bytes).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { zstdFrame } from "../src/layer/block-codec.ts";
import { deflateBlock } from "../src/layer/deflate-block.ts";
import { dirLayerEntries } from "../src/layer/tar-entries.ts";
import { tarChunks } from "../src/layer/tar-writer.ts";
import { waitQuiet } from "./quiet.ts";

const [dataDir, methodsArg] = process.argv.slice(2);
const load = await waitQuiet();
type Method = (b: Uint8Array, final: boolean) => Uint8Array;
const zlibAt = (level: number): Method => (b, final) => deflateBlock(b, final, level, "zlib");
const all: Record<string, Method> = {
  "fflate-1": (b, final) => deflateBlock(b, final, 1, "fflate"),
  "zlib-1": zlibAt(1),
  "zlib-2": zlibAt(2),
  "zlib-3": zlibAt(3),
  "zlib-4": zlibAt(4),
  "zlib-6": zlibAt(6),
  "zstd-1": (b) => zstdFrame(b, 1),
  "zstd-3": (b) => zstdFrame(b, 3),
};
const names = methodsArg ? methodsArg.split(",") : Object.keys(all);
const layers = fs.readdirSync(dataDir).sort();
const rows: string[] = [];
const total = new Map<string, { ms: number; inB: number; outB: number }>();
for (const layer of layers) {
  const blocks: Uint8Array[] = [];
  for (const c of tarChunks(dirLayerEntries({ disk: path.resolve(dataDir, layer), image: `/layers/bench/${layer}` }, { uid: 1000, gid: 1000 }), 1 << 20)) {
    blocks.push(c.slice());
  }
  const inB = blocks.reduce((n, b) => n + b.length, 0);
  for (const name of names) {
    const m = all[name];
    m(blocks[0], false); // warm up
    let outB = 0;
    let ms = Infinity;
    // The best of three passes: the machine's other load only ever slows a pass down.
    for (let k = 0; k < 3; k++) {
      outB = 0;
      const t0 = performance.now();
      blocks.forEach((b, i) => (outB += m(b, i === blocks.length - 1).length));
      ms = Math.min(ms, performance.now() - t0);
    }
    rows.push(`| ${name} | ${layer} | ${(inB / 1e3 / ms).toFixed(0)} | ${(inB / outB).toFixed(2)} |`);
    const t = total.get(name) ?? { ms: 0, inB: 0, outB: 0 };
    total.set(name, { ms: t.ms + ms, inB: t.inB + inB, outB: t.outB + outB });
  }
}
console.log(`1-minute load at the start: ${load.toFixed(2)}\n`);
console.log("| method | layer | MB/s per core | ratio |\n|---|---|---:|---:|");
for (const r of rows) console.log(r);
for (const [name, t] of total) console.log(`| ${name} | all | ${(t.inB / 1e3 / t.ms).toFixed(0)} | ${(t.inB / t.outB).toFixed(2)} |`);
