/**
 * The layer engine's threads: a pool of workers that deflate blocks (one per core by default). Every layer's pass
 * runs on the calling thread (tar, hashes, file writes) and sends its blocks here, so both cores compress even a
 * single large layer, and several layers share the workers. The output is identical whatever the parallelism.
 */
import * as os from "node:os";
import { Worker } from "node:worker_threads";
import type { DeflateEngine } from "./deflate-block.ts";
import { type BlockCompressor, compressLayer, inlineCompressor, type LayerDigests, type PipelineOptions } from "./pipeline.ts";
import type { TarEntry } from "./tar-entries.ts";

/** A block sent to a worker. */
export interface BlockJob {
  id: number;
  block: Uint8Array;
  final: boolean;
  level: number;
  engine: DeflateEngine;
}

/** A worker's answer. */
export type BlockReply = { id: number; ok: true; data: Uint8Array } | { id: number; ok: false; error: string };

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

type Waiter = { resolve: (b: Uint8Array) => void; reject: (e: Error) => void };

/** Deflates blocks on worker threads. */
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

  deflate(block: Uint8Array, final: boolean, level: number, engine: DeflateEngine): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      this.queue.push({ job: { id: this.nextId++, block, final, level, engine }, waiter: { resolve, reject } });
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
      const owned = job.block.byteOffset === 0 && job.block.byteLength === job.block.buffer.byteLength;
      if (owned) w.postMessage(job, [job.block.buffer as ArrayBuffer]);
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
      if (r.ok) p.resolve(r.data);
      else p.reject(new Error(r.error));
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
   * Tars, hashes and compresses one layer's entries into `outFile` (or only computes its digests when undefined);
   * `onProgress` sees the tar bytes done so far. Several calls may run at once; they share the workers.
   *
   * @example await pool.runEntries(launcherLayerEntries("/cnb/lifecycle/launcher"), tmp)
   */
  runEntries(entries: Iterable<TarEntry>, outFile: string | undefined, onProgress?: (tarBytes: number) => void): Promise<LayerDigests> {
    return compressLayer(entries, outFile, { ...this.options, onProgress }, this.compressor);
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await this.compressor.close?.();
  }
}
