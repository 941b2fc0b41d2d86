/** `restorer [flags]`: its flags, resolved into the restorer's inputs (phase/restorer.ts). */
import { ExitCode } from "../../ground/errors.ts";
import { platformApi } from "../../ground/api.ts";
import { readAnalyzed, readGroup } from "../../platform/readers.ts";
import type { Command } from "../command.ts";
import { flagsNamed, IMAGE_LOCATION } from "../flag-catalog.ts";
import { buildUserOf, cacheOf, noPositionals, storeOf, warnInapplicableFlags } from "../resolve.ts";
import { restore } from "../../phase/restorer.ts";

/** The restorer command. */
export const restorerCommand: Command = {
  name: "restorer",
  verb: "restore",
  phase: true,
  failure: { code: ExitCode.restore, prefix: "failed to restore: " },
  synopsis: "[flags]",
  flags: flagsNamed(
    ...IMAGE_LOCATION.map((n) => (n === "daemon" ? "daemon>=0.12" : n)),
    "layers",
    "analyzed",
    "group",
    "cache-dir",
    "cache-image",
    "skip-layers",
    "uid",
    "gid",
    "build-image>=0.10",
    "run>=0.14",
    "generated>=0.12",
    "no-color",
  ),
  async run({ flags: f, log, env, privileges }) {
    platformApi(env);
    noPositionals(f);
    const store = await storeOf(f, env);
    warnInapplicableFlags(f, log);
    const layersDir = f.path("layers");
    const cacheDir = f.optionalPath("cache-dir");
    await privileges?.drop(buildUserOf(f), { workDirs: [layersDir], volumes: [cacheDir] });
    await restore(
      {
        analyzed: readAnalyzed(f.path("analyzed")),
        group: readGroup(f.path("group")),
        layersDir,
        cache: cacheOf(f, env, store.cacheStore, log),
        skipLayers: f.bool("skip-layers"),
        platformApi: platformApi(env),
      },
      log,
    );
    return ExitCode.ok;
  },
};
