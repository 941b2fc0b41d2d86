/**
 * The layer engine's threads: a pool of workers (one per core by default) that fill blocks (read their files) and
 * compress them. Every layer's pass plans its blocks on the calling thread (the walk and the headers) and hashes
 * and writes the results there; the reading and compressing of every block happens here, so both cores work even
 * on a single large layer, and several layers' passes share the workers. The output is identical whatever the
 * parallelism.
 */
import * as os from "node:os";
import { Worker } from "node:worker_threads";
import type { BlockCodec, BlockResult, LayerCompression } from "./block-codec.ts";
import { type BlockCompressor, compressLayer, inlineCompressor, type LayerDigests, type PipelineOptions, tarDiffID } from "./pipeline.ts";
import { treeFingerprint } from "./stat-index.ts";
import type { Owner, Placement, TarEntry } from "./tar-entries.ts";
import { type BlockPlan, FileChangedError } from "./tar-plan.ts";

/** A task sent to a worker: a block to fill and encode, or a tree to fingerprint (stat-index.ts). */
export type WorkerJob =
  | { id: number; kind: "block"; plan: BlockPlan; final: boolean; codec: BlockCodec; into?: ArrayBuffer }
  | { id: number; kind: "fingerprint"; placement: Placement; owner: Owner; extra?: string };

/** A worker's answer; `changed` carries a FileChangedError's fields. */
export type WorkerReply =
  | { id: number; ok: true; block?: BlockResult; fingerprint?: string }
  | { id: number; ok: false; error: string; changed?: [file: string, expected: number, got: number] };

/** The worker script: beside this module when run from sources, at the bundle's root in a Bun executable. */
function workerURL(): URL {
  const here = import.meta.url;
  if (here.includes("/$bunfs/")) return new URL("layer/worker.js", here.slice(0, here.lastIndexOf("/") + 1));
  return new URL("./worker.ts", here);
}

/** The default parallelism: the number of cores. */
export function defaultParallelism(): number {
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}

type Waiter = { resolve: (r: WorkerReply & { ok: true }) => void; reject: (e: Error) => void };
type Job = WorkerJob extends infer J ? J extends { id: number } ? Omit<J, "id"> : never : never;

/**
 * How many tasks each thread is given ahead: the next one waits in its message queue, so that a thread goes on
 * without waiting for this thread to hand it work.
 */
const AHEAD = 2;

/** Worker threads that take tasks in the order given, each to the least loaded thread, a few tasks ahead. */
class Workers implements BlockCompressor {
  private workers: Worker[] = [];
  private load = new Map<Worker, number>();
  private queue: { job: WorkerJob; waiter: Waiter }[] = [];
  private pending = new Map<number, Waiter & { worker: Worker }>();
  private nextId = 1;
  private closed = false;
  /** Buffers of blocks already hashed, sent with the next blocks to be filled into (fewer fresh pages). */
  private spare: ArrayBuffer[] = [];

  constructor(readonly size: number) {}

  recycle(buffer: ArrayBuffer): void {
    if (this.spare.length < 4 * this.size && buffer.byteLength > 0) this.spare.push(buffer);
  }

  get depth(): number {
    return (AHEAD + 1) * this.size;
  }

  async run(plan: BlockPlan, final: boolean, codec: BlockCodec): Promise<BlockResult> {
    return (await this.call({ kind: "block", plan, final, codec })).block as BlockResult;
  }

  async fingerprint(placement: Placement, owner: Owner, extra?: string): Promise<string> {
    return (await this.call({ kind: "fingerprint", placement, owner, extra })).fingerprint as string;
  }

  private call(job: Job): Promise<WorkerReply & { ok: true }> {
    if (this.closed) return Promise.reject(new Error("the layer pool is closed"));
    return new Promise((resolve, reject) => {
      this.queue.push({ job: { ...job, id: this.nextId++ } as WorkerJob, waiter: { resolve, reject } });
      this.dispatch();
    });
  }

