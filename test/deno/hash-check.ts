/**
 * Run under Deno by CI: the node:crypto and hash-wasm SHA-256 backends give the same digests on the same streams.
 * Exits non-zero on a mismatch.
 */
import { sha256 } from "../../src/hash/sha256.ts";

let seed = 12345;
const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) & 0xff;
for (const size of [0, 1, 55, 56, 64, 1000, 65536, 3 * 1024 * 1024 + 7]) {
  const data = new Uint8Array(size).map(() => rand());
  const a = await sha256("node");
  const b = await sha256("wasm");
  for (let off = 0; off < size; off += 4099) {
    a.update(data.subarray(off, off + 4099));
    b.update(data.subarray(off, off + 4099));
  }
  const ha = a.hex();
  const hb = b.hex();
  if (ha !== hb) {
    console.error(`size ${size}: node:crypto ${ha} != hash-wasm ${hb}`);
    process.exit(1);
  }
}
console.log("node:crypto and hash-wasm agree");
