/**
 * The restorer (spec digest §4.3): for the buildpacks of the group, brings back `store.toml`, the metadata of
 * launch and cache layers, and the contents of cache layers from the volume cache (verified against their
 * diffID before anything is extracted), then the layer SBOMs.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { compareApi, LATEST_PLATFORM_API } from "../ground/api.ts";
import type { Logger } from "../ground/log.ts";
import type { LayerCache } from "../cache/cache.ts";
import { sha256 } from "../hash/sha256.ts";
import { extractTar, fileChunks } from "../layer/tar-reader.ts";
import type { AnalyzedFile, GroupFile, LayerMetadata } from "../platform/files.ts";
import { escapeID } from "../platform/files.ts";
import { fromAnalyzedToml } from "../platform/labels.ts";
import { toToml } from "../platform/toml.ts";

/** What the restorer needs. */
export interface RestoreOptions {
  analyzed: AnalyzedFile;
  group: GroupFile;
  layersDir: string;
  /** The layer cache to restore from (a volume or an image). */
  cache?: LayerCache;
  skipLayers?: boolean;
  /** The Platform API in force (default: the newest). */
  platformApi?: string;
}

/** Restores; resolves to the names of the layers whose contents came back from the cache. */
export async function restore(o: RestoreOptions, log: Logger): Promise<string[]> {
  const api = o.platformApi ?? LATEST_PLATFORM_API;
  const image = fromAnalyzedToml(o.analyzed.metadata as Record<string, unknown> | undefined);
  const cache = o.cache;
  const cacheMD = cache ? await cache.metadata() : { buildpacks: [] };
  const restored: string[] = [];
  for (const bp of o.group.group) {
    const bpDir = path.join(o.layersDir, escapeID(bp.id));
    const fromImage = image.buildpacks?.find((b) => b.key === bp.id);
    const fromCache = cacheMD.buildpacks.find((b) => b.key === bp.id);
    if (fromImage?.store?.metadata) {
      fs.mkdirSync(bpDir, { recursive: true });
      fs.writeFileSync(path.join(bpDir, "store.toml"), toToml({ metadata: fromImage.store.metadata }));
    }
    if (o.skipLayers) continue;
    const chosen = new Map<string, { meta: LayerMetadata; source: "image" | "cache" }>();
    for (const [name, l] of Object.entries(fromImage?.layers ?? {})) {
      if (!l.launch || (l.build && !l.cache)) continue;
      if (l.cache && !fromCache?.layers?.[name]?.cache) continue;
      chosen.set(name, { meta: l, source: "image" });
    }
    // Before Platform API 0.14 a cached layer that is also a launch layer comes back only with the app image's.
    for (const [name, l] of Object.entries(fromCache?.layers ?? {})) {
      if (l.cache && !chosen.has(name) && (!l.launch || compareApi(api, "0.14") >= 0)) chosen.set(name, { meta: l, source: "cache" });
    }
    for (const [name, { meta, source }] of [...chosen].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const id = `${bp.id}:${name}`;
      fs.mkdirSync(bpDir, { recursive: true });
      const tomlPath = path.join(bpDir, `${name}.toml`);
      fs.writeFileSync(tomlPath, toToml(meta.data ? { metadata: meta.data } : {}));
      log.debug(`Restoring metadata for '${id}' from ${source}`);
      const cached = fromCache?.layers?.[name];
      if (!cache || !cached?.cache) continue;
      const layerDir = path.join(bpDir, name);
      if (source === "image" && cached.sha !== meta.sha) {
        log.info(`Removing '${id}': the cached layer does not match the app image's`);
        fs.rmSync(layerDir, { recursive: true, force: true });
        fs.rmSync(tomlPath, { force: true });
        continue;
      }
      const tar = await cache.layerTar(cached.sha);
      if (!tar) {
        log.warn(`layer '${id}' is missing from the cache (${cached.sha}); it is not restored`);
        continue;
      }
      const h = await sha256();
      for (const c of fileChunks(tar)) h.update(c);
      const actual = `sha256:${h.hex()}`;
      if (actual !== cached.sha) {
        log.warn(`cached layer '${id}' is corrupt: ${tar} hashes to ${actual}, not ${cached.sha}; it is not restored`);
        cache.release(tar);
        continue;
      }
      log.info(`Restoring data for '${id}' from cache`);
      try {
        await extractTar(fileChunks(tar), [{ image: bpDir, disk: bpDir }]);
      } finally {
        cache.release(tar);
      }
      restored.push(id);
    }
  }
  // SBOMs are restored from Platform API 0.8.
  if (compareApi(api, "0.8") < 0) return restored;
  if (!o.skipLayers && cache && cacheMD.sbom?.sha) {
    const tar = await cache.layerTar(cacheMD.sbom.sha);
    const sbomRoot = path.join(o.layersDir, "sbom");
    if (tar) {
      try {
        await extractTar(fileChunks(tar), [{ image: sbomRoot, disk: sbomRoot }]);
      } finally {
        cache.release(tar);
      }
    }
  }
  copyLayerSboms(o, log);
  return restored;
}

/** `<layers>/sbom/{cache,launch}/<bp>/<layer>/sbom.<ext>` → `<layers>/<bp>/<layer>.sbom.<ext>`, then `<layers>/sbom` goes. */
function copyLayerSboms(o: RestoreOptions, log: Logger): void {
  const sbomRoot = path.join(o.layersDir, "sbom");
  if (!fs.existsSync(sbomRoot)) return;
  for (const kind of ["launch", "cache"]) {
    for (const bp of o.group.group) {
      const dir = path.join(sbomRoot, kind, escapeID(bp.id));
      if (!fs.existsSync(dir)) continue;
      for (const layer of fs.readdirSync(dir)) {
        const ldir = path.join(dir, layer);
        if (!fs.statSync(ldir).isDirectory()) continue;
        for (const f of fs.readdirSync(ldir)) {
          const m = /^sbom\.(cdx|spdx|syft)\.json$/.exec(f);
          if (!m) continue;
          fs.copyFileSync(path.join(ldir, f), path.join(o.layersDir, escapeID(bp.id), `${layer}.sbom.${m[1]}.json`));
          log.debug(`Restored SBOM ${kind}/${bp.id}/${layer}/${f}`);
        }
      }
    }
  }
  fs.rmSync(sbomRoot, { recursive: true, force: true });
}
