/**
 * The layers of an image being assembled: each new layer compressed into the sink, or the previous image's layer
 * reused when its diffID is unchanged (known from the stat index without reading a file, else by hashing the tar).
 * Shared by the exporter's steps.
 *
 * Layers are worked on together: each step (add, reuse, compress) starts as soon as it is asked for, up to
 * `passes` at once, so that the walk, the hashing and the compression of several layers keep every core busy; its
 * result is committed — the layer appended, its log line written — only after every earlier step's, so the
 * manifest and the log keep the order in which the steps were asked for.
 */
import { discardTemp } from "../../fsutil/atomic.ts";
import type { Logger } from "../../ground/log.ts";
import { progress, treeSize } from "../../ground/progress.ts";
import type { Image } from "../../image/image.ts";
import type { ImageSink } from "../../image/store.ts";
import type { Descriptor } from "../../image/types.ts";
import { type Family, layerTypeIn, layerTypeOf } from "../../image/config.ts";
import type { LayerCompression } from "../../layer/block-codec.ts";
import type { LayerPool } from "../../layer/pool.ts";
import type { StatIndex } from "../../layer/stat-index.ts";
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

/** What a step's work produced: its value, the layer to append (if any) and the lines to log (if any). */
interface Outcome<T> {
  value: T;
  layer?: NewLayer;
  line?: string;
  debug?: string;
}

/** Layer passes running at once by default: enough to overlap one layer's walk and drain with another's. */
export const DEFAULT_PASSES = 2;

