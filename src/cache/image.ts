/**
 * The cache image (`-cache-image`) in the reference lifecycle's format, so that either lifecycle reads what the
 * other wrote: an image with no base whose layers are the cached layer tars (gzip, OCI media types), whose config
 * has `os` linux, an empty `architecture`, the constant creation time, one `{created}` history entry per layer and
 * the single label `io.buildpacks.lifecycle.cache.metadata`; an image with no cached layer gets one empty layer
 * (1024 zero bytes) so that registries take it. It lives wherever the image store keeps images: a registry, or a
 * layout under the layout directory. Unchanged layers are reused by diffID from the current cache image, so nothing
 * is compressed or uploaded again.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { discardTemp, makeTempDir } from "../fsutil/atomic.ts";
import type { Logger } from "../ground/log.ts";
import { sortedKeys } from "../ground/json.ts";
import type { Image } from "../image/image.ts";
import { ImageNotFoundError } from "../image/errors.ts";
import type { ImageSink, ImageStore } from "../image/store.ts";
import { type Descriptor, MediaType } from "../image/types.ts";
import { configBytes, NORMALIZED_CREATED } from "../image/config.ts";
import type { LayerPool } from "../layer/pool.ts";
import type { TarEntry } from "../layer/tar-entries.ts";
import { CACHE_METADATA, type CacheMetadata, type CacheWriter, checkCacheMetadata, type LayerCache } from "./cache.ts";

type WebStream = import("node:stream/web").ReadableStream<Uint8Array>;

/** The layer of an image that has no cached layer: an empty tar, stored uncompressed (the reference's choice). */
export const EMPTY_LAYER = new Uint8Array(1024);

/** What the cache image needs. */
export interface ImageCacheOptions {
  store: ImageStore;
  /** The cache image's name. */
  ref: string;
  log: Logger;
  /** Compresses new layers (the exporter's pool); needed to write, not to read. */
  pool?: LayerPool;
  /** Delete the previous cache image's manifest after saving a new one (Platform API < 0.13, as the reference). */
  deleteOld?: boolean;
}

/** The cache metadata as the reference writes the label: `sbom` always there, `data` null when absent, keys sorted. */
export function cacheLabel(meta: CacheMetadata): string {
  return JSON.stringify({
    sbom: { sha: meta.sbom?.sha ?? "" },
    buildpacks: meta.buildpacks.map((b) => ({
      key: b.key,
      version: b.version,
      layers: Object.fromEntries(
        Object.entries(sortedKeys(b.layers ?? {})).map((
          [name, l],
        ) => [name, { sha: l.sha, data: l.data ? sortedKeys(l.data, true) : null, build: !!l.build, launch: !!l.launch, cache: !!l.cache }]),
      ),
    })),
  });
}

/** A cache image. */
export class ImageCache implements LayerCache {
  private current: Promise<Image | undefined> | undefined;

  constructor(readonly o: ImageCacheOptions) {}

  get description(): string {
    return `the cache image ${this.o.ref}`;
  }

  /** The current cache image; undefined (with a warning when it exists but cannot be read) when there is none. */
  private image(): Promise<Image | undefined> {
    this.current ??= this.o.store.find(this.o.ref).then(
      (img) => {
        if (!img) this.o.log.info(`Layer cache not found: no image ${this.o.ref} yet`);
        return img;
      },
      (e) => {
        if (!(e instanceof ImageNotFoundError)) {
          this.o.log.warn(`the cache image ${this.o.ref} cannot be read (${(e as Error).message}); no cached data is used`);
        }
        return undefined;
      },
    );
    return this.current;
  }

  async metadata(): Promise<CacheMetadata> {
    const img = await this.image();
    const label = img?.labels()[CACHE_METADATA];
    if (!img || !label) return { buildpacks: [] };
    try {
      return checkCacheMetadata(JSON.parse(label));
    } catch (e) {
      this.o.log.warn(`the cache image ${this.o.ref} has a ${CACHE_METADATA} label that cannot be used (${(e as Error).message}); the cache is read as empty`);
      return { buildpacks: [] };
    }
  }

