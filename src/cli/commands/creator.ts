/** `creator [flags] <image>`: its flags, resolved into the inputs of every phase it runs (phase/creator.ts). */
import * as fs from "node:fs";
import { platformApi } from "../../ground/api.ts";
import { ExitCode, PhaseError } from "../../ground/errors.ts";
import { refuseRoot } from "../../buildpack/privileges.ts";
import type { Command } from "../command.ts";
import { flagsNamed, IMAGE_LOCATION } from "../flag-catalog.ts";
import { buildUserOf, cacheOf, oneImage, prepareOutputs, resolveRunImage, storeOf, warnInapplicableFlags } from "../resolve.ts";
import { BUILD_DIRS, buildDirsOf, detectInputsOf } from "./detector.ts";
import { checkReportPath, EXPORT_FLAGS, exportInputsOf, exportWithPool } from "./exporter.ts";
import { create } from "../../phase/creator.ts";

/** The creator command. */
export const creatorCommand: Command = {
  name: "creator",
  verb: "create",
  phase: true,
  synopsis: "[flags] <image>",
  flags: flagsNamed(
    ...BUILD_DIRS,
    ...IMAGE_LOCATION,
    "order",
    "system>=0.15",
    "run-image",
    "previous-image",
    "run>=0.12",
    "skip-restore",
    "tag",
    "skip-layers",
    "extensions",
    "stack",
    ...EXPORT_FLAGS,
  ),
  async run({ flags: f, log, env, tuning, privileges }) {
    const api = platformApi(env);
    const image = oneImage(f);
    const extensions = f.given("extensions") || env.CNB_EXTENSIONS_DIR ? f.string("extensions") : undefined;
    if (extensions && fs.existsSync(extensions) && fs.readdirSync(extensions).length) {
      throw new PhaseError(ExitCode.detectOther, "the creator does not support image extensions");
    }
    const store = await storeOf(f, env);
    warnInapplicableFlags(f, log);
    const runImage = (await resolveRunImage(f, env, store, image)).image;
    const layersDir = f.path("layers");
    const cacheDir = f.optionalPath("cache-dir");
    const images = [image, ...f.list("tag")];
    await privileges?.drop(buildUserOf(f), {
      volumes: [cacheDir, f.optionalPath("launch-cache")],
      workDirs: [layersDir],
      prepare: async (user) => prepareOutputs(f, store, images, user, [await store.find(runImage).catch(() => undefined)].filter((x) => x !== undefined)),
    });
    refuseRoot("create", env);
    checkReportPath(f.path("report"), ExitCode.export, "built");

    const dirs = buildDirsOf(f, env, api);
    const analyzedPath = f.path("analyzed");
    await create(
      {
        analyze: {
          store,
          image,
          runImage,
          previousImage: f.string("previous-image"),
          layersDir,
          analyzedPath,
          skipLayers: f.bool("skip-layers") || f.bool("skip-restore"),
          platformApi: api,
        },
        detect: detectInputsOf(f, env, api),
        restore: { layersDir, cache: cacheOf(f, env, store.cacheStore, log), skipLayers: f.bool("skip-restore"), platformApi: api },
        build: { ...dirs, layersDir },
        export: (group, analyzed) =>
          exportWithPool((pool) => exportInputsOf(f, images, env, tuning, store, pool, log, { group, analyzed, runImage: null }), log, tuning),
      },
      log,
    );
    return ExitCode.ok;
  },
};
