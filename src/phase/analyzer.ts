/**
 * The analyzer (spec digest §4.1; the RFC's "Analyze phase"): finds the run image and the previous app image,
 * restores the previous image's SBOM layer, and writes analyzed.toml. It never knows where images live: it asks
 * an ImageStore.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { compareApi, LATEST_PLATFORM_API } from "../ground/api.ts";
import { ExitCode, PhaseError } from "../ground/errors.ts";
import type { Logger } from "../ground/log.ts";
import type { Image } from "../image/image.ts";
import type { ImageStore } from "../image/store.ts";
import { extractTar } from "../layer/tar-reader.ts";
import type { AnalyzedFile, LayersMetadata, Target } from "../platform/files.ts";
import { Label, parseLifecycleLabel, toAnalyzedToml } from "../platform/labels.ts";
import { writeToml } from "../platform/toml.ts";

/** What the analyzer needs. */
export interface AnalyzeOptions {
  store: ImageStore;
  /** The app image name (`<image>`). */
  image: string;
  runImage: string;
  /** Defaults to `image`. */
  previousImage?: string;
  layersDir: string;
  analyzedPath: string;
  skipLayers?: boolean;
  /** Other names the app image will get (checked for form only in layout mode). */
  tags?: string[];
  /** The Platform API in force (default: the newest): analyzed.toml's shape and the SBOM restore depend on it. */
  platformApi?: string;
}

/** The run image's target, from its config and labels. */
export function targetOf(img: Image): Target {
  if (!img.config.os) throw new PhaseError(ExitCode.analyze, `failed to find the target of run image ${img.identifier}: its config has no "os"`);
  const labels = img.labels();
  const t: Target = { os: img.config.os, arch: img.config.architecture || undefined };
  if (img.config.variant) t["arch-variant"] = img.config.variant;
  if (labels[Label.baseId]) t.id = labels[Label.baseId];
  if (labels[Label.distroName] || labels[Label.distroVersion]) t.distro = { name: labels[Label.distroName], version: labels[Label.distroVersion] };
  return t;
}

/**
 * Analyzes and writes analyzed.toml; resolves to what it wrote.
 *
 * @example await analyze({ store, image: "my-app-image", runImage: "cnb/run:bionic", layersDir, analyzedPath }, log)
 */
export async function analyze(o: AnalyzeOptions, log: Logger): Promise<AnalyzedFile> {
  const api = o.platformApi ?? LATEST_PLATFORM_API;
  const run = await o.store.find(o.runImage);
  if (!run) throw new PhaseError(ExitCode.analyze, `the run-image could not be found at path: ${o.store.whereIs(o.runImage)}`);
  log.debug(`Found run image ${o.runImage} at ${run.identifier}${run.isComplete() ? "" : " (sparse: some layer blobs are not on disk)"}`);

  const prevName = o.previousImage || o.image;
  const prev = await o.store.find(prevName);
  let metadata: LayersMetadata | undefined;
  if (prev) {
    const label = prev.labels()[Label.lifecycle];
    metadata = parseLifecycleLabel(label);
    if (label && !metadata) log.warn(`the ${Label.lifecycle} label of previous image ${prev.identifier} is not valid JSON; ignoring it`);
    log.debug(`Found previous image ${prevName} at ${prev.identifier}`);
    // The previous image's SBOM layer comes back from Platform API 0.8 on.
    if (!o.skipLayers && metadata?.sbom?.sha && compareApi(api, "0.8") >= 0) await restoreSbom(prev, metadata.sbom.sha, o.layersDir, log);
  } else {
    log.debug(`Previous image ${prevName} not found`);
  }

  // Before Platform API 0.12, analyzed.toml's run image is its reference alone (no name, no target data).
  const analyzed: AnalyzedFile = {
    image: { reference: prev ? prev.identifier : "" },
    "run-image": compareApi(api, "0.12") >= 0 ? { image: o.runImage, reference: run.identifier, target: targetOf(run) } : { reference: run.identifier },
  };
  if (metadata) analyzed.metadata = toAnalyzedToml(metadata) as LayersMetadata;
  writeToml(o.analyzedPath, analyzed);
  return analyzed;
}

/** Extracts the previous image's SBOM layer into `<layers>/sbom` (a missing blob only warns). */
async function restoreSbom(prev: Image, diffID: string, layersDir: string, log: Logger): Promise<void> {
  const layer = prev.layers().find((l) => l.diffID === diffID);
  if (!layer || !layer.present) {
    log.warn(`the SBOM layer ${diffID} of the previous image is not on disk; SBOMs of reused layers will not be restored`);
    return;
  }
  log.debug(`Restoring SBOM layer ${diffID}`);
  const roots = [{ image: layersDir, disk: layersDir }];
  try {
    await extractTar(streamChunks(prev.openBlob(layer.digest)), roots);
  } catch (e) {
    // As the reference does: an SBOM layer that cannot be restored (another -layers directory, a damaged blob)
    // costs only the SBOMs of reused layers.
    fs.rmSync(path.join(layersDir, "sbom"), { recursive: true, force: true });
    log.warn(`the SBOM layer ${diffID} of the previous image was not restored: ${(e as Error).message}`);
  }
}

/** A ReadableStream as an async iterable of chunks. */
export async function* streamChunks(s: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const r = s.getReader();
  for (;;) {
    const { done, value } = await r.read();
    if (done) return;
    yield value;
  }
}
