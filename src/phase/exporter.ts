/**
 * The exporter (spec digest §4.5 and §9; the RFC's "Export phase"): assembles the app image on top of the run
 * image — run-image layers reused as they are (hardlinked when on disk, left absent when sparse), buildpack launch
 * layers, SBOM, app, launcher, config and process-types layers from the layer engine, reused from the previous
 * image when their diffID is unchanged — then the config with the labels, the manifest, report.toml and the cache.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { discardTemp } from "../fsutil/atomic.ts";
import type { Command } from "../cli/command.ts";
import { logLevelFlag } from "../cli/command.ts";
import { ExitCode, PhaseError } from "../ground/errors.ts";
import type { FlagSpec } from "../ground/flags.ts";
import type { Logger } from "../ground/log.ts";
import { compareApi, platformApi } from "../ground/api.ts";
import { progress, treeSize } from "../ground/progress.ts";
import { VolumeCache, type CacheMetadata } from "../export/cache.ts";
import { type Family, appConfig, appManifest, configBytes, createdTime, familyOf, layerTypeIn, typesOf } from "../export/image-config.ts";
import { launcherLayer } from "../export/launcher-cache.ts";
import type { Image } from "../image/image.ts";
import type { ImageSink, ImageStore } from "../image/store.ts";
import type { Descriptor } from "../image/types.ts";
import { LayerPool } from "../layer/pool.ts";
import { layerNames, readLayerToml } from "../buildpack/build.ts";
import { tarDiffID } from "../layer/pipeline.ts";
import { StatIndex, treeFingerprint } from "../layer/stat-index.ts";
import { parseDuration } from "../cli/gc.ts";
import { appPlanEntries, planAppLayers } from "../layer/slices.ts";
import { type Owner, type Placement, type TarEntry, dirLayerEntries, processTypesLayerEntries } from "../layer/tar-entries.ts";
import type { AnalyzedFile, BuildMetadataFile, BuildpackLayersMetadata, GroupFile, LayerMetadata, LayersMetadata, ProjectMetadataFile, ReportFile, StoreFile } from "../platform/files.ts";
import { escapeID } from "../platform/files.ts";
import { imageLocationFlags, imageStoreFrom, ociGcFlag, warnInapplicableFlags } from "../platform/image-inputs.ts";
import { Label, fromAnalyzedToml, toLabelJson } from "../platform/labels.ts";
import { unwritable, writeToml } from "../platform/toml.ts";
import { readAnalyzed, readAnalyzedIfExists, readBuildMetadata, readGroup, readProjectMetadataIfExists, readStoreIfExists } from "../platform/readers.ts";
import { VERSION } from "../ground/version.ts";
import type { Tuning } from "../cli/tuning.ts";

/** What the exporter needs. */
export interface ExportOptions {
  store: ImageStore;
  /** The app image's names; the first is the image, the rest further tags. */
  images: string[];
  /** A run image named on the command line (the RFC's examples); else analyzed.toml's reference. */
  runImage?: string;
  analyzed: AnalyzedFile;
  group: GroupFile;
  layersDir: string;
  appDir: string;
  launcherPath: string;
  processType?: string;
  owner: Owner;
  reportPath: string;
  projectMetadataPath: string;
  cacheDir?: string;
  platformApi: string;
  sourceDateEpoch?: string;
  execEnv?: string;
  pool: LayerPool;
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

/** A layer of the new image: its descriptor and diffID, and the label data the reference records. */
interface NewLayer {
  descriptor: Descriptor;
  diffID: string;
  createdBy: string;
}

/** Per-export state: the sink, the previous image, the pool, and the layers added so far. */
class Assembly {
  readonly layers: NewLayer[] = [];
  constructor(
    readonly sink: ImageSink,
    readonly family: Family,
    readonly previous: Image | undefined,
    readonly pool: LayerPool,
    readonly log: Logger,
    readonly statIndex?: StatIndex,
  ) {}

  /** The previous image's layer with this diffID, if the previous image has one. */
  previousLayer(diffID: string | undefined) {
    return diffID ? this.previous?.layers().find((l) => l.diffID === diffID) : undefined;
  }

