/**
 * Worker thread entry: one task per message — fill and encode a block (block-codec.ts), replying with its bytes, or
 * fingerprint a tree (stat-index.ts).
 */
import { parentPort } from "node:worker_threads";
import { runBlock } from "./block-codec.ts";
import type { WorkerJob, WorkerReply } from "./pool.ts";
import { treeFingerprint } from "./stat-index.ts";
import { FileChangedError } from "./tar-plan.ts";

/**
 * `b` itself when it spans its whole buffer (so the buffer can be transferred), else a copy that does. A buffer
 * the codec returns may be a slice of a pool shared with other allocations: it is never transferred whole.
 */
function owned(b: Uint8Array): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : b.slice();
}

const port = parentPort;
if (port) {
  port.on("message", (job: WorkerJob) => {
    let reply: WorkerReply;
    try {
      if (job.kind === "fingerprint") {
        port.postMessage({ id: job.id, ok: true, fingerprint: treeFingerprint(job.placement, job.owner, job.extra) } satisfies WorkerReply);
        return;
      }
      const r = runBlock(job.plan, job.final, job.codec, job.into ? new Uint8Array(job.into) : undefined);
      // The tar block is a view of a buffer of its own (filled here, or sent to be filled): transferred whole, so
      // that it can come back for another block.
      const raw = r.raw;
      const data = owned(r.data);
      reply = { id: job.id, ok: true, block: { raw, data, crc: r.crc } };
      const transfer = [raw.buffer as ArrayBuffer];
      if (data.byteLength > 0) transfer.push(data.buffer as ArrayBuffer);
      port.postMessage(reply, transfer);
    } catch (e) {
      const changed = e instanceof FileChangedError ? ([e.file, e.expected, e.got] as [string, number, number]) : undefined;
      reply = { id: job.id, ok: false, error: (e as Error).message ?? String(e), changed };
      port.postMessage(reply);
    }
  });
}
