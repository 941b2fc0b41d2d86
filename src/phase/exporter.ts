/**
 * The exporter (spec digest §4.5 and §9; the RFC's "Export phase"): assembles the app image on top of the run
 * image — run-image layers reused as they are (hardlinked when on disk, left absent when sparse), buildpack launch
 * layers, SBOM, app, launcher, config and process-types layers from the layer engine, reused from the previous
 * image when their diffID is unchanged — then the config with the labels, the manifest, report.toml and the cache.
 * The steps are in src/phase/export/.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { readBuildToml } from "../buildpack/files.ts";
import { escapeID } from "../platform/files.ts";
import { ExitCode, PhaseError } from "../ground/errors.ts";
import type { Logger } from "../ground/log.ts";
import type { Image } from "../image/image.ts";
import type { ImageStore } from "../image/store.ts";
import { familyOf } from "../image/config.ts";
import type { LayerPool } from "../layer/pool.ts";
import type { LayerCompression } from "../layer/block-codec.ts";
import type { LayerCache } from "../cache/cache.ts";
import type { StatIndex } from "../layer/stat-index.ts";
import type { Owner } from "../layer/tar-entries.ts";
import type { AnalyzedFile, GroupFile, LayersMetadata, ReportFile } from "../platform/files.ts";
import { fromAnalyzedToml } from "../platform/labels.ts";
import { compareApi } from "../ground/api.ts";
import { sameReference } from "../image/reference.ts";
import { readBuildMetadata, readProjectMetadataIfExists } from "../platform/readers.ts";
import { Assembly } from "./export/assembly.ts";
import { exportCache } from "./export/cache.ts";
import { imageConfig, imageLabels } from "./export/config.ts";
import { planLayers, writeLayers, writeRunLayers } from "./export/layers.ts";
import { saveAndReport } from "./export/save.ts";

/** What the exporter needs. */
export interface ExportOptions {
  store: ImageStore;
  /** The app image's names; the first is the image, the rest further tags. */
  images: string[];
  /** A run image named on the command line (the RFC's examples); else analyzed.toml's reference. */
  runImage?: string;
  /** The run images run.toml (Platform API >= 0.12) or stack.toml (< 0.12) names, for the lifecycle label. */
  runImageEntries?: { image?: string; mirrors?: string[] }[];
  analyzed: AnalyzedFile;
  group: GroupFile;
  layersDir: string;
  appDir: string;
  launcherPath: string;
  processType?: string;
  owner: Owner;
  reportPath: string;
  projectMetadataPath: string;
  /** The layer cache to write (a volume or an image). */
  cache?: LayerCache;
  /** A cache directory that also keeps the compressed launcher layer. */
  cacheDir?: string;
  platformApi: string;
  sourceDateEpoch?: string;
  execEnv?: string;
  pool: LayerPool;
  /** How new layers are compressed (default gzip). */
  layerCompression?: LayerCompression;
  /** Known diffIDs of unchanged trees (see stat-index.ts); undefined re-reads every layer. */
  statIndex?: StatIndex;
  /** After saving, remove the blobs the app layouts no longer reference, if older than this many ms. */
  gcMinAgeMs?: number;
}

/** What was exported. */
export interface ExportResult {
  digest: string;
  manifestSize: number;
  saved: { name: string; location: string }[];
  report: ReportFile;
}

/**
 * report.toml's `[build]` before Platform API 0.9: the legacy BOM of every buildpack's build.toml, each entry with
 * the buildpack it came from; undefined when there is none.
 */
function buildReport(layersDir: string, group: GroupFile): ReportFile["build"] {
  const bom: unknown[] = [];
  for (const bp of group.group) {
    const file = path.join(layersDir, escapeID(bp.id), "build.toml");
    if (fs.existsSync(file)) bom.push(...readBuildToml(file, { id: bp.id, version: bp.version }).bom);
  }
  return bom.length ? { bom } : undefined;
}

/** Whether two references name the same image; a reference that does not parse is compared as written. */
function sameReferenceSafe(a: string, b: string): boolean {
  try {
    return sameReference(a, b);
  } catch {
    return a === b;
  }
}