  /** Reuses the previous image's layer `diffID`: its descriptor, and its blob when that is on disk. */
  async reuse(diffID: string, createdBy: string): Promise<boolean> {
    const prev = this.previousLayer(diffID);
    if (!prev || !this.previous) return false;
    await this.sink.reuseBlob(this.previous, prev);
    this.layers.push({ descriptor: { ...prev.descriptor, mediaType: layerTypeIn(this.family, prev.descriptor.mediaType) }, diffID, createdBy });
    return true;
  }

  /** Compresses a new layer into the sink. */
  async add(entries: Iterable<TarEntry>, label: string, createdBy: string, size?: number): Promise<string> {
    const tmp = this.sink.tempBlobPath();
    const p = progress(`Compressing ${label}`, size ?? 0);
    try {
      const r = await this.pool.runEntries(entries, tmp, (n) => p.update(n));
      await this.sink.commitBlob(tmp, r.digest);
      this.layers.push({ descriptor: { mediaType: typesOf(this.family).layer, digest: r.digest, size: r.size }, diffID: r.diffID, createdBy });
      return r.diffID;
    } finally {
      p.done();
      discardTemp(tmp);
    }
  }

  /**
   * Adds a layer, or reuses the previous image's when its diffID is `previousSha`: the tar is hashed first only
   * when reuse is possible, so a new layer is read once.
   */
  async addOrReuse(
    id: string,
    makeEntries: () => Iterable<TarEntry>,
    previousSha: string | undefined,
    createdBy: string,
    tree?: { placement: Placement; owner: Owner; extra?: string },
  ): Promise<{ diffID: string; reused: boolean }> {
    const r = await this.diffIDOrCompress(makeEntries, previousSha ? [previousSha] : [], createdBy, `'${id}'`, tree);
    this.log.info(`${r.reused ? "Reusing" : "Adding"} layer '${id}'`);
    return r;
  }

