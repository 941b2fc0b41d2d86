/** `analyzer [flags] <image>`: its flags, resolved into the analyzer's inputs (phase/analyzer.ts). */
import { ExitCode } from "../../ground/errors.ts";
import { platformApi } from "../../ground/api.ts";
import type { Command } from "../command.ts";
import { flagsNamed, IMAGE_LOCATION } from "../flag-catalog.ts";
import { buildUserOf, oneImage, resolveRunImage, storeOf, warnInapplicableFlags } from "../resolve.ts";
import { analyze } from "../../phase/analyzer.ts";

/** The analyzer command. */
export const analyzerCommand: Command = {
  name: "analyzer",
  verb: "analyze",
  phase: true,
  failure: { code: ExitCode.analyze, prefix: "failed to analyze: " },
  synopsis: "[flags] <image>",
  flags: flagsNamed(
    ...IMAGE_LOCATION,
    "run-image",
    "previous-image",
    "layers",
    "analyzed",
    "run>=0.12",
    "skip-layers>=0.9",
    "tag",
    "uid",
    "gid",
    "cache-image",
    "launch-cache>=0.9",
    "stack<0.12",
    "no-color",
  ),
  async run({ flags: f, log, env, privileges }) {
    const image = oneImage(f);
    const store = await storeOf(f, env);
    const runImage = (await resolveRunImage(f, env, store, image)).image;
    warnInapplicableFlags(f, log);
    const layersDir = f.path("layers");
    await privileges?.drop(buildUserOf(f), { workDirs: [layersDir], volumes: [f.optionalPath("launch-cache")] });
    await analyze(
      {
        store,
        image,
        runImage,
        previousImage: f.string("previous-image"),
        layersDir,
        analyzedPath: f.path("analyzed"),
        skipLayers: f.bool("skip-layers"),
        tags: f.list("tag"),
        platformApi: platformApi(env),
      },
      log,
    );
    return ExitCode.ok;
  },
};
