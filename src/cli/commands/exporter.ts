/** `exporter [flags] <image> [<image>...]`: its flags, resolved into the exporter's inputs (phase/exporter.ts). */
import * as path from "node:path";
import { compareApi, platformApi } from "../../ground/api.ts";
import { ExitCode, PhaseError } from "../../ground/errors.ts";
import type { FlagReader } from "../../ground/flags.ts";
import type { Logger } from "../../ground/log.ts";
import type { Image } from "../../image/image.ts";
import type { ImageStore } from "../../image/store.ts";
import type { RoutedStore } from "../../image/routed-store.ts";
import type { LayerCompression } from "../../layer/block-codec.ts";
import { LayerPool } from "../../layer/pool.ts";
import { StatIndex } from "../../layer/stat-index.ts";
import type { AnalyzedFile, GroupFile } from "../../platform/files.ts";
import { readAnalyzed, readAnalyzedIfExists, readGroup } from "../../platform/readers.ts";
import { unwritable } from "../../platform/toml.ts";
import type { Command } from "../command.ts";
import { flagsNamed, IMAGE_LOCATION } from "../flag-catalog.ts";
import { buildUserOf, cacheOf, prepareOutputs, runImageEntries, someImages, storeOf, warnInapplicableFlags } from "../resolve.ts";
import type { Tuning } from "../tuning.ts";
import { parseDuration } from "./gc.ts";
import { exportImage, type ExportOptions, type ExportResult } from "../../phase/exporter.ts";

/** The flags the exporter and the creator share for the export. */
export const EXPORT_FLAGS = [
  "report",
  "project-metadata",
  "launcher",
  "launcher-sbom>=0.11",
  "process-type",
  "oci-gc>=0.12",
  "cache-dir",
  "cache-image",
  "uid",
  "gid",
  "launch-cache",
  "parallel",
  "oci-archive",
  "docker-archive",
  "oci-full>=0.12",
  "layer-compression",
];

/** The exporter's inputs from the flags; `given` replaces what the creator has already (group, analyzed). */
export function exportInputsOf(
  f: FlagReader,
  images: string[],
  env: Record<string, string | undefined>,
  tuning: Tuning,
  store: RoutedStore,
  pool: LayerPool,
  log: Logger,
  given: { group?: GroupFile; analyzed?: AnalyzedFile; runImage?: string | null } = {},
): ExportOptions {
  const layersDir = f.path("layers");
  const api = platformApi(env);
  // Before Platform API 0.12 the run image is analyzed.toml's alone: -run-image is refused, CNB_RUN_IMAGE (which
  // kpack sets) ignored, as the reference does. From 0.12 -run-image names it (the RFC's examples).
  if (compareApi(api, "0.12") < 0 && f.given("run-image") && given.runImage !== null) {
    throw new PhaseError(ExitCode.invalidArgs, "-run-image is unsupported: the exporter takes the run image from analyzed.toml");
  }
  return {
    store,
    images,
    runImage: given.runImage === null || compareApi(api, "0.12") < 0 ? undefined : f.string("run-image"),
    runImageEntries: runImageEntries(f, api),
    analyzed: given.analyzed ?? readAnalyzed(f.path("analyzed")),
    group: given.group ?? readGroup(f.path("group")),
    layersDir,
    appDir: f.path("app"),
    launcherPath: f.path("launcher"),
    processType: f.string("process-type"),
    owner: buildUserOf(f),
    reportPath: f.path("report"),
    projectMetadataPath: f.path("project-metadata"),
    cacheDir: f.optionalPath("cache-dir"),
    cache: cacheOf(f, env, store.cacheStore, log, pool),
    platformApi: platformApi(env),
    sourceDateEpoch: env.SOURCE_DATE_EPOCH,
    execEnv: env.CNB_EXEC_ENV || "production",
    pool,
    layerCompression: layerCompressionOf(f),
    statIndex: tuning.reread ? undefined : new StatIndex(path.join(layersDir, ".cnb-lifecycle", "stat-index.json")),
    gcMinAgeMs: f.bool("oci-gc") ? parseDuration(env.CNB_OCI_GC_MIN_AGE || "10m") : undefined,
  };
}

/** `-layer-compression`: gzip or zstd. */
function layerCompressionOf(f: FlagReader): LayerCompression {
  const c = f.string("layer-compression") ?? "gzip";
  if (c !== "gzip" && c !== "zstd") throw new PhaseError(ExitCode.invalidArgs, `-layer-compression must be gzip or zstd, got "${c}"`);
  return c;
}

/**
 * Exports with a layer pool that lives for the export, mapping unexpected failures to exit 62 (the exporter's and
 * the creator's way in).
 */
export async function exportWithPool(makeOptions: (pool: LayerPool) => ExportOptions, log: Logger, tuning: Tuning): Promise<ExportResult> {
  const pool = new LayerPool(tuning.workers, { engine: tuning.deflate });
  try {
    return await exportImage(makeOptions(pool), log);
  } catch (e) {
    if (e instanceof PhaseError) throw e;
    throw new PhaseError(ExitCode.export, `failed to export: ${(e as Error).message}`, { cause: e });
  } finally {
    await pool.close();
  }
}

/** Fails before anything is exported when the report cannot be written where it is to go. */
export function checkReportPath(report: string, code: number, what: string): void {
  const why = unwritable(report);
  if (why) throw new PhaseError(code, `cannot write the report to ${report} (-report, CNB_REPORT_PATH): ${why}; nothing was ${what}`);
}

/** The run image the exporter will use, if it can be found now (to prepare its blobs for the build user). */
async function runImageSources(store: ImageStore, f: FlagReader): Promise<Image[]> {
  try {
    const given = f.string("run-image");
    if (given) return [await store.find(given)].filter((x): x is Image => !!x);
    const ref = readAnalyzedIfExists(f.path("analyzed"))?.["run-image"]?.reference;
    return ref ? [await store.open(ref)] : [];
  } catch {
    return []; // the export itself reports what is wrong with the run image
  }
}

/** The exporter command. */
export const exporterCommand: Command = {
  name: "exporter",
  verb: "export",
  phase: true,
  failure: { code: ExitCode.export, prefix: "failed to export: " },
  synopsis: "[flags] <image> [<image>...]",
  flags: flagsNamed(
    ...IMAGE_LOCATION,
    "run-image",
    "layers",
    "app",
    "analyzed",
    "group",
    ...EXPORT_FLAGS,
    "extended>=0.12",
    "run>=0.12",
    "stack<0.12",
    "no-color",
  ),
  async run({ flags: f, log, env, tuning, privileges }) {
    platformApi(env);
    const images = someImages(f);
    const store = await storeOf(f, env);
    warnInapplicableFlags(f, log);
    await privileges?.drop(buildUserOf(f), {
      volumes: [f.optionalPath("cache-dir"), f.optionalPath("launch-cache")],
      prepare: async (user) => prepareOutputs(f, store, images, user, await runImageSources(store, f)),
    });
    checkReportPath(f.path("report"), ExitCode.export, "exported");
    await exportWithPool((pool) => exportInputsOf(f, images, env, tuning, store, pool, log), log, tuning);
    return ExitCode.ok;
  },
};