  /**
   * The core of reuse: when the previous image has a layer that this one may equal, find this one's diffID —
   * from the stat index when the tree is unchanged (no file read), else by hashing the tar — and reuse on a
   * match; otherwise compress. A new layer is read once.
   */
  async diffIDOrCompress(
    makeEntries: () => Iterable<TarEntry>,
    candidates: string[],
    createdBy: string,
    label: string,
    tree?: { placement: Placement; owner: Owner; extra?: string },
  ): Promise<{ diffID: string; reused: boolean }> {
    const fp = tree && this.statIndex ? treeFingerprint(tree.placement, tree.owner, tree.extra) : undefined;
    if (candidates.some((c) => this.previousLayer(c))) {
      const known = fp ? this.statIndex?.lookup(fp) : undefined;
      if (known) this.log.debug(`${label} is unchanged since it was last exported (stat index): not read again`);
      const diffID = known ?? (await tarDiffID(makeEntries())).diffID;
      if (fp) this.statIndex?.record(fp, diffID);
      if (candidates.includes(diffID) && (await this.reuse(diffID, createdBy))) return { diffID, reused: true };
    }
    const diffID = await this.add(makeEntries(), label, createdBy, tree ? treeSize(tree.placement.disk) : undefined);
    if (fp) this.statIndex?.record(fp, diffID);
    return { diffID, reused: false };
  }
}

/**
 * Exports the app image. Throws PhaseError(62) on failure; nothing is recorded in index.json unless the whole
 * image (blobs, config, manifest) was written.
 */
export async function exportImage(o: ExportOptions, log: Logger): Promise<ExportResult> {
  const run = o.runImage ? await o.store.find(o.runImage) : o.analyzed["run-image"]?.reference ? await o.store.open(o.analyzed["run-image"].reference) : undefined;
  if (!run) {
    if (o.runImage) throw new PhaseError(ExitCode.export, `the run-image could not be found at path: ${o.store.whereIs(o.runImage)}`);
    throw new PhaseError(ExitCode.export, "no run image: analyzed.toml has no run-image.reference and -run-image was not given");
  }
  let previous: Image | undefined;
  const prevRef = o.analyzed.image?.reference;
  if (prevRef) {
    try {
      previous = await o.store.open(prevRef);
    } catch (e) {
      log.warn(`previous image ${prevRef} cannot be read (${(e as Error).message}); no layer will be reused`);
    }
  }
  const prevMD: LayersMetadata = previous ? fromAnalyzedToml(o.analyzed.metadata as Record<string, unknown> | undefined) : {};
  const buildMD = readBuildMetadata(path.join(o.layersDir, "config", "metadata.toml"));
  const family = familyOf(run.manifestDescriptor.mediaType);
  const sink = o.store.sink(o.images, log);
  const asm = new Assembly(sink, family, previous, o.pool, log, o.statIndex);

  // 1. Run-image layers, as they are.
  const runLayers = run.layers();
  let missing = 0;
  for (const l of runLayers) {
    if ((await sink.reuseBlob(run, l)) === "missing") missing++;
  }
  if (missing) log.info(`Run image is sparse: ${missing} of ${runLayers.length} layer blobs are not on disk and are left out of the app image's blobs`);
  const runDescriptors = runLayers.map((l) => ({ ...l.descriptor, mediaType: layerTypeIn(family, l.descriptor.mediaType) }));

  // 2. Buildpack launch layers, in group order, layers by name.
  const md: LayersMetadata = { buildpacks: [] };
  for (const bp of o.group.group) {
    const bpDir = path.join(o.layersDir, escapeID(bp.id));
    const prevBp = prevMD.buildpacks?.find((b) => b.key === bp.id);
    const entry: BuildpackLayersMetadata = { key: bp.id, version: bp.version, layers: {} };
    for (const name of layerNames(bpDir)) {
      const toml = readLayerToml(path.join(bpDir, `${name}.toml`));
      const types = toml.types;
      if (!types.launch) continue;
      const id = `${bp.id}:${name}`;
      const layerDir = path.join(bpDir, name);
      const createdBy = `Layer: '${name}', Created by buildpack: ${bp.id}@${bp.version}`;
      const prevSha = prevBp?.layers?.[name]?.sha;
      let diffID: string;
      if (fs.existsSync(layerDir)) {
        const placement = { disk: layerDir, image: layerDir };
        diffID = (await asm.addOrReuse(id, () => dirLayerEntries(placement, o.owner), prevSha, createdBy, { placement, owner: o.owner })).diffID;
      } else {
        if (!prevSha || !(await asm.reuse(prevSha, createdBy))) {
          throw new PhaseError(ExitCode.export, `failed to reuse layer '${id}': it has a ${name}.toml but no directory, and the previous image has no such layer`);
        }
        log.info(`Reusing layer '${id}'`);
        diffID = prevSha;
      }
      entry.layers![name] = { sha: diffID, data: toml.metadata, launch: true, build: !!types.build, cache: !!types.cache } as LayerMetadata;
    }
    const store = readStoreIfExists(path.join(bpDir, "store.toml"), `store.toml of ${bp.id}`);
    if (store?.metadata) entry.store = { metadata: store.metadata };
    md.buildpacks!.push(entry);
  }

  // 3. SBOM layer.
  const sbomDir = path.join(o.layersDir, "sbom", "launch");
  if (fs.existsSync(sbomDir)) {
    const placement = { disk: sbomDir, image: sbomDir };
    const r = await asm.addOrReuse("buildpacksio/lifecycle:launch.sbom", () => dirLayerEntries(placement, o.owner), prevMD.sbom?.sha, "Software Bill-of-Materials", { placement, owner: o.owner });
    md.sbom = { sha: r.diffID };
  }

  // 4. App layers: one per slice, then the rest.
  const app = { disk: o.appDir, image: o.appDir };
  const plans = planAppLayers(app, buildMD.slices ?? []);
  const prevApp = new Set((prevMD.app ?? []).map((a) => a.sha));
  md.app = [];
  let reusedApp = 0;
  for (const [i, plan] of plans.entries()) {
    const createdBy = buildMD.slices?.length ? `Application Slice: ${i + 1}` : "Application Layer";
    const tree = { placement: app, owner: o.owner, extra: `slice ${i} of ${JSON.stringify(buildMD.slices ?? [])}` };
    const r = await asm.diffIDOrCompress(() => appPlanEntries(app, plan, o.owner), [...prevApp], createdBy, "the app", tree);
    if (r.reused) reusedApp++;
    md.app.push({ sha: r.diffID });
  }
  if (reusedApp) log.info(`Reusing ${reusedApp}/${plans.length} app layer(s)`);
  if (plans.length - reusedApp) log.info(`Adding ${plans.length - reusedApp}/${plans.length} app layer(s)`);

  // 5. Launcher layer: compressed once per launcher binary and reused from a cache.
  const launcher = await launcherLayer(o.launcherPath, o.cacheDir, o.pool);
  if (prevMD.launcher?.sha === launcher.diffID && (await asm.reuse(launcher.diffID, "Buildpacks Application Launcher"))) {
    log.info("Reusing layer 'buildpacksio/lifecycle:launcher'");
  } else {
    log.info("Adding layer 'buildpacksio/lifecycle:launcher'");
    await sink.linkFile(launcher.blob, launcher.digest);
    asm.layers.push({ descriptor: { mediaType: typesOf(family).layer, digest: launcher.digest, size: launcher.size }, diffID: launcher.diffID, createdBy: "Buildpacks Application Launcher" });
  }
  md.launcher = { sha: launcher.diffID };

  // 6. Config layer.
  const configDir = path.join(o.layersDir, "config");
  md.config = { sha: (await asm.addOrReuse("buildpacksio/lifecycle:config", () => dirLayerEntries({ disk: configDir, image: configDir }, o.owner), prevMD.config?.sha, "Buildpacks Launcher Config")).diffID };

  // 7. Process-types layer.
  const processes = buildMD.processes ?? [];
  if (processes.length) {
    const types = processes.map((p) => p.type);
    md["process-types"] = { sha: (await asm.addOrReuse("buildpacksio/lifecycle:process-types", () => processTypesLayerEntries(types), prevMD["process-types"]?.sha, "Buildpacks Process Types")).diffID };
  }

  // Labels and config.
  const runName = o.runImage ?? o.analyzed["run-image"]?.image ?? run.identifier;
  md["run-image"] = { "top-layer": runLayers.at(-1)?.diffID, reference: run.identifier, image: runName };
  md.stack = { runImage: { image: runName } };
  const labels: Record<string, string> = {};
  log.info(`Adding label '${Label.lifecycle}'`);
  labels[Label.lifecycle] = JSON.stringify(toLabelJson(md));
  log.info(`Adding label '${Label.build}'`);
  labels[Label.build] = JSON.stringify(buildLabel(buildMD));
  log.info(`Adding label '${Label.project}'`);
  const project = readProjectMetadataIfExists(o.projectMetadataPath);
  labels[Label.project] = JSON.stringify(project ?? {});
  for (const l of buildMD.labels ?? []) {
    log.info(`Adding label '${l.key}'`);
    labels[l.key] = l.value;
  }
  if (o.execEnv && compareApi(o.platformApi, "0.15") >= 0) labels[Label.execEnv] = o.execEnv;

  const entrypoint = chooseEntrypoint(buildMD, o.processType, log);
  const created = createdTime(o.sourceDateEpoch, (m) => log.warn(m));
  const config = appConfig(run.config, {
    env: { CNB_LAYERS_DIR: o.layersDir, CNB_APP_DIR: o.appDir, CNB_PLATFORM_API: o.platformApi, CNB_DEPRECATION_MODE: "quiet" },
    pathPrefix: ["/cnb/process", "/cnb/lifecycle"],
    entrypoint,
    workingDir: o.appDir,
    labels,
    created,
    layers: asm.layers.map((l) => ({ diffID: l.diffID, createdBy: l.createdBy })),
  });
  const configDesc = await sink.writeBlob(configBytes(config), typesOf(family).config);
  const manifest = appManifest(family, configDesc, [...runDescriptors, ...asm.layers.map((l) => l.descriptor)]);
  const manifestBytes = new TextEncoder().encode(JSON.stringify(manifest));
  const manifestDesc = await sink.writeBlob(manifestBytes, typesOf(family).manifest);

  log.info(`Saving ${o.images[0]}...`);
  const saved = await sink.save(manifestDesc);
  log.info(`*** Images (${manifestDesc.digest.slice(7, 19)}):`);
  for (const s of saved) log.info(`      ${s.name} - ${s.location}`);
  log.info(`*** Digest: ${manifestDesc.digest}`);
  log.info(`*** Manifest Size: ${manifestDesc.size}`);
  const report: ReportFile = { image: { tags: o.images.filter((n) => saved.some((s) => s.name === n)), digest: manifestDesc.digest, "manifest-size": manifestDesc.size } };
  writeToml(o.reportPath, report);
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

  if (o.cacheDir) {
    try {
      await exportCache(o, log);
    } catch (e) {
      log.warn(`failed to export the cache: ${(e as Error).message}`);
    }
  }
  return { digest: manifestDesc.digest, manifestSize: manifestDesc.size, saved, report };
}

/** `io.buildpacks.build.metadata` from metadata.toml, in the reference's JSON names. */
function buildLabel(m: BuildMetadataFile): Record<string, unknown> {
  return {
    bom: m.bom ?? [],
    buildpacks: m.buildpacks.map((b) => ({ id: b.id, version: b.version, ...(b.homepage ? { homepage: b.homepage } : {}) })),
    ...(m.extensions?.length ? { extensions: m.extensions } : {}),
    launcher: { version: VERSION, source: { git: { repository: "cnb-lifecycle", commit: "" } } },
    processes: (m.processes ?? []).map((p) => ({
      type: p.type,
      command: p.command,
      args: p.args ?? [],
      direct: p.direct ?? true,
      buildpackID: p["buildpack-id"] ?? "",
      ...(p["working-dir"] ? { "working-dir": p["working-dir"] } : {}),
      ...(p["exec-env"] ? { "exec-env": p["exec-env"] } : {}),
    })),
    "buildpack-default-process-type": m["buildpack-default-process-type"] ?? "",
  };
}

/** `/cnb/process/<type>` for `-process-type` or the default process, else the launcher. */
function chooseEntrypoint(m: BuildMetadataFile, processType: string | undefined, log: Logger): string[] {
  const types = (m.processes ?? []).map((p) => p.type);
  if (processType) {
    if (!types.includes(processType)) throw new PhaseError(ExitCode.export, `tried to set process type '${processType}' as the default, but it does not exist (processes: ${types.join(", ") || "none"})`);
    log.info(`Setting default process type '${processType}'`);
    return [`/cnb/process/${processType}`];
  }
  const def = m["buildpack-default-process-type"];
  if (def && types.includes(def)) {
    log.info(`Setting default process type '${def}'`);
    return [`/cnb/process/${def}`];
  }
  log.info("no default process type");
  return ["/cnb/lifecycle/launcher"];
}

/** Writes every `cache=true` layer of the group's buildpacks (and the cached SBOMs) to the volume cache. */
async function exportCache(o: ExportOptions, log: Logger): Promise<void> {
  const cache = new VolumeCache(o.cacheDir as string);
  const old = cache.metadata((m) => log.warn(m));
  cache.startStaging();
  const meta: CacheMetadata = { buildpacks: [] };
  for (const bp of o.group.group) {
    const bpDir = path.join(o.layersDir, escapeID(bp.id));
    const entry: BuildpackLayersMetadata = { key: bp.id, version: bp.version, layers: {} };
    const oldBp = old.buildpacks.find((b) => b.key === bp.id);
    for (const name of layerNames(bpDir)) {
      const toml = readLayerToml(path.join(bpDir, `${name}.toml`));
      const types = toml.types;
      const layerDir = path.join(bpDir, name);
      if (!types.cache) continue;
      if (!fs.existsSync(layerDir)) {
        throw new PhaseError(ExitCode.export, `layer '${bp.id}:${name}' is marked cache=true but has no contents`);
      }
      const id = `${bp.id}:${name}`;
      const entries = () => dirLayerEntries({ disk: layerDir, image: layerDir }, o.owner);
      const oldSha = oldBp?.layers?.[name]?.sha;
      let sha: string;
      if (oldSha && cache.committedTar(oldSha) && (await tarDiffID(entries())).diffID === oldSha && cache.reuse(oldSha)) {
        log.info(`Reusing cache layer '${id}'`);
        sha = oldSha;
      } else {
        log.info(`Adding cache layer '${id}'`);
        sha = await cache.add(entries());
      }
      entry.layers![name] = { sha, data: toml.metadata, launch: !!types.launch, build: !!types.build, cache: true } as LayerMetadata;
    }
    meta.buildpacks.push(entry);
  }
  const sbomCache = path.join(o.layersDir, "sbom", "cache");
  if (fs.existsSync(sbomCache)) {
    meta.sbom = { sha: await cache.add(dirLayerEntries({ disk: sbomCache, image: sbomCache }, o.owner)) };
    log.info("Adding cache layer 'buildpacksio/lifecycle:cache.sbom'");
  }
  cache.commit(meta);
}

const flags: FlagSpec[] = [
  ...imageLocationFlags,
  { name: "run-image", kind: "string", env: ["CNB_RUN_IMAGE"], usage: "run image reference (default: analyzed.toml's run-image.reference)" },
  { name: "layers", kind: "string", env: ["CNB_LAYERS_DIR"], default: "/layers", usage: "layers directory" },
  { name: "app", kind: "string", env: ["CNB_APP_DIR"], default: "/workspace", usage: "application directory" },
  { name: "analyzed", kind: "string", env: ["CNB_ANALYZED_PATH"], default: (v) => path.join(v.layers as string, "analyzed.toml"), usage: "analyzed.toml" },
  { name: "group", kind: "string", env: ["CNB_GROUP_PATH"], default: (v) => path.join(v.layers as string, "group.toml"), usage: "group.toml" },
  { name: "report", kind: "string", env: ["CNB_REPORT_PATH"], default: (v) => path.join(v.layers as string, "report.toml"), usage: "where to write report.toml" },
  { name: "project-metadata", kind: "string", env: ["CNB_PROJECT_METADATA_PATH"], default: (v) => path.join(v.layers as string, "project-metadata.toml"), usage: "project-metadata.toml" },
  { name: "launcher", kind: "string", default: "/cnb/lifecycle/launcher", usage: "the launcher to put in the image" },
  { name: "launcher-sbom", kind: "string", default: "/cnb/lifecycle", usage: "directory of the launcher's SBOM files" },
  { name: "process-type", kind: "string", env: ["CNB_PROCESS_TYPE"], usage: "default process type" },
  ociGcFlag,
  { name: "cache-dir", kind: "string", env: ["CNB_CACHE_DIR"], usage: "cache directory" },
  { name: "cache-image", kind: "string", env: ["CNB_CACHE_IMAGE"], usage: "cache image (not supported yet: ignored with a warning)" },
  { name: "uid", kind: "int", env: ["CNB_USER_ID"], default: "0", usage: "owner of the exported files" },
  { name: "gid", kind: "int", env: ["CNB_GROUP_ID"], default: "0", usage: "group of the exported files" },
  { name: "launch-cache", kind: "string", env: ["CNB_LAUNCH_CACHE_DIR"], usage: "launch cache (for -daemon only: ignored with a warning)" },
  { name: "extended", kind: "string", env: ["CNB_EXTENDED_DIR"], usage: "extended run image layers (extensions are not supported)" },
  { name: "parallel", kind: "bool", env: ["CNB_PARALLEL_EXPORT"], usage: "accepted; layers are always compressed on every core" },
  { name: "run", kind: "string", env: ["CNB_RUN_PATH"], default: "/cnb/run.toml", usage: "run.toml (unused in layout mode)" },
  { name: "stack", kind: "string", env: ["CNB_STACK_PATH"], usage: "legacy stack.toml (ignored)" },
  { name: "no-color", kind: "bool", env: ["CNB_NO_COLOR"], usage: "no color in the output" },
  logLevelFlag,
];

/** Resolves the exporter's flags to options (shared with the creator). */
export function exportOptionsFrom(v: Record<string, unknown>, images: string[], env: Record<string, string | undefined>, tuning: Tuning, store: ImageStore, pool: LayerPool): ExportOptions {
  const layersDir = path.resolve(v.layers as string);
  const analyzed = readAnalyzed(path.resolve(v.analyzed as string));
  const group = readGroup(path.resolve(v.group as string));
  return {
    store,
    images,
    runImage: v["run-image"] as string | undefined,
    analyzed,
    group: { group: group.group ?? [] },
    layersDir,
    appDir: path.resolve(v.app as string),
    launcherPath: path.resolve(v.launcher as string),
    processType: v["process-type"] as string | undefined,
    owner: { uid: Number(v.uid), gid: Number(v.gid) },
    reportPath: path.resolve(v.report as string),
    projectMetadataPath: path.resolve(v["project-metadata"] as string),
    cacheDir: v["cache-dir"] ? path.resolve(v["cache-dir"] as string) : undefined,
    platformApi: platformApi(env),
    sourceDateEpoch: env.SOURCE_DATE_EPOCH,
    execEnv: env.CNB_EXEC_ENV || "production",
    pool,
    statIndex: !tuning.reread ? new StatIndex(path.join(layersDir, ".cnb-lifecycle", "stat-index.json")) : undefined,
    gcMinAgeMs: v["oci-gc"] === true ? parseDuration(env.CNB_OCI_GC_MIN_AGE || "10m") : undefined,
  };
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

/** The run image the exporter will use, if it can be found now (to prepare its blobs for the build user). */
async function runImageSources(store: ImageStore, v: Record<string, unknown>): Promise<Image[]> {
  try {
    if (v["run-image"]) return [(await store.find(String(v["run-image"])))].filter((x): x is Image => !!x);
    const analyzed = readAnalyzedIfExists(path.resolve(v.analyzed as string));
    const ref = analyzed?.["run-image"]?.reference;
    return ref ? [await store.open(ref)] : [];
  } catch {
    return []; // the export itself reports what is wrong with the run image
  }
}

/** `exporter [flags] <image> [<image>...]` */
export const exporterCommand: Command = {
  name: "exporter",
  verb: "export",
  phase: true,
  failure: { code: ExitCode.export, prefix: "failed to export: " },
  synopsis: "[flags] <image> [<image>...]",
  flags,
  async run({ args, log, env, tuning, privileges }) {
    platformApi(env);
    const v = args.values;
    if (args.positionals.length < 1) throw new PhaseError(ExitCode.invalidArgs, "failed to parse arguments: at least one image argument is required");
    const store = imageStoreFrom(v, "export", env);
    warnInapplicableFlags(v, (m) => log.warn(m));
    const cacheDir = v["cache-dir"] ? path.resolve(v["cache-dir"] as string) : undefined;
    const launchCache = v["launch-cache"] ? path.resolve(v["launch-cache"] as string) : undefined;
    await privileges?.drop(
      { uid: Number(v.uid), gid: Number(v.gid) },
      { volumes: [cacheDir, launchCache], prepare: async (user) => store.prepareOutput(args.positionals, user, await runImageSources(store, v)) },
    );
    const report = path.resolve(v.report as string);
    const why = unwritable(report);
    if (why) throw new PhaseError(ExitCode.export, `cannot write the report to ${report} (-report, CNB_REPORT_PATH): ${why}; nothing was exported`);
    await exportWithPool((pool) => exportOptionsFrom(v, args.positionals, env, tuning, store, pool), log, tuning);
    return 0;
  },
};
