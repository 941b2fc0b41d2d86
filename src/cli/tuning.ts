/**
 * The lifecycle's own tuning variables (README "Environment"), read once at the entry: which SHA-256 and DEFLATE
 * implementations to use, how many threads compress, whether to trust the stat index. A bad value exits 3 naming
 * the variable.
 */
import * as os from "node:os";
import { ExitCode, PhaseError } from "../ground/errors.ts";
import { parseBool } from "../ground/flags.ts";
import type { HashBackend } from "../hash/sha256.ts";
import type { DeflateEngine } from "../layer/deflate-block.ts";

/** The tuning in force for one run. */
export interface Tuning {
  /** `CNB_LIFECYCLE_HASH`: `node` (default) or `wasm`. */
  hash: HashBackend;
  /** `CNB_LIFECYCLE_WORKERS`: threads compressing layers (default: the number of cores). */
  workers: number;
  /** `CNB_LIFECYCLE_DEFLATE`: the block compressor, `zlib` (the runtime's native zlib) by default. */
  deflate: DeflateEngine;
  /** `CNB_LIFECYCLE_REREAD=true`: read every layer again instead of trusting the stat index. */
  reread: boolean;
}

function bad(name: string, value: string, expected: string): PhaseError {
  return new PhaseError(ExitCode.invalidArgs, `${name} must be ${expected}, got "${value}"`);
}

/**
 * The tuning the environment asks for.
 *
 * @example tuningFrom({ CNB_LIFECYCLE_WORKERS: "1" }).workers // 1
 */
export function tuningFrom(env: Record<string, string | undefined>): Tuning {
  const h = env.CNB_LIFECYCLE_HASH || "node";
  if (!["node", "node:crypto", "wasm", "hash-wasm"].includes(h)) throw bad("CNB_LIFECYCLE_HASH", h, '"node" or "wasm"');
  const d = env.CNB_LIFECYCLE_DEFLATE || "zlib";
  if (d !== "zlib" && d !== "fflate") throw bad("CNB_LIFECYCLE_DEFLATE", d, '"zlib" or "fflate"');
  const w = env.CNB_LIFECYCLE_WORKERS;
  let workers = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  if (w !== undefined && w !== "") {
    if (!/^\d+$/.test(w) || Number(w) < 1) throw bad("CNB_LIFECYCLE_WORKERS", w, "a whole number of threads, at least 1");
    workers = Number(w);
  }
  return { hash: h === "wasm" || h === "hash-wasm" ? "wasm" : "node", workers, deflate: d, reread: parseBool(env.CNB_LIFECYCLE_REREAD ?? "") === true };
}