  private dispatch(): void {
    // All threads start with the first task: their start-up overlaps.
    while (this.queue.length > 0 && this.workers.length < this.size) this.spawn();
    while (this.queue.length > 0) {
      let w = this.workers[0];
      for (const x of this.workers) if ((this.load.get(x) ?? 0) < (this.load.get(w) ?? 0)) w = x;
      if (!w || (this.load.get(w) ?? 0) >= AHEAD) return;
      const { job, waiter } = this.queue.shift() as (typeof this.queue)[number];
      this.pending.set(job.id, { ...waiter, worker: w });
      this.load.set(w, (this.load.get(w) ?? 0) + 1);
      const transfer: ArrayBuffer[] = [];
      if (job.kind === "block") {
        const lit = job.plan.literal;
        if (lit.byteOffset === 0 && lit.byteLength === lit.buffer.byteLength && lit.byteLength > 0) transfer.push(lit.buffer as ArrayBuffer);
        const i = this.spare.findIndex((b) => b.byteLength >= job.plan.size);
        if (i >= 0) {
          job.into = this.spare.splice(i, 1)[0];
          transfer.push(job.into);
        }
      }
      w.postMessage(job, transfer);
    }
  }

  private spawn(): Worker {
    const w = new Worker(workerURL());
    w.on("message", (r: WorkerReply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      this.load.set(w, (this.load.get(w) ?? 1) - 1);
      if (r.ok) p.resolve(r);
      else p.reject(r.changed ? new FileChangedError(...r.changed) : new Error(r.error));
      this.dispatch();
    });
    w.on("error", (e) => {
      for (const [id, p] of this.pending) {
        if (p.worker !== w) continue;
        this.pending.delete(id);
        p.reject(e instanceof Error ? e : new Error(String(e)));
      }
      this.workers = this.workers.filter((x) => x !== w);
      this.load.delete(w);
      this.dispatch();
    });
    this.workers.push(w);
    this.load.set(w, 0);
    return w;
  }

  /** Stops the threads; tasks not finished fail. */
  async close(): Promise<void> {
    this.closed = true;
    const ws = this.workers;
    this.workers = [];
    this.load.clear();
    this.spare = [];
    const gone = new Error("the layer pool was closed");
    for (const { waiter } of this.queue.splice(0)) waiter.reject(gone);
    for (const p of this.pending.values()) p.reject(gone);
    this.pending.clear();
    await Promise.all(ws.map((w) => w.terminate()));
  }
}

/** Runs layer passes; `parallelism` 1 compresses on the calling thread. */
export class LayerPool {
  private readonly workers?: Workers;
  private readonly compressor: BlockCompressor;

  constructor(readonly parallelism: number = defaultParallelism(), readonly options: PipelineOptions = {}) {
    this.workers = parallelism > 1 ? new Workers(parallelism) : undefined;
    this.compressor = this.workers ?? inlineCompressor;
  }

  /**
   * Tars, hashes and compresses one layer's entries into `outFile` (or only computes its digests when undefined),
   * gzip unless `compression` says otherwise; `onProgress` sees the tar bytes done so far. Several calls may run
   * at once; they share the workers.
   *
   * @example await pool.runEntries(launcherLayerEntries("/cnb/lifecycle/launcher"), tmp)
   */
  runEntries(
    entries: Iterable<TarEntry>,
    outFile: string | undefined,
    o: { onProgress?: (tarBytes: number) => void; compression?: LayerCompression } = {},
  ): Promise<LayerDigests> {
    return compressLayer(entries, outFile, { ...this.options, ...o }, this.compressor);
  }

  /** The diffID of one layer's entries (nothing compressed or written), its files read on the workers. */
  diffID(entries: Iterable<TarEntry>): Promise<{ diffID: string; tarSize: number }> {
    return tarDiffID(entries, this.options.hash, this.compressor);
  }

  /** The stat-index fingerprint of a tree (stat-index.ts), walked on a worker when there are workers. */
  fingerprint(placement: Placement, owner: Owner, extra?: string): Promise<string> {
    return this.workers ? this.workers.fingerprint(placement, owner, extra) : Promise.resolve(treeFingerprint(placement, owner, extra));
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await this.workers?.close();
  }
}
