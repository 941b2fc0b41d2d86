/**
 * Deterministic generator of a realistic build output, as buildpack layers and an app directory:
 *   app/          many small source-like files (text, compressible)
 *   deps/         a node_modules-like tree: many small and medium files
 *   runtime/      a few large binaries (incompressible) and shared libraries (partly compressible)
 *   assets/       a few large compressible files (bundles, logs, JSON)
 * Usage: bun bench/generate.ts <out-dir> [quick|full]
 * The same arguments always give the same bytes (a fixed-seed PRNG).
 */
import * as fs from "node:fs";
import * as path from "node:path";

const [outDir, scaleArg = "quick"] = process.argv.slice(2);
if (!outDir) {
  console.error("usage: bun bench/generate.ts <out-dir> [quick|full]");
  process.exit(2);
}
const scale = scaleArg === "full" ? 10 : 1;

let seed = 0x9e3779b9;
function rnd(): number {
  // xorshift32
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed;
}

const WORDS =
  "const let function return import export from default class extends async await if else for while of in new this null undefined true false require module exports value result error data config options index length push map filter reduce object string number array promise resolve reject then catch"
    .split(" ");

function sourceText(bytes: number): Uint8Array {
  const out = Buffer.alloc(bytes);
  let off = 0;
  let indent = 0;
  while (off < bytes) {
    let line = "  ".repeat(indent);
    const n = 3 + (rnd() % 9);
    for (let i = 0; i < n; i++) line += WORDS[rnd() % WORDS.length] + (rnd() % 5 === 0 ? `_${rnd() % 1000}` : "") + " ";
    line += rnd() % 3 === 0 ? "{\n" : ";\n";
    indent = Math.max(0, Math.min(6, indent + (line.endsWith("{\n") ? 1 : rnd() % 4 === 0 ? -1 : 0)));
    off += out.write(line, off);
  }
  return out;
}

function randomBytes(bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  const v = new Uint32Array(out.buffer, 0, bytes >>> 2);
  for (let i = 0; i < v.length; i++) v[i] = rnd();
  return out;
}

function libraryLike(bytes: number): Uint8Array {
  // Machine code is partly compressible: alternate random runs with repeated tables.
  const out = new Uint8Array(bytes);
  let off = 0;
  while (off < bytes) {
    const run = Math.min(bytes - off, 256 + (rnd() % 4096));
    if (rnd() % 3 === 0) out.set(randomBytes(run).subarray(0, run), off);
    else for (let i = 0; i < run; i++) out[off + i] = (i * 7 + (rnd() & 3)) & 0xff;
    off += run;
  }
  return out;
}

let total = 0;
let files = 0;
function write(rel: string, data: Uint8Array): void {
  const p = path.join(outDir, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, data);
  total += data.length;
  files++;
}

fs.rmSync(outDir, { recursive: true, force: true });
// app: small source files
for (let i = 0; i < 400 * scale; i++) write(`app/src/module${i % 40}/file${i}.js`, sourceText(1000 + (rnd() % 12000)));
write("app/package.json", sourceText(800));
// deps: node_modules-like
for (let p = 0; p < 60 * scale; p++) {
  for (let f = 0; f < 25; f++) write(`deps/node_modules/pkg${p}/lib/f${f}.js`, sourceText(500 + (rnd() % 30000)));
  write(`deps/node_modules/pkg${p}/package.json`, sourceText(600));
}
// runtime: binaries
for (let i = 0; i < 2 * scale; i++) write(`runtime/bin/tool${i}`, randomBytes(6_000_000));
for (let i = 0; i < 3 * scale; i++) write(`runtime/lib/lib${i}.so`, libraryLike(5_000_000));
// assets: large compressible files
for (let i = 0; i < 2 * scale; i++) write(`assets/bundle${i}.js`, sourceText(8_000_000));
write("assets/log.txt", sourceText(4_000_000 * scale));
console.log(`generated ${files} files, ${(total / 1e6).toFixed(1)} MB in ${outDir} (${scaleArg})`);
