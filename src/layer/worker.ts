/** Worker thread entry: runs one layer's pass (pipeline.ts) per message and replies with its digests or error. */
import { parentPort } from "node:worker_threads";
import { compressLayer } from "./pipeline.ts";
import type { Job, Reply } from "./pool.ts";
import { entriesOf } from "./spec.ts";

const port = parentPort;
if (port) {
  port.on("message", async (job: Job) => {
    let reply: Reply;
    try {
      reply = { id: job.id, ok: true, result: await compressLayer(entriesOf(job.spec), job.outFile, job.options) };
    } catch (e) {
      reply = { id: job.id, ok: false, error: (e as Error).message ?? String(e) };
    }
    port.postMessage(reply);
  });
}
