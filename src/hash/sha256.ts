/**
 * SHA-256 behind one small interface: `node:crypto` by default (fast on Bun, Deno and Node), hash-wasm when
 * selected with `setHashBackend("wasm")` (the entry does so for `CNB_LIFECYCLE_HASH=wasm`). Both give the same
 * digests.
 */
import { createHash } from "node:crypto";
import { createSHA256 } from "hash-wasm";

/** An incremental SHA-256. */
export interface Sha256 {
  update(data: Uint8Array): void;
  /** The digest as lowercase hex; the hasher cannot be used afterwards. */
  hex(): string;
}

/** The implementations to choose from. */
export type HashBackend = "node" | "wasm";

let chosen: HashBackend | undefined;

/** Selects the backend for hashers created from now on; undefined returns to the default (`node`). */
export function setHashBackend(b: HashBackend | undefined): void {
  chosen = b;
}

/** The backend in force: the one set, else `node`. */
export function hashBackend(): HashBackend {
  return chosen ?? "node";
}

/**
 * Creates a SHA-256 hasher with the given (or current) backend.
 *
 * @example const h = await sha256(); h.update(bytes); h.hex()
 */
export async function sha256(backend: HashBackend = hashBackend()): Promise<Sha256> {
  if (backend === "wasm") {
    const h = await createSHA256();
    h.init();
    return { update: (d) => void h.update(d), hex: () => h.digest("hex") };
  }
  const h = createHash("sha256");
  return { update: (d) => void h.update(d), hex: () => h.digest("hex") };
}

/** The `sha256:<hex>` digest of a byte array. */
export async function digestOf(data: Uint8Array, backend?: HashBackend): Promise<string> {
  const h = await sha256(backend);
  h.update(data);
  return `sha256:${h.hex()}`;
}
