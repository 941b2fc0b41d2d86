/**
 * The exporter's cache step (spec digest §9.6): every `cache=true` layer of the group's buildpacks, and the cached
 * SBOMs, go to the volume cache; a layer whose diffID is unchanged and whose cached tar is there is reused.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ExitCode, PhaseError } from "../../ground/errors.ts";
import type { Logger } from "../../ground/log.ts";
import { type CacheMetadata, VolumeCache } from "../../cache/volume.ts";
import { layerNames, readLayerToml } from "../../buildpack/files.ts";
import { tarDiffID } from "../../layer/pipeline.ts";
import { dirLayerEntries, type Owner } from "../../layer/tar-entries.ts";
import type { BuildpackLayersMetadata, GroupFile, LayerMetadata } from "../../platform/files.ts";
import { escapeID } from "../../platform/files.ts";

/**
 * Writes the cache for the group's buildpacks into `cacheDir`.
 *
 * @example await exportCache("/cache", "/layers", group, { uid: 1000, gid: 1000 }, log)
 */
export async function exportCache(cacheDir: string, layersDir: string, group: GroupFile, owner: Owner, log: Logger): Promise<void> {
  const cache = new VolumeCache(cacheDir);
  const old = cache.metadata((m) => log.warn(m));
  cache.startStaging();
  const meta: CacheMetadata = { buildpacks: [] };
  for (const bp of group.group) {
    const bpDir = path.join(layersDir, escapeID(bp.id));
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
      const entries = () => dirLayerEntries({ disk: layerDir, image: layerDir }, owner);
      const oldSha = oldBp?.layers?.[name]?.sha;
      let sha: string;
      if (oldSha && cache.committedTar(oldSha) && (await tarDiffID(entries())).diffID === oldSha && cache.reuse(oldSha)) {
        log.info(`Reusing cache layer '${id}'`);
        sha = oldSha;
      } else {
        log.info(`Adding cache layer '${id}'`);
        sha = await cache.add(entries());
      }
      entry.layers![name] = { sha, data: toml.metadata, launch: types.launch, build: types.build, cache: true } as LayerMetadata;
    }
    meta.buildpacks.push(entry);
  }
  const sbomCache = path.join(layersDir, "sbom", "cache");
  if (fs.existsSync(sbomCache)) {
    meta.sbom = { sha: await cache.add(dirLayerEntries({ disk: sbomCache, image: sbomCache }, owner)) };
    log.info("Adding cache layer 'buildpacksio/lifecycle:cache.sbom'");
  }
  cache.commit(meta);
}
