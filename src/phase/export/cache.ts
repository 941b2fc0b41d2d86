/**
 * The exporter's cache step (spec digest §9.6): every `cache=true` layer of the group's buildpacks, and the cached
 * SBOMs, go to the volume cache; a layer whose diffID is unchanged and whose cached tar is there is reused.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Logger } from "../../ground/log.ts";
import type { CacheMetadata, LayerCache } from "../../cache/cache.ts";
import { layerNames, readLayerToml } from "../../buildpack/files.ts";
import { tarDiffID } from "../../layer/pipeline.ts";
import { dirLayerEntries, type Owner, type TarEntry } from "../../layer/tar-entries.ts";
import type { BuildpackLayersMetadata, GroupFile, LayerMetadata } from "../../platform/files.ts";
import { escapeID } from "../../platform/files.ts";

/**
 * Writes the next version of `cache` for the group's buildpacks: each `cache=true` layer with contents (reused
 * when its diffID is the cached one), then the cached SBOMs.
 *
 * @example await exportCache(new VolumeCache("/cache"), "/layers", group, { uid: 1000, gid: 1000 }, log)
 */
export async function exportCache(cache: LayerCache, layersDir: string, group: GroupFile, owner: Owner, log: Logger): Promise<void> {
  const old = await cache.metadata();
  const w = await cache.writer();
  const addOrReuse = async (id: string, entries: () => Iterable<TarEntry>, oldSha: string | undefined): Promise<string> => {
    if (oldSha && (await tarDiffID(entries())).diffID === oldSha && (await w.reuse(oldSha))) {
      log.info(`Reusing cache layer '${id}'`);
      return oldSha;
    }
    log.info(`Adding cache layer '${id}'`);
    return await w.add(entries());
  };
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
      const id = `${bp.id}:${name}`;
      if (!fs.existsSync(layerDir)) {
        log.warn(`Failed to cache layer '${id}' because it has no contents`);
        continue;
      }
      const sha = await addOrReuse(id, () => dirLayerEntries({ disk: layerDir, image: layerDir }, owner), oldBp?.layers?.[name]?.sha);
      entry.layers![name] = { sha, data: toml.metadata, launch: types.launch, build: types.build, cache: true } as LayerMetadata;
    }
    meta.buildpacks.push(entry);
  }
  const sbomCache = path.join(layersDir, "sbom", "cache");
  if (fs.existsSync(sbomCache)) {
    meta.sbom = {
      sha: await addOrReuse("buildpacksio/lifecycle:cache.sbom", () => dirLayerEntries({ disk: sbomCache, image: sbomCache }, owner), old.sbom?.sha),
    };
  }
  await w.commit(meta);
}
