/**
 * The layers of an image being assembled: each new layer compressed into the sink, or the previous image's layer
 * reused when its diffID is unchanged (known from the stat index without reading a file, else by hashing the tar).
 * Shared by the exporter's steps.
 */
import { discardTemp } from "../../fsutil/atomic.ts";
import type { Logger } from "../../ground/log.ts";
import { progress, treeSize } from "../../ground/progress.ts";
import type { Image } from "../../image/image.ts";
import type { ImageSink } from "../../image/store.ts";
import type { Descriptor } from "../../image/types.ts";
import { type Family, layerTypeIn, typesOf } from "../../image/config.ts";
import { tarDiffID } from "../../layer/pipeline.ts";
import type { LayerPool } from "../../layer/pool.ts";
import { type StatIndex, treeFingerprint } from "../../layer/stat-index.ts";
import type { Owner, Placement, TarEntry } from "../../layer/tar-entries.ts";

/** A layer of the new image: its descriptor and diffID, and the history entry the reference records. */
export interface NewLayer {
  descriptor: Descriptor;
  diffID: string;
  createdBy: string;
}

/** A directory tree a layer is made of, for the stat index. */
export interface Tree {
  placement: Placement;
  owner: Owner;
  /** Anything else the layer's bytes depend on (a slice's patterns). */
  extra?: string;
}

/** Per-export state: the sink, the previous image, the pool, and the layers added so far. */
export class Assembly {
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

  /** Adds a layer whose blob is already compressed (the launcher layer from its cache). */
  async addCompressed(blob: string, d: { diffID: string; digest: string; size: number }, createdBy: string): Promise<void> {
    await this.sink.linkFile(blob, d.digest);
    this.layers.push({ descriptor: { mediaType: typesOf(this.family).layer, digest: d.digest, size: d.size }, diffID: d.diffID, createdBy });
  }

  /** Compresses a new layer into the sink. */
  async add(entries: Iterable<TarEntry>, label: string, createdBy: string, size?: number): Promise<string> {
    const tmp = this.sink.tempBlobPath();
    const p = progress(`Compressing ${label}`, size ?? 0);
    try {
      const r = await this.pool.runEntries(entries, tmp, { onProgress: (n) => p.update(n) });
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
    tree?: Tree,
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
    tree?: Tree,
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
