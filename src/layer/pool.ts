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
import type { TarEntry } from "./tar-entries.ts";
import { type BlockPlan, FileChangedError } from "./tar-plan.ts";

/** A block sent to a worker. */
export interface BlockJob {
  id: number;
  plan: BlockPlan;
  final: boolean;
  codec: BlockCodec;
}

/** A worker's answer; `changed` carries a FileChangedError's fields. */
export type BlockReply =
  | ({ id: number; ok: true } & BlockResult)
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

type Waiter = { resolve: (b: BlockResult) => void; reject: (e: Error) => void };

/** Fills and compresses blocks on worker threads. */
class WorkerCompressor implements BlockCompressor {
  private workers: Worker[] = [];
  private idle: Worker[] = [];
  private queue: { job: BlockJob; waiter: Waiter }[] = [];
  private pending = new Map<number, Waiter & { worker: Worker }>();
  private nextId = 1;

  constructor(readonly size: number) {}

  get depth(): number {
    return 2 * this.size;
  }

  run(plan: BlockPlan, final: boolean, codec: BlockCodec): Promise<BlockResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ job: { id: this.nextId++, plan, final, codec }, waiter: { resolve, reject } });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let w = this.idle.pop();
      if (!w && this.workers.length < this.size) w = this.spawn();
      if (!w) return;
      const { job, waiter } = this.queue.shift() as (typeof this.queue)[number];
      this.pending.set(job.id, { ...waiter, worker: w });
      const lit = job.plan.literal;
      if (lit.byteOffset === 0 && lit.byteLength === lit.buffer.byteLength && lit.byteLength > 0) w.postMessage(job, [lit.buffer as ArrayBuffer]);
      else w.postMessage(job);
    }
  }

  private spawn(): Worker {
    const w = new Worker(workerURL());
    w.on("message", (r: BlockReply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      this.idle.push(w);
      if (r.ok) p.resolve({ raw: r.raw, data: r.data, crc: r.crc });
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
      this.idle = this.idle.filter((x) => x !== w);
      this.dispatch();
    });
    this.workers.push(w);
    return w;
  }

  async close(): Promise<void> {
    const ws = this.workers;
    this.workers = [];
    this.idle = [];
    await Promise.all(ws.map((w) => w.terminate()));
  }
}

/** Runs layer passes; `parallelism` 1 compresses on the calling thread. */
export class LayerPool {
  private readonly compressor: BlockCompressor & { close?: () => Promise<void> };

  constructor(readonly parallelism: number = defaultParallelism(), readonly options: PipelineOptions = {}) {
    this.compressor = parallelism > 1 ? new WorkerCompressor(parallelism) : inlineCompressor;
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

  /** Stops the workers. */
  async close(): Promise<void> {
    await this.compressor.close?.();
  }
}
