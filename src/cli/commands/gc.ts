/**
 * `lifecycle gc`: removes from image layouts the blobs that nothing in their index.json reaches (see
 * src/image/layout-gc.ts). A tool command, not a phase.
 */
import * as fs from "node:fs";
import type { Command } from "../command.ts";
import { flagsNamed } from "../flag-catalog.ts";
import { anyLayoutDir } from "../resolve.ts";
import { ExitCode, PhaseError } from "../../ground/errors.ts";
import { gcLayout } from "../../image/layout-gc.ts";
import { candidateLocations } from "../../image/locate.ts";

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
  flags: flagsNamed("oci-dir", "layout-dir", "min-age"),
  async run({ flags: f, log }) {
    if (f.positionals.length === 0) throw new PhaseError(ExitCode.invalidArgs, "name at least one image layout");
    const minAge = parseDuration(f.required("min-age"));
    const dir = anyLayoutDir(f);
    for (const input of f.positionals) {
      const loc = candidateLocations(dir, input).find((l) => fs.existsSync(`${l.path}/oci-layout`));
      if (!loc) throw new PhaseError(ExitCode.failed, `no image layout for "${input}" under ${dir}`);
      const r = await gcLayout(loc.path, minAge);
      log.info(
        `${loc.path}: removed ${r.removed.length} unreferenced files (${(r.freed / 1e6).toFixed(1)} MB freed)${
          r.keptRecent ? `, kept ${r.keptRecent} recent ones` : ""
        }`,
      );
      for (const d of r.removed) log.debug(`  removed ${d}`);
    }
    return 0;
  },
};
