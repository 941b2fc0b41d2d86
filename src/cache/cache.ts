/**
 * The layer cache the restorer reads and the exporter writes (spec digest §9.6), behind one interface: a volume
 * (`-cache-dir`, cache/volume.ts) or an image (`-cache-image`, cache/image.ts) in a registry or a layout.
 */
import type { TarEntry } from "../layer/tar-entries.ts";
import type { BuildpackLayersMetadata } from "../platform/files.ts";

/** The cache metadata file's name, and the cache image's label. */
export const CACHE_METADATA = "io.buildpacks.lifecycle.cache.metadata";

/** The cache metadata (the same shape as the lifecycle label's buildpacks part). */
export interface CacheMetadata {
  sbom?: { sha: string };
  buildpacks: BuildpackLayersMetadata[];
}

/** A cache to read from and write the next version of. */
export interface LayerCache {
  /** For messages: `the cache directory /cache`, `the cache image registry/cache:latest`. */
  readonly description: string;
  /** The cached metadata; empty (with a warning) when the cache is missing, unreadable or not a cache. */
  metadata(): Promise<CacheMetadata>;
  /** A local uncompressed tar of the cached layer `diffID`, or undefined when the cache does not hold it. */
  layerTar(diffID: string): Promise<string | undefined>;
  /** Done with a tar `layerTar` gave (a temporary copy is removed). */
  release(tar: string): void;
  /** Starts the next version of the cache; nothing changes until `commit`. */
  writer(): Promise<CacheWriter>;
}

/** The next version of a cache, being written. */
export interface CacheWriter {
  /** Keeps the current cache's layer `diffID` without writing it again; false when the cache does not hold it. */
  reuse(diffID: string): Promise<boolean>;
  /** Adds a layer from its tar entries; resolves to its diffID. */
  add(entries: Iterable<TarEntry>): Promise<string>;
  /** Records the metadata and puts this version in place of the current one. */
  commit(meta: CacheMetadata): Promise<void>;
}

/** Checks the shape of cache metadata JSON; throws naming the field that does not fit. */
export function checkCacheMetadata(j: unknown): CacheMetadata {
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
  if (!isObj(j)) throw new Error("it is not a JSON object");
  if (j.sbom !== undefined && !(isObj(j.sbom) && typeof j.sbom.sha === "string")) throw new Error('"sbom" must be an object with a "sha" string');
  const bps = j.buildpacks ?? [];
  if (!Array.isArray(bps)) throw new Error('"buildpacks" must be an array');
  bps.forEach((b, i) => {
    if (!isObj(b) || typeof b.key !== "string") throw new Error(`"buildpacks[${i}]" must be an object with a "key" string`);
    if (b.layers !== undefined && b.layers !== null && !isObj(b.layers)) throw new Error(`"buildpacks[${i}].layers" must be an object`);
    for (const [name, l] of Object.entries((b.layers as Record<string, unknown>) ?? {})) {
      if (!isObj(l) || typeof l.sha !== "string") throw new Error(`"buildpacks[${i}].layers.${name}" must be an object with a "sha" string`);
    }
  });
  const out = { ...(j as object), buildpacks: bps } as CacheMetadata;
  // The reference writes `"sbom":{"sha":""}` when there is no SBOM layer.
  if (out.sbom && out.sbom.sha === "") delete out.sbom;
  return out;
}