/** The run image (named on the command line, else analyzed.toml's) and the previous image, if readable. */
async function baseImages(o: ExportOptions, log: Logger): Promise<{ run: Image; previous?: Image }> {
  const ref = o.analyzed["run-image"]?.reference;
  const run = o.runImage ? await o.store.find(o.runImage) : ref ? await o.store.open(ref) : undefined;
  if (!run) {
    if (o.runImage) throw new PhaseError(ExitCode.export, `the run-image could not be found at path: ${o.store.whereIs(o.runImage)}`);
    throw new PhaseError(ExitCode.export, "no run image: analyzed.toml has no run-image.reference and -run-image was not given");
  }
  const prevRef = o.analyzed.image?.reference;
  if (!prevRef) return { run };
  try {
    return { run, previous: await o.store.open(prevRef) };
  } catch (e) {
    log.warn(`previous image ${prevRef} cannot be read (${(e as Error).message}); no layer will be reused`);
    return { run };
  }
}

/**
 * Exports the app image: plan the layers, write them, make the config and labels, save, report, then the cache
 * and the garbage collection (whose failures only warn). Throws PhaseError(62) on failure; nothing is recorded in
 * an index unless the whole image was written.
 */
export async function exportImage(o: ExportOptions, log: Logger): Promise<ExportResult> {
  const { run, previous } = await baseImages(o, log);
  const prevMD: LayersMetadata = previous ? fromAnalyzedToml(o.analyzed.metadata as Record<string, unknown> | undefined) : {};
  const buildMD = readBuildMetadata(path.join(o.layersDir, "config", "metadata.toml"));

  // Plan the layers, then write them (run image first).
  const plan = planLayers(o.layersDir, o.appDir, o.group, buildMD);
  const family = familyOf(run.manifestDescriptor.mediaType);
  const asm = new Assembly(o.store.sink(o.images, log), family, previous, o.pool, log, o.statIndex, undefined, o.layerCompression);
  const runDescriptors = await writeRunLayers(asm, run, log);
  const md = await writeLayers(asm, plan, prevMD, o);

  // Config and labels.
  const runName = o.runImage ?? o.analyzed["run-image"]?.image ?? run.identifier;
  const top = run.layers().at(-1)?.diffID;
  if (compareApi(o.platformApi, "0.12") >= 0) {
    // The run.toml entry the run image belongs to, else the name it was given.
    const entry = o.runImageEntries?.find((e) => [e.image, ...(e.mirrors ?? [])].some((c) => c && sameReferenceSafe(c, runName))) ?? { image: runName };
    md["run-image"] = { "top-layer": top, reference: run.identifier, image: entry.image, mirrors: entry.mirrors?.length ? entry.mirrors : undefined };
    md.stack = { runImage: { image: entry.image, ...(entry.mirrors?.length ? { mirrors: entry.mirrors } : {}) } };
  } else {
    // Before 0.12: runImage is the top layer and the reference; stack is stack.toml's [run-image] as it is.
    md["run-image"] = { "top-layer": top, reference: run.identifier };
    md.stack = { runImage: { ...(o.runImageEntries?.[0] ?? {}) } };
  }
  const labels = imageLabels(md, buildMD, readProjectMetadataIfExists(o.projectMetadataPath), o, log);
  const config = imageConfig(run.config, labels, asm.layers, buildMD, o, log);

  // Save and report.
  const { manifest, saved, report } = await saveAndReport(
    asm.sink,
    family,
    config,
    [...runDescriptors, ...asm.layers.map((l) => l.descriptor)],
    o.reportPath,
    log,
    { build: compareApi(o.platformApi, "0.9") < 0 ? buildReport(o.layersDir, o.group) : undefined },
  );
  try {
    o.statIndex?.save();
  } catch (e) {
    log.debug(`the stat index was not saved (the next export reads every layer again): ${(e as Error).message}`);
  }
  if (o.gcMinAgeMs !== undefined) {
    try {
      await o.store.collectGarbage(saved, o.gcMinAgeMs, log);
    } catch (e) {
      log.warn(`garbage collection after the export failed (the image is saved): ${(e as Error).message}`);
    }
  }

  // The cache.
  if (o.cache) {
    try {
      await exportCache(o.cache, o.layersDir, o.group, o.owner, log);
    } catch (e) {
      log.warn(`failed to export the cache to ${o.cache.description}: ${(e as Error).message}`);
    }
  }
  return { digest: manifest.digest, manifestSize: manifest.size, saved, report };
}
