/**
 * The rebaser (spec digest §10): puts an existing app image on a new run image without rebuilding it. The app's
 * layers above its run image's top layer are kept as they are (their blobs hardlinked, or left absent in a sparse
 * image); the run image's layers are replaced; the config is the new run image's with the app's container config;
 * the lifecycle label and the base labels follow the new run image.
 */
import { compareApi, LATEST_PLATFORM_API } from "../ground/api.ts";
import { ExitCode, PhaseError } from "../ground/errors.ts";
import type { Logger } from "../ground/log.ts";
import { familyOf, layerTypeIn, NORMALIZED_CREATED } from "../image/config.ts";
import { saveAndReport } from "./export/save.ts";
import type { Image } from "../image/image.ts";
import type { ImageStore } from "../image/store.ts";
import type { History, ImageConfig } from "../image/types.ts";
import { Label, parseLifecycleLabel, toLabelJson } from "../platform/labels.ts";
import { sameReference } from "../image/reference.ts";
import type { ReportFile } from "../platform/files.ts";

/** What the rebaser needs. */
export interface RebaseOptions {
  store: ImageStore;
  /** The names to save the rebased image under (the first is also the image to rebase, unless `previousImage`). */
  images: string[];
  previousImage?: string;
  /** The new run image; default: the run image named in the app image's lifecycle label. */
  runImage?: string;
  force?: boolean;
  reportPath: string;
  /** The Platform API in force (default: the newest): before 0.12 only the stack labels move with the run image. */
  platformApi?: string;
}

/** The labels that describe the run image and move with it (`io.buildpacks.base.*` from Platform API 0.12). */
function isBaseLabel(k: string, api: string): boolean {
  return (compareApi(api, "0.12") >= 0 && k.startsWith("io.buildpacks.base.")) || k.startsWith("io.buildpacks.stack.");
}

/**
 * Stack check for an app image built before Platform API 0.12: the same `io.buildpacks.stack.id` on both images,
 * and every mixin the app image's run image had on the new one (stage prefixes `run:`/`build:` aside).
 */
function checkStack(app: Image, run: Image): string | undefined {
  const appStack = app.labels()[Label.stackId];
  const runStack = run.labels()[Label.stackId];
  if (!appStack) return "stack not defined on app image";
  if (!runStack) return "stack not defined on new base image";
  if (appStack !== runStack) return `incompatible stack: '${runStack}' is not compatible with '${appStack}'`;
  const mixins = (img: Image) => {
    try {
      const v = JSON.parse(img.labels()["io.buildpacks.stack.mixins"] ?? "[]");
      return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string").map((x) => x.replace(/^(run|build):/, "")) : [];
    } catch {
      return [];
    }
  };
  const have = new Set(mixins(run));
  const missing = mixins(app).filter((m) => !have.has(m));
  return missing.length ? `missing required mixin(s): ${missing.join(", ")}` : undefined;
}

/** The Platform API an app image was built with (its `CNB_PLATFORM_API` env), if it says. */
function builtWith(app: Image): string | undefined {
  return (app.config.config?.Env ?? []).find((e) => e.startsWith("CNB_PLATFORM_API="))?.slice("CNB_PLATFORM_API=".length);
}

/** Target check (Platform ≥ 0.12): os and arch equal; variant and distro equal where both are set. */
function checkTarget(app: Image, run: Image): string | undefined {
  const a = app.config;
  const r = run.config;
  if (a.os !== r.os || a.architecture !== r.architecture) return `the new run image is ${r.os}/${r.architecture}, the app image ${a.os}/${a.architecture}`;
  if (a.variant && r.variant && a.variant !== r.variant) return `the new run image's variant is ${r.variant}, the app image's ${a.variant}`;
  const al = app.labels();
  const rl = run.labels();
  for (const k of [Label.distroName, Label.distroVersion]) {
    if (al[k] && rl[k] && al[k] !== rl[k]) return `${k} is "${rl[k]}" on the new run image and "${al[k]}" on the app image`;
  }
  return undefined;
}

/**
 * Rebases and saves; resolves to the report. Throws PhaseError(72) for a rebase that is refused or fails.
 *
 * @example await rebase({ store, images: ["my-app"], runImage: "cnb/run:v2", reportPath }, log)
 */