/** Per-export state: the sink, the previous image, the pool, and the layers added so far. */
export class Assembly {
  readonly layers: NewLayer[] = [];
  /** The last step's commit: the next one waits for it. */
  private tail: Promise<void> = Promise.resolve();
  private readonly steps: Promise<unknown>[] = [];
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly sink: ImageSink,
    readonly family: Family,
    readonly previous: Image | undefined,
    readonly pool: LayerPool,
    readonly log: Logger,
    readonly statIndex?: StatIndex,
    readonly passes: number = DEFAULT_PASSES,
    readonly compression: LayerCompression = "gzip",
  ) {
    this.layerType = layerTypeOf(family, compression);
  }

  /** The media type of the layers compressed here. */
  readonly layerType: string;

  /** The previous image's layer with this diffID, if the previous image has one. */
  previousLayer(diffID: string | undefined) {
    return diffID ? this.previous?.layers().find((l) => l.diffID === diffID) : undefined;
  }

  /**
   * Runs `work` now, or when one of the `passes` is free, and commits its outcome after every earlier step's.
   * Resolves to the outcome's value once committed.
   */
  step<T>(work: () => Promise<Outcome<T>>): Promise<T> {
    const outcome = this.limited(work);
    outcome.catch(() => {}); // seen when its turn comes
    const committed = this.tail.then(async () => {
      const o = await outcome;
      if (o.layer) this.layers.push(o.layer);
      if (o.debug) this.log.debug(o.debug);
      if (o.line) this.log.info(o.line);
      return o.value;
    });
    this.tail = committed.then(() => {}, () => {});
    this.steps.push(committed);
    return committed;
  }

  /** Logs the line `line` resolves to, after every earlier step's commit (it may await their results). */
  note(line: () => Promise<string | undefined>): Promise<void> {
    const committed = this.tail.then(async () => {
      const l = await line();
      if (l) this.log.info(l);
    });
    this.tail = committed.then(() => {}, () => {});
    this.steps.push(committed);
    return committed;
  }

  /** Waits until every step asked for so far has finished, successfully or not (before failing an export). */
  async settled(): Promise<void> {
    await Promise.allSettled(this.steps);
  }

  private async limited<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.passes) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await work();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  /** Reuses the previous image's layer `diffID`: its descriptor, and its blob when that is on disk. */
  reuse(diffID: string, createdBy: string, line?: string): Promise<boolean> {
    return this.step(async () => {
      const layer = await this.reused(diffID, createdBy);
      return { value: layer !== undefined, layer, line: layer ? line : undefined };
    });
  }

  private async reused(diffID: string, createdBy: string): Promise<NewLayer | undefined> {
    const prev = this.previousLayer(diffID);
    if (!prev || !this.previous) return undefined;
    await this.sink.reuseBlob(this.previous, prev);
    return { descriptor: { ...prev.descriptor, mediaType: layerTypeIn(this.family, prev.descriptor.mediaType) }, diffID, createdBy };
  }

  /**
   * Adds the layer `make` finds: the previous image's when it names one by diffID, else one already compressed
   * (the launcher layer from its cache). Logs `Reusing`/`Adding` layer `id`.
   */
  addReusedOrCompressed(
    id: string,
    createdBy: string,
    make: () => Promise<{ reuse?: string; blob: string; digests: { diffID: string; digest: string; size: number } }>,
  ): Promise<string> {
    return this.step(async () => {
      const m = await make();
      const layer = m.reuse ? await this.reused(m.reuse, createdBy) : undefined;
      if (layer) return { value: layer.diffID, layer, line: `Reusing layer '${id}'` };
      await this.sink.linkFile(m.blob, m.digests.digest);
      const d = m.digests;
      return {
        value: d.diffID,
        layer: { descriptor: { mediaType: this.layerType, digest: d.digest, size: d.size }, diffID: d.diffID, createdBy },
        line: `Adding layer '${id}'`,
      };
    });
  }

  /** Compresses a new layer into the sink. */
  private async compress(entries: Iterable<TarEntry>, label: string, createdBy: string, size: () => number): Promise<NewLayer> {
    const tmp = this.sink.tempBlobPath();
    const p = progress(`Compressing ${label}`, size);
    try {
      const r = await this.pool.runEntries(entries, tmp, { onProgress: (n) => p.update(n), compression: this.compression });
      await this.sink.commitBlob(tmp, r.digest);
      return { descriptor: { mediaType: this.layerType, digest: r.digest, size: r.size }, diffID: r.diffID, createdBy };
    } finally {
      p.done();
      discardTemp(tmp);
    }
  }

  /**
   * Adds a layer, or reuses the previous image's when its diffID is `previousSha`: the tar is hashed first only
   * when reuse is possible, so a new layer is read once.
   */
  addOrReuse(
    id: string,
    makeEntries: () => Iterable<TarEntry>,
    previousSha: string | undefined,
    createdBy: string,
    tree?: Tree,
  ): Promise<{ diffID: string; reused: boolean }> {
    return this.step(async () => {
      const o = await this.reuseOrCompress(makeEntries, previousSha ? [previousSha] : [], createdBy, `'${id}'`, tree);
      return { ...o, line: `${o.value.reused ? "Reusing" : "Adding"} layer '${id}'` };
    });
  }

  /**
   * The core of reuse: when the previous image has a layer that this one may equal, find this one's diffID —
   * from the stat index when the tree is unchanged (no file read), else by hashing the tar — and reuse on a
   * match; otherwise compress. A new layer is read once.
   */
  diffIDOrCompress(
    makeEntries: () => Iterable<TarEntry>,
    candidates: string[],
    createdBy: string,
    label: string,
    tree?: Tree,
  ): Promise<{ diffID: string; reused: boolean }> {
    return this.step(() => this.reuseOrCompress(makeEntries, candidates, createdBy, label, tree));
  }

  private async reuseOrCompress(
    makeEntries: () => Iterable<TarEntry>,
    candidates: string[],
    createdBy: string,
    label: string,
    tree?: Tree,
  ): Promise<Outcome<{ diffID: string; reused: boolean }>> {
    const fp = tree && this.statIndex ? await this.pool.fingerprint(tree.placement, tree.owner, tree.extra) : undefined;
    let debug: string | undefined;
    if (candidates.some((c) => this.previousLayer(c))) {
      const known = fp ? this.statIndex?.lookup(fp) : undefined;
      if (known) debug = `${label} is unchanged since it was last exported (stat index): not read again`;
      const diffID = known ?? (await this.pool.diffID(makeEntries())).diffID;
      if (fp) this.statIndex?.record(fp, diffID);
      const layer = candidates.includes(diffID) ? await this.reused(diffID, createdBy) : undefined;
      if (layer) return { value: { diffID, reused: true }, layer, debug };
    }
    const layer = await this.compress(makeEntries(), label, createdBy, () => (tree ? treeSize(tree.placement.disk) : 0));
    if (fp) this.statIndex?.record(fp, layer.diffID);
    return { value: { diffID: layer.diffID, reused: false }, layer, debug };
  }
}
