/**
 * Compresses layers in parallel on worker threads (one per core by default). Each worker runs the whole one-pass
 * pipeline for one layer at a time; the output is identical whatever the parallelism.
 */
import * as os from "node:os";
import { Worker } from "node:worker_threads";
import { type LayerDigests, type PipelineOptions, compressLayer } from "./pipeline.ts";
import { type LayerSpec, entriesOf } from "./spec.ts";

/** A job sent to a worker. */
export interface Job {
  id: number;
  spec: LayerSpec;
  outFile: string | undefined;
  options: PipelineOptions;
}

/** A worker's answer. */
export type Reply = { id: number; ok: true; result: LayerDigests } | { id: number; ok: false; error: string };

/** The worker script: beside this module when run from sources, at the bundle's root in a Bun executable. */
function workerURL(): URL {
  const here = import.meta.url;
  if (here.includes("/$bunfs/")) return new URL("layer/worker.js", here.slice(0, here.lastIndexOf("/") + 1));
  return new URL("./worker.ts", here);
}

/** The default parallelism: `CNB_LIFECYCLE_WORKERS`, else the number of cores. */
export function defaultParallelism(): number {
  const env = Number(process.env.CNB_LIFECYCLE_WORKERS);
  if (Number.isInteger(env) && env >= 1) return env;
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}

/** A pool of layer workers; `parallelism` 1 runs everything on the calling thread. */
export class LayerPool {
  private workers: Worker[] = [];
  private idle: Worker[] = [];
  private queue: { job: Job; resolve: (r: LayerDigests) => void; reject: (e: Error) => void }[] = [];
  private pending = new Map<number, { resolve: (r: LayerDigests) => void; reject: (e: Error) => void; worker: Worker }>();
  private nextId = 1;

  constructor(readonly parallelism: number = defaultParallelism(), readonly options: PipelineOptions = {}) {}

  /**
   * Tars, hashes and compresses one layer into `outFile` (or only computes its digests when undefined).
   *
   * @example await pool.run({ kind: "launcher", file: "/cnb/lifecycle/launcher" }, tmp)
   */
  run(spec: LayerSpec, outFile: string | undefined): Promise<LayerDigests> {
    if (this.parallelism <= 1) return compressLayer(entriesOf(spec), outFile, this.options);
    return new Promise((resolve, reject) => {
      this.queue.push({ job: { id: this.nextId++, spec, outFile, options: this.options }, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let w = this.idle.pop();
      if (!w && this.workers.length < this.parallelism) w = this.spawn();
      if (!w) return;
      const { job, resolve, reject } = this.queue.shift() as (typeof this.queue)[number];
      this.pending.set(job.id, { resolve, reject, worker: w });
      w.postMessage(job);
    }
  }

  private spawn(): Worker {
    const w = new Worker(workerURL());
    w.on("message", (r: Reply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      this.idle.push(w);
      if (r.ok) p.resolve(r.result);
      else p.reject(new Error(r.error));
      this.dispatch();
    });
    w.on("error", (e) => {
      for (const [id, p] of this.pending) {
        if (p.worker === w) {
          this.pending.delete(id);
          p.reject(e instanceof Error ? e : new Error(String(e)));
        }
      }
      this.workers = this.workers.filter((x) => x !== w);
      this.idle = this.idle.filter((x) => x !== w);
      this.dispatch();
    });
    this.workers.push(w);
    return w;
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers = [];
    this.idle = [];
  }
}
