/**
 * The analyzer (spec digest §4.1; the RFC's "Analyze phase"): finds the run image and the previous app image,
 * restores the previous image's SBOM layer, and writes analyzed.toml. It never knows where images live: it asks
 * an ImageStore.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Command } from "../cli/command.ts";
import { logLevelFlag } from "../cli/command.ts";
import { ExitCode, PhaseError } from "../ground/errors.ts";
import type { FlagSpec } from "../ground/flags.ts";
import type { Logger } from "../ground/log.ts";
import { platformApi } from "../ground/api.ts";
import type { Image } from "../image/image.ts";
import type { ImageStore } from "../image/store.ts";
import { extractTar } from "../layer/tar-reader.ts";
import type { AnalyzedFile, LayersMetadata, RunFile, Target } from "../platform/files.ts";
import { imageLocationFlags, imageStoreFrom, layoutMode, warnInapplicableFlags } from "../platform/image-inputs.ts";
import { Label, parseLifecycleLabel, toAnalyzedToml } from "../platform/labels.ts";
import { writeToml } from "../platform/toml.ts";
import { readRunIfExists } from "../platform/readers.ts";

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
    if (!o.skipLayers && metadata?.sbom?.sha) await restoreSbom(prev, metadata.sbom.sha, o.layersDir, log);
  } else {
    log.debug(`Previous image ${prevName} not found`);
  }

  const analyzed: AnalyzedFile = {
    image: { reference: prev ? prev.identifier : "" },
    "run-image": { image: o.runImage, reference: run.identifier, target: targetOf(run) },
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

/**
 * The run image: `-run-image`, else (with registries) the first image of run.toml. Layout mode requires
 * `-run-image`, as the RFC says.
 */
export function runImageFrom(v: Record<string, unknown>): string {
  if (v["run-image"]) return String(v["run-image"]);
  if (layoutMode(v as never)) throw new PhaseError(ExitCode.invalidArgs, "-run-image is required when OCI feature is enabled");
  const run = readRunIfExists(String(v.run ?? "/cnb/run.toml"));
  const image = run?.images?.[0]?.image;
  if (!image) throw new PhaseError(ExitCode.invalidArgs, `-run-image is required: ${v.run ?? "/cnb/run.toml"} names no run image`);
  return image;
}

const flags: FlagSpec[] = [
  ...imageLocationFlags,
  { name: "run-image", kind: "string", env: ["CNB_RUN_IMAGE"], usage: "run image reference" },
  { name: "previous-image", kind: "string", env: ["CNB_PREVIOUS_IMAGE"], usage: "previous app image (default: <image>)" },
  { name: "layers", kind: "string", env: ["CNB_LAYERS_DIR"], default: "/layers", usage: "layers directory" },
  { name: "analyzed", kind: "string", env: ["CNB_ANALYZED_PATH"], default: (v) => path.join(v.layers as string, "analyzed.toml"), usage: "where to write analyzed.toml" },
  { name: "run", kind: "string", env: ["CNB_RUN_PATH"], default: "/cnb/run.toml", usage: "run.toml (not used in layout mode, which needs -run-image)" },
  { name: "skip-layers", kind: "bool", env: ["CNB_SKIP_LAYERS"], usage: "do not restore the SBOM layer of the previous image" },
  { name: "tag", kind: "list", usage: "additional tag for the app image" },
  { name: "uid", kind: "int", env: ["CNB_USER_ID"], usage: "user ID of the build user" },
  { name: "gid", kind: "int", env: ["CNB_GROUP_ID"], usage: "group ID of the build user" },
  { name: "cache-image", kind: "string", env: ["CNB_CACHE_IMAGE"], usage: "cache image (not supported yet: ignored with a warning)" },
  { name: "launch-cache", kind: "string", env: ["CNB_LAUNCH_CACHE_DIR"], usage: "launch cache (for -daemon only: ignored with a warning)" },
  { name: "stack", kind: "string", env: ["CNB_STACK_PATH"], usage: "legacy stack.toml (ignored)" },
  { name: "no-color", kind: "bool", env: ["CNB_NO_COLOR"], usage: "no color in the output" },
  logLevelFlag,
];

/** `analyzer [flags] <image>` */
export const analyzerCommand: Command = {
  name: "analyzer",
  verb: "analyze",
  phase: true,
  failure: { code: ExitCode.analyze, prefix: "failed to analyze: " },
  synopsis: "[flags] <image>",
  flags,
  async run({ args, log, env, privileges }) {
    platformApi(env);
    const v = args.values;
    if (args.positionals.length !== 1) throw new PhaseError(ExitCode.invalidArgs, `failed to parse arguments: received ${args.positionals.length} arguments, but expected 1`);
    const store = imageStoreFrom(v, "analyze", env);
    const runImage = runImageFrom(v);
    warnInapplicableFlags(v, (m) => log.warn(m));
    if (v.uid !== undefined) await privileges?.drop({ uid: Number(v.uid), gid: Number(v.gid ?? 0) }, { workDirs: [path.resolve(v.layers as string)], volumes: v["launch-cache"] ? [path.resolve(String(v["launch-cache"]))] : [] });
    await analyze(
      {
        store,
        image: args.positionals[0],
        runImage,
        previousImage: v["previous-image"] as string | undefined,
        layersDir: path.resolve(v.layers as string),
        analyzedPath: path.resolve(v.analyzed as string),
        skipLayers: v["skip-layers"] as boolean,
        tags: v.tag as string[],
      },
      log,
    );
    return 0;
  },
};
