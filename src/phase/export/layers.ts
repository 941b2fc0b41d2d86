/**
 * The exporter's layers (spec digest §9.1): first planned from what the build left (which buildpack layers are
 * launch layers, with or without contents; the SBOM directory; the app slices; the process types), then written
 * in the reference's order — run image, buildpack launch layers, SBOM, app, launcher, config, process types —
 * each reused from the previous image when unchanged. What was written is recorded for the lifecycle label.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ExitCode, PhaseError } from "../../ground/errors.ts";
import type { Logger } from "../../ground/log.ts";
import type { Image } from "../../image/image.ts";
import type { Descriptor } from "../../image/types.ts";
import { layerTypeIn } from "../../image/config.ts";
import { launcherLayer } from "../../layer/launcher-cache.ts";
import { layerNames, type LayerTypes, readLayerToml } from "../../buildpack/files.ts";
import { type AppLayerPlan, appPlanEntries, planAppLayers } from "../../layer/slices.ts";
import { dirLayerEntries, type Owner, processTypesLayerEntries } from "../../layer/tar-entries.ts";
import type { BuildMetadataFile, BuildpackLayersMetadata, GroupFile, LayerMetadata, LayersMetadata } from "../../platform/files.ts";
import { escapeID } from "../../platform/files.ts";
import { readStoreIfExists } from "../../platform/readers.ts";
import type { Assembly } from "./assembly.ts";

/** One launch layer of a buildpack. */
interface PlannedLayer {
  /** `<buildpack id>:<layer name>`, as the log names it. */
  id: string;
  name: string;
  /** The layer's directory; absent when only its `<layer>.toml` is there (reused from the previous image). */
  dir?: string;
  types: LayerTypes;
  metadata?: Record<string, unknown>;
  createdBy: string;
}

/** What the exporter will write, before anything is read or compressed. */
export interface LayerPlan {
  buildpacks: { id: string; version: string; layers: PlannedLayer[]; store?: Record<string, unknown> }[];
  /** `<layers>/sbom/launch`, when it exists. */
  sbomDir?: string;
  app: { dir: string; plans: AppLayerPlan[]; slices: { paths: string[] }[] };
  processTypes: string[];
  configDir: string;
}

/**
 * Plans the layers from the layers directory, group.toml and metadata.toml.
 *
 * @example planLayers("/layers", "/workspace", group, buildMD)
 */
export function planLayers(layersDir: string, appDir: string, group: GroupFile, buildMD: BuildMetadataFile): LayerPlan {
  const buildpacks = group.group.map((bp) => {
    const bpDir = path.join(layersDir, escapeID(bp.id));
    const layers: PlannedLayer[] = [];
    for (const name of layerNames(bpDir)) {
      const toml = readLayerToml(path.join(bpDir, `${name}.toml`));
      if (!toml.types.launch) continue;
      const dir = path.join(bpDir, name);
      layers.push({
        id: `${bp.id}:${name}`,
        name,
        dir: fs.existsSync(dir) ? dir : undefined,
        types: toml.types,
        metadata: toml.metadata,
        createdBy: `Layer: '${name}', Created by buildpack: ${bp.id}@${bp.version}`,
      });
    }
    const store = readStoreIfExists(path.join(bpDir, "store.toml"), `store.toml of ${bp.id}`);
    return { id: bp.id, version: bp.version, layers, store: store?.metadata };
  });
  const sbomDir = path.join(layersDir, "sbom", "launch");
  const slices = buildMD.slices ?? [];
  return {
    buildpacks,
    sbomDir: fs.existsSync(sbomDir) ? sbomDir : undefined,
    app: { dir: appDir, plans: planAppLayers({ disk: appDir, image: appDir }, slices), slices },
    processTypes: (buildMD.processes ?? []).map((p) => p.type),
    configDir: path.join(layersDir, "config"),
  };
}

/** Brings the run image's layer blobs into the sink as they are; returns their descriptors in the app's family. */
export async function writeRunLayers(asm: Assembly, run: Image, log: Logger): Promise<Descriptor[]> {
  const runLayers = run.layers();
  let missing = 0;
  for (const l of runLayers) if ((await asm.sink.reuseBlob(run, l)) === "missing") missing++;
  if (missing) log.info(`Run image is sparse: ${missing} of ${runLayers.length} layer blobs are not on disk and are left out of the app image's blobs`);
  return runLayers.map((l) => ({ ...l.descriptor, mediaType: layerTypeIn(asm.family, l.descriptor.mediaType) }));
}

/** What writing the layers needs besides the plan. */
export interface LayerWriteInputs {
  owner: Owner;
  launcherPath: string;
  cacheDir?: string;
}

/**
 * Writes (or reuses) every planned layer and returns the lifecycle label's record of them. Every layer's step is
 * asked for here, in the manifest's order, before any is awaited: the Assembly works on several at once and
 * commits them in this order.
 */
export async function writeLayers(asm: Assembly, plan: LayerPlan, prev: LayersMetadata, o: LayerWriteInputs): Promise<LayersMetadata> {
  try {
    return await askForLayers(asm, plan, prev, o);
  } finally {
    // On a failure, let the layers already under way finish (and remove their temporary files) first.
    await asm.settled();
  }
}

