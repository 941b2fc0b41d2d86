import { afterEach, expect, test } from "bun:test";
import { digestOf, hashBackend, setHashBackend, sha256 } from "../src/hash/sha256.ts";
import { tuningFrom } from "../src/cli/tuning.ts";

afterEach(() => setHashBackend(undefined));

// FIPS 180-2 test vectors.
const vectors: [string, string][] = [
  ["", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
  ["abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
  ["abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"],
];

for (const backend of ["node", "wasm"] as const) {
  test(`${backend}: FIPS vectors`, async () => {
    for (const [input, hex] of vectors) expect(await digestOf(new TextEncoder().encode(input), backend)).toBe(`sha256:${hex}`);
  });
}

test("both backends give identical digests on the same chunked streams", async () => {
  let seed = 7;
  const data = new Uint8Array(5 * 1024 * 1024 + 13).map(() => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
  const results: string[] = [];
  for (const backend of ["node", "wasm"] as const) {
    const h = await sha256(backend);
    for (let off = 0, step = 1; off < data.length; off += step, step = (step * 7 + 3) % 100_003) h.update(data.subarray(off, off + step));
    results.push(h.hex());
  }
  expect(results[0]).toBe(results[1]);
  expect(`sha256:${results[0]}`).toBe(await digestOf(data));
});

test("the backend is chosen by setHashBackend; the entry reads CNB_LIFECYCLE_HASH", () => {
  expect(hashBackend()).toBe("node");
  setHashBackend("wasm");
  expect(hashBackend()).toBe("wasm");
  expect(tuningFrom({ CNB_LIFECYCLE_HASH: "wasm" }).hash).toBe("wasm");
  expect(tuningFrom({ CNB_LIFECYCLE_HASH: "node" }).hash).toBe("node");
  expect(() => tuningFrom({ CNB_LIFECYCLE_HASH: "md5" })).toThrow(/CNB_LIFECYCLE_HASH must be "node" or "wasm", got "md5"/);
  expect(() => tuningFrom({ CNB_LIFECYCLE_WORKERS: "zero" })).toThrow(/CNB_LIFECYCLE_WORKERS must be a whole number/);
});