  async layerTar(diffID: string): Promise<string | undefined> {
    const img = await this.image();
    const layer = img?.layers().find((l) => l.diffID === diffID);
    if (!img || !layer || !layer.present) return undefined;
    const dir = makeTempDir(path.join(os.tmpdir(), "cnb-cache-layer-"));
    const raw = path.join(dir, "layer.blob");
    const file = path.join(dir, "layer.tar");
    try {
      // The blob is verified against its digest as it streams in; then gunzipped (the empty layer is a plain tar).
      await pipeline(Readable.fromWeb(img.openBlob(layer.digest) as unknown as WebStream), fs.createWriteStream(raw));
      const head = new Uint8Array(2);
      const fd = fs.openSync(raw, "r");
      fs.readSync(fd, head, 0, 2, 0);
      fs.closeSync(fd);
      if (head[0] === 0x1f && head[1] === 0x8b) {
        await pipeline(fs.createReadStream(raw), createGunzip(), fs.createWriteStream(file));
        fs.rmSync(raw);
      } else fs.renameSync(raw, file);
    } catch (e) {
      discardTemp(dir);
      throw new Error(`cannot read layer ${diffID} of the cache image ${this.o.ref}: ${(e as Error).message}`);
    }
    return file;
  }

  /** Removes the temporary copy. */
  release(tar: string): void {
    discardTemp(path.dirname(tar));
  }

  async writer(): Promise<CacheWriter> {
    const pool = this.o.pool;
    if (!pool) throw new Error(`the cache image ${this.o.ref} was opened for reading only`);
    const old = await this.image();
    const sink = this.o.store.sink([this.o.ref], this.o.log);
    const layers: { descriptor: Descriptor; diffID: string }[] = [];
    return {
      reuse: async (diffID) => {
        const l = old?.layers().find((x) => x.diffID === diffID);
        if (!old || !l || layers.some((x) => x.diffID === diffID)) return false;
        if ((await sink.reuseBlob(old, l)) === "missing") return false;
        layers.push({ descriptor: { mediaType: MediaType.ociLayerGzip, digest: l.digest, size: l.size }, diffID });
        return true;
      },
      add: async (entries: Iterable<TarEntry>) => {
        const tmp = sink.tempBlobPath();
        try {
          const r = await pool.runEntries(entries, tmp);
          await sink.commitBlob(tmp, r.digest);
          if (!layers.some((x) => x.diffID === r.diffID)) {
            layers.push({ descriptor: { mediaType: MediaType.ociLayerGzip, digest: r.digest, size: r.size }, diffID: r.diffID });
          }
          return r.diffID;
        } finally {
          discardTemp(tmp);
        }
      },
      commit: (meta) => this.save(sink, layers, meta, old),
    };
  }

  private async save(sink: ImageSink, layers: { descriptor: Descriptor; diffID: string }[], meta: CacheMetadata, old: Image | undefined): Promise<void> {
    if (layers.length === 0) {
      const d = await sink.writeBlob(EMPTY_LAYER, MediaType.ociLayerGzip);
      layers.push({ descriptor: d, diffID: d.digest });
    }
    const config = {
      architecture: "",
      os: "linux",
      created: NORMALIZED_CREATED,
      config: { Labels: { [CACHE_METADATA]: cacheLabel(meta) } },
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffID) },
      history: layers.map(() => ({ created: NORMALIZED_CREATED })),
    };
    const configDesc = await sink.writeBlob(configBytes(config), MediaType.ociConfig);
    const manifest = { schemaVersion: 2, mediaType: MediaType.ociManifest, config: configDesc, layers: layers.map((l) => l.descriptor) };
    const manifestDesc = await sink.writeBlob(new TextEncoder().encode(JSON.stringify(manifest)), MediaType.ociManifest);
    await sink.save(manifestDesc);
    if (this.o.deleteOld && old && old.manifestDigest !== manifestDesc.digest && this.o.store.deleteImage) {
      try {
        await this.o.store.deleteImage(old.identifier);
      } catch (e) {
        this.o.log.warn(`Unable to delete cache image: ${(e as Error).message}`);
      }
    }
  }
}