function askForLayers(asm: Assembly, plan: LayerPlan, prev: LayersMetadata, o: LayerWriteInputs): Promise<LayersMetadata> {
  const buildpacks = plan.buildpacks.map((bp) => writeBuildpackLayers(asm, bp, prev, o.owner));

  let sbom: Promise<{ diffID: string }> | undefined;
  if (plan.sbomDir) {
    const placement = { disk: plan.sbomDir, image: plan.sbomDir };
    sbom = asm.addOrReuse(
      "buildpacksio/lifecycle:launch.sbom",
      () => dirLayerEntries(placement, o.owner),
      prev.sbom?.sha,
      "Software Bill-of-Materials",
      { placement, owner: o.owner },
    );
  }

  const app = writeAppLayers(asm, plan.app, prev, o.owner);

  // The launcher layer: compressed once per launcher binary and kept in a cache.
  const launcher = asm.addReusedOrCompressed("buildpacksio/lifecycle:launcher", "Buildpacks Application Launcher", async () => {
    const l = await launcherLayer(o.launcherPath, o.cacheDir, asm.pool, asm.compression);
    return { reuse: prev.launcher?.sha === l.diffID ? l.diffID : undefined, blob: l.blob, digests: l };
  });

  const configDir = { disk: plan.configDir, image: plan.configDir };
  const config = asm.addOrReuse("buildpacksio/lifecycle:config", () => dirLayerEntries(configDir, o.owner), prev.config?.sha, "Buildpacks Launcher Config");

  const types = plan.processTypes;
  const processTypes = types.length
    ? asm.addOrReuse("buildpacksio/lifecycle:process-types", () => processTypesLayerEntries(types), prev["process-types"]?.sha, "Buildpacks Process Types")
    : undefined;

  const all = [...buildpacks, sbom, app, launcher, config, processTypes];
  return Promise.all(all).then(async () => {
    const md: LayersMetadata = { buildpacks: await Promise.all(buildpacks) };
    if (sbom) md.sbom = { sha: (await sbom).diffID };
    md.app = await app;
    md.launcher = { sha: await launcher };
    md.config = { sha: (await config).diffID };
    if (processTypes) md["process-types"] = { sha: (await processTypes).diffID };
    return md;
  });
}

/** One buildpack's launch layers, by name; a layer without contents is the previous image's. */
function writeBuildpackLayers(asm: Assembly, bp: LayerPlan["buildpacks"][number], prev: LayersMetadata, owner: Owner): Promise<BuildpackLayersMetadata> {
  const prevBp = prev.buildpacks?.find((b) => b.key === bp.id);
  const layers = bp.layers.map((l) => {
    const prevSha = prevBp?.layers?.[l.name]?.sha;
    if (l.dir) {
      const placement = { disk: l.dir, image: l.dir };
      return asm.addOrReuse(l.id, () => dirLayerEntries(placement, owner), prevSha, l.createdBy, { placement, owner }).then((r) => r.diffID);
    }
    const fail = () =>
      new PhaseError(ExitCode.export, `failed to reuse layer '${l.id}': it has a ${l.name}.toml but no directory, and the previous image has no such layer`);
    if (!prevSha) return Promise.reject(fail());
    return asm.reuse(prevSha, l.createdBy, `Reusing layer '${l.id}'`).then((ok) => {
      if (!ok) throw fail();
      return prevSha;
    });
  });
  return Promise.all(layers).then((diffIDs) => {
    const entry: BuildpackLayersMetadata = { key: bp.id, version: bp.version, layers: {} };
    bp.layers.forEach((l, i) => {
      entry.layers![l.name] = { sha: diffIDs[i], data: l.metadata, launch: true, build: l.types.build, cache: l.types.cache } as LayerMetadata;
    });
    if (bp.store) entry.store = { metadata: bp.store };
    return entry;
  });
}

/** The app layers: one per slice, then the rest, each reused when the previous image has its diffID. */
function writeAppLayers(asm: Assembly, app: LayerPlan["app"], prev: LayersMetadata, owner: Owner): Promise<{ sha: string }[]> {
  const placement = { disk: app.dir, image: app.dir };
  const prevApp = [...new Set((prev.app ?? []).map((a) => a.sha))];
  const layers = app.plans.map((plan, i) => {
    const createdBy = app.slices.length ? `Application Slice: ${i + 1}` : "Application Layer";
    const tree = { placement, owner, extra: `slice ${i} of ${JSON.stringify(app.slices)}` };
    return asm.diffIDOrCompress(() => appPlanEntries(placement, plan, owner), prevApp, createdBy, "the app", tree);
  });
  const n = app.plans.length;
  const reusedCount = async () => (await Promise.all(layers)).filter((r) => r.reused).length;
  const summary = [
    asm.note(async () => {
      const reused = await reusedCount();
      return reused ? `Reusing ${reused}/${n} app layer(s)` : undefined;
    }),
    asm.note(async () => {
      const reused = await reusedCount();
      return n - reused ? `Adding ${n - reused}/${n} app layer(s)` : undefined;
    }),
  ];
  return Promise.all([...layers, ...summary]).then(() => Promise.all(layers)).then((rs) => rs.map((r) => ({ sha: r.diffID })));
}
