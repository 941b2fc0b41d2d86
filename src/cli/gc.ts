/**
 * `lifecycle gc`: removes from image layouts the blobs that nothing in their index.json reaches (see
 * src/image/layout-gc.ts). A tool command, not a phase.
 */
import * as fs from "node:fs";
import type { Command } from "./command.ts";
import { logLevelFlag } from "./command.ts";
import { ExitCode, PhaseError } from "../ground/errors.ts";
import { GC_MIN_AGE_MS, gcLayout } from "../image/layout-gc.ts";
import { candidateLocations } from "../image/locate.ts";

/** Parses `90s`, `10m`, `2h` or a number of seconds. */
export function parseDuration(s: string): number {
  const m = /^(\d+)(ms|s|m|h)?$/.exec(s);
  if (!m) throw new PhaseError(ExitCode.invalidArgs, `invalid duration "${s}" for -min-age: use a number with s, m or h (10m)`);
  const n = Number(m[1]);
  return n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? "s") as "ms" | "s" | "m" | "h"];
}

/** The gc command. */
export const gcCommand: Command = {
  name: "gc",
  phase: false,
  synopsis: "[flags] <image-reference-or-path>...",
  flags: [
    { name: "oci-dir", aliases: ["layout-dir"], kind: "string", env: ["CNB_OCI_PATH", "CNB_LAYOUT_DIR"], default: "/oci", usage: "directory holding the image layouts" },
    { name: "min-age", kind: "string", default: `${GC_MIN_AGE_MS / 60_000}m`, usage: "keep unreferenced blobs changed more recently than this (an export may still be writing them)" },
    logLevelFlag,
  ],
  async run({ args, log }) {
    if (args.positionals.length === 0) throw new PhaseError(ExitCode.invalidArgs, "name at least one image layout");
    const minAge = parseDuration(String(args.values["min-age"]));
    for (const input of args.positionals) {
      const loc = candidateLocations(String(args.values["oci-dir"]), input).find((l) => fs.existsSync(`${l.path}/oci-layout`));
      if (!loc) throw new PhaseError(ExitCode.failed, `no image layout for "${input}" under ${args.values["oci-dir"]}`);
      const r = await gcLayout(loc.path, minAge);
      log.info(`${loc.path}: removed ${r.removed.length} unreferenced files (${(r.freed / 1e6).toFixed(1)} MB freed)${r.keptRecent ? `, kept ${r.keptRecent} recent ones` : ""}`);
      for (const d of r.removed) log.debug(`  removed ${d}`);
    }
    return 0;
  },
};