export async function rebase(o: RebaseOptions, log: Logger): Promise<ReportFile> {
  const api = o.platformApi ?? LATEST_PLATFORM_API;
  const appName = o.previousImage || o.images[0];
  const app = await o.store.find(appName);
  if (!app) throw new PhaseError(ExitCode.rebase, `the app image could not be found at path: ${o.store.whereIs(appName)}`);
  const labels = app.labels();
  if (labels["io.buildpacks.rebasable"] === "false" && !o.force) {
    throw new PhaseError(ExitCode.rebase, `app image ${appName} is not marked as rebasable (io.buildpacks.rebasable=false); use -force to rebase it anyway`);
  }
  const md = parseLifecycleLabel(labels[Label.lifecycle]);
  if (!md) throw new PhaseError(ExitCode.rebase, `app image ${appName} has no valid ${Label.lifecycle} label: it was not built by a lifecycle`);
  const oldRun = md["run-image"];
  const runName = o.runImage || oldRun?.image || md.stack?.runImage?.image;
  if (!runName) throw new PhaseError(ExitCode.rebase, `no run image: pass -run-image (the app image's label names none)`);
  const run = await o.store.find(runName);
  if (!run) throw new PhaseError(ExitCode.rebase, `the run-image could not be found at path: ${o.store.whereIs(runName)}`);
  const known = [oldRun?.image, ...(oldRun?.mirrors ?? [])].filter((x): x is string => !!x);
  // From Platform API 0.12 a run image the label does not name needs -force.
  if (compareApi(api, "0.12") >= 0 && known.length && !known.some((k) => sameReference(k, runName)) && !o.force) {
    throw new PhaseError(
      ExitCode.rebase,
      `new run image ${runName} is not the app image's run image or one of its mirrors (${known.join(", ")}); use -force to rebase onto it`,
    );
  }
  // Images built before Platform API 0.12 carry stacks, not targets.
  const appApi = builtWith(app);
  const mismatch = !appApi || compareApi(appApi, "0.12") < 0 ? checkStack(app, run) : checkTarget(app, run);
  if (mismatch && !o.force) throw new PhaseError(ExitCode.rebase, `cannot rebase: ${mismatch}; use -force to rebase anyway`);

  // The app's own layers: everything above the old run image's top layer.
  const appLayers = app.layers();
  const top = oldRun?.["top-layer"];
  const cut = top ? appLayers.map((l) => l.diffID).lastIndexOf(top) : -1;
  if (cut < 0) throw new PhaseError(ExitCode.rebase, `the old run image's top layer ${top ?? "(none in the label)"} is not a layer of ${appName}`);
  const upper = appLayers.slice(cut + 1);
  const runLayers = run.layers();
  log.info(`Rebasing ${appName} on run image ${runName}`);

  const family = familyOf(run.manifestDescriptor.mediaType);
  const sink = o.store.sink(o.images, log);
  let missing = 0;
  for (const l of runLayers) if ((await sink.reuseBlob(run, l)) === "missing") missing++;
  for (const l of upper) if ((await sink.reuseBlob(app, l)) === "missing") missing++;
  if (missing) log.info(`${missing} layer blobs are not on disk and are left out of the rebased image's blobs`);

  // Config: the new run image's, with the app's container config, creation time and upper history.
  const config: ImageConfig = structuredClone(run.config);
  config.created = app.config.created ?? NORMALIZED_CREATED;
  config.config = structuredClone(app.config.config ?? {});
  const newLabels: Record<string, string> = {};
  for (const [k, v] of Object.entries(config.config.Labels ?? {})) if (!isBaseLabel(k, api)) newLabels[k] = v;
  for (const [k, v] of Object.entries(run.labels())) if (isBaseLabel(k, api)) newLabels[k] = v;
  const newMD = { ...md, "run-image": { ...(oldRun ?? {}), "top-layer": runLayers.at(-1)?.diffID, reference: run.identifier } };
  if (!known.some((k) => sameReference(k, runName))) {
    newMD["run-image"] = { ...newMD["run-image"], image: runName, mirrors: [] };
    newMD.stack = { runImage: { image: runName, mirrors: [] } };
  }
  newLabels[Label.lifecycle] = JSON.stringify(toLabelJson(newMD));
  config.config.Labels = newLabels;
  config.rootfs = { type: "layers", diff_ids: [...runLayers.map((l) => l.diffID), ...upper.map((l) => l.diffID)] };
  const appHistory = (app.config.history ?? []).filter((h) => !h.empty_layer);
  const upperHistory: History[] = appHistory.length === appLayers.length ? appHistory.slice(cut + 1) : upper.map(() => ({ created: config.created }));
  const runHistory = (run.config.history ?? []).filter((h) => !h.empty_layer);
  const baseHistory: History[] = runHistory.length === runLayers.length ? run.config.history ?? [] : runLayers.map(() => ({ created: NORMALIZED_CREATED }));
  config.history = [...baseHistory, ...upperHistory];

  const layers = [...runLayers, ...upper].map((l) => ({ ...l.descriptor, mediaType: layerTypeIn(family, l.descriptor.mediaType) }));
  const { report } = await saveAndReport(sink, family, config, layers, o.reportPath, log, { manifestSize: false });
  return report;
}
