/**
 * The creator (spec digest §4.6): analyze, detect, restore, build and export in one process, with the reference's
 * `===> PHASE` banners. Started as root, it prepares the directories for the build user and drops to
 * `CNB_USER_ID`/`CNB_GROUP_ID` once, before analysis, so that buildpacks run unprivileged.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Command } from "../cli/command.ts";
import { ExitCode, PhaseError } from "../ground/errors.ts";
import type { FlagSpec } from "../ground/flags.ts";
import { platformApi } from "../ground/api.ts";
import { refuseRoot } from "../buildpack/privileges.ts";
import type { AnalyzedFile } from "../platform/files.ts";
import { imageLocationFlags, imageStoreFrom, ociGcFlag, warnInapplicableFlags } from "../platform/image-inputs.ts";
import { unwritable } from "../platform/toml.ts";
import { readAnalyzed } from "../platform/readers.ts";
import { analyze, runImageFrom } from "./analyzer.ts";
import { build } from "./builder.ts";
import { commonBuildFlags, detect, orderFlags } from "./detector.ts";
import { exportOptionsFrom, exportWithPool } from "./exporter.ts";
import { restore } from "./restorer.ts";

const flags: FlagSpec[] = [
  ...commonBuildFlags,
  ...imageLocationFlags,
  ...orderFlags,
  { name: "run-image", kind: "string", env: ["CNB_RUN_IMAGE"], usage: "run image reference" },
  { name: "previous-image", kind: "string", env: ["CNB_PREVIOUS_IMAGE"], usage: "previous app image (default: <image>)" },
  { name: "run", kind: "string", env: ["CNB_RUN_PATH"], default: "/cnb/run.toml", usage: "run.toml (unused in layout mode)" },
  { name: "cache-dir", kind: "string", env: ["CNB_CACHE_DIR"], usage: "cache directory" },
  { name: "cache-image", kind: "string", env: ["CNB_CACHE_IMAGE"], usage: "cache image (not supported yet: ignored with a warning)" },
  { name: "skip-restore", kind: "bool", env: ["CNB_SKIP_RESTORE"], usage: "do not restore layers (store.toml still is)" },
  { name: "tag", kind: "list", usage: "additional tag for the app image" },
  { name: "process-type", kind: "string", env: ["CNB_PROCESS_TYPE"], usage: "default process type" },
  ociGcFlag,
  { name: "report", kind: "string", env: ["CNB_REPORT_PATH"], default: (v) => path.join(String(v.layers), "report.toml"), usage: "report.toml" },
  { name: "project-metadata", kind: "string", env: ["CNB_PROJECT_METADATA_PATH"], default: (v) => path.join(String(v.layers), "project-metadata.toml"), usage: "project-metadata.toml" },
  { name: "launcher", kind: "string", default: "/cnb/lifecycle/launcher", usage: "the launcher to put in the image" },
  { name: "launcher-sbom", kind: "string", default: "/cnb/lifecycle", usage: "directory of the launcher's SBOM files" },
  { name: "uid", kind: "int", env: ["CNB_USER_ID"], default: "0", usage: "user ID of the build user" },
  { name: "gid", kind: "int", env: ["CNB_GROUP_ID"], default: "0", usage: "group ID of the build user" },
  { name: "launch-cache", kind: "string", env: ["CNB_LAUNCH_CACHE_DIR"], usage: "launch cache (for -daemon only: ignored with a warning)" },
  { name: "skip-layers", kind: "bool", env: ["CNB_SKIP_LAYERS"], usage: "do not restore the SBOM layer of the previous image" },
  { name: "parallel", kind: "bool", env: ["CNB_PARALLEL_EXPORT"], usage: "accepted; layers are always compressed on every core" },
  { name: "extensions", kind: "string", env: ["CNB_EXTENSIONS_DIR"], usage: "extensions are not supported by the creator" },
];

/** Runs one phase of the creator; a failure without a code of its own gets that phase's. */
async function stage<T>(code: number, verb: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof PhaseError) throw e;
    throw new PhaseError(code, `failed to ${verb}: ${(e as Error).message}`, { cause: e });
  }
}

/** `creator [flags] <image>` */
export const creatorCommand: Command = {
  name: "creator",
  verb: "create",
  phase: true,
  synopsis: "[flags] <image>",
  flags,
  async run({ args, log, env, tuning, privileges }) {
    const api = platformApi(env);
    const v = args.values;
    if (args.positionals.length !== 1) throw new PhaseError(ExitCode.invalidArgs, `failed to parse arguments: received ${args.positionals.length} arguments, but expected 1`);
    if (v.extensions && fs.existsSync(String(v.extensions)) && fs.readdirSync(String(v.extensions)).length) {
      throw new PhaseError(ExitCode.detectOther, "the creator does not support image extensions");
    }
    const store = imageStoreFrom(v, "create", env);
    warnInapplicableFlags(v, (m) => log.warn(m));
    const runImage = runImageFrom(v);
    const image = args.positionals[0];
    const abs = (k: string) => path.resolve(String(v[k]));
    const layersDir = abs("layers");
    const uid = Number(v.uid);
    const gid = Number(v.gid);
    const cacheDir = v["cache-dir"] ? abs("cache-dir") : undefined;
    const images = [image, ...((v.tag as string[]) ?? [])];
    const launchCache = v["launch-cache"] ? abs("launch-cache") : undefined;
    await privileges?.drop(
      { uid, gid },
      {
        volumes: [cacheDir, launchCache],
        workDirs: [layersDir],
        prepare: async (user) => store.prepareOutput(images, user, [await store.find(runImage).catch(() => undefined)].filter((x) => x !== undefined)),
      },
    );
    refuseRoot("create", env);
    const why = unwritable(abs("report"));
    if (why) throw new PhaseError(ExitCode.export, `cannot write the report to ${abs("report")} (-report, CNB_REPORT_PATH): ${why}; nothing was built`);

    log.info("===> ANALYZING");
    const analyzedPath = abs("analyzed");
    await stage(ExitCode.analyze, "analyze", () => analyze({ store, image, runImage, previousImage: v["previous-image"] as string | undefined, layersDir, analyzedPath, skipLayers: v["skip-layers"] as boolean }, log));

    log.info("===> DETECTING");
    const common = { appDir: abs("app"), buildpacksDir: abs("buildpacks"), buildConfigDir: abs("build-config"), platformDir: abs("platform"), platformApi: api, execEnv: env.CNB_EXEC_ENV || "production", env };
    const detected = await detect({ ...common, orderPath: abs("order"), systemPath: abs("system"), analyzedPath, groupPath: abs("group"), planPath: abs("plan") }, log);

    log.info("===> RESTORING");
    const analyzed = readAnalyzed(analyzedPath);
    await stage(ExitCode.restore, "restore", () => restore({ analyzed, group: detected.group, layersDir, cacheDir, skipLayers: v["skip-restore"] as boolean }, log));

    log.info("===> BUILDING");
    await stage(ExitCode.build, "build", () => build({ ...common, layersDir, group: detected.group, plan: detected.plan, analyzed }, log));

    log.info("===> EXPORTING");
    await exportWithPool((pool) => ({ ...exportOptionsFrom({ ...v, "cache-dir": cacheDir, "run-image": undefined }, images, env, tuning, store, pool), group: detected.group }), log, tuning);
    return 0;
  },
};
