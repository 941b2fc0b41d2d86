/**
 * The creator (spec digest §4.6): analyze, detect, restore, build and export in one process, with the reference's
 * `===> PHASE` banners. Each phase is the one its own command runs; a failure carries that phase's exit code.
 */
import { compareApi, LATEST_PLATFORM_API } from "../ground/api.ts";
import { ExitCode, PhaseError } from "../ground/errors.ts";
import type { Logger } from "../ground/log.ts";
import type { AnalyzedFile, GroupFile } from "../platform/files.ts";
import { readAnalyzed } from "../platform/readers.ts";
import { analyze, type AnalyzeOptions } from "./analyzer.ts";
import { build, type BuildOptions } from "./builder.ts";
import { detect, type DetectOptions } from "./detector.ts";
import { restore, type RestoreOptions } from "./restorer.ts";

/** What the creator needs: each phase's inputs, as far as they are known before the build. */
export interface CreateOptions {
  analyze: AnalyzeOptions;
  detect: DetectOptions;
  restore: Omit<RestoreOptions, "analyzed" | "group">;
  build: Omit<BuildOptions, "group" | "plan" | "analyzed" | "groupPath" | "planPath" | "analyzedPath">;
  /** Exports the image once the group and analyzed.toml are known. */
  export: (group: GroupFile, analyzed: AnalyzedFile) => Promise<unknown>;
}

/** Runs one phase of the creator; a failure without a code of its own gets that phase's. */
async function stage<T>(code: number, verb: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof PhaseError) throw e;
    throw new PhaseError(code, `failed to ${verb}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Builds the app image from source in one process.
 *
 * @example await create({ analyze, detect, restore, build, export: (group, analyzed) => … }, log)
 */
export async function create(o: CreateOptions, log: Logger): Promise<void> {
  log.info("===> ANALYZING");
  await stage(ExitCode.analyze, "analyze", () => analyze(o.analyze, log));

  log.info("===> DETECTING");
  const detected = await detect(o.detect, log);

  const analyzed = readAnalyzed(o.analyze.analyzedPath);
  // Before Platform API 0.10, -skip-restore skips the whole restore (store.toml too); from 0.10 only the layers.
  if (!o.restore.skipLayers || compareApi(o.restore.platformApi ?? LATEST_PLATFORM_API, "0.10") >= 0) {
    log.info("===> RESTORING");
    await stage(ExitCode.restore, "restore", () => restore({ ...o.restore, analyzed, group: detected.group }, log));
  }

  log.info("===> BUILDING");
  await stage(ExitCode.build, "build", () => build({ ...o.build, group: detected.group, plan: detected.plan, analyzed }, log));

  log.info("===> EXPORTING");
  await o.export(detected.group, analyzed);
}
