/** Worker thread entry: deflates one block per message (deflate-block.ts) and replies with the bytes. */
import { parentPort } from "node:worker_threads";
import { deflateBlock } from "./deflate-block.ts";
import type { BlockJob, BlockReply } from "./pool.ts";

const port = parentPort;
if (port) {
  port.on("message", (job: BlockJob) => {
    let reply: BlockReply;
    try {
      const out = deflateBlock(job.block, job.final, job.level, job.engine);
      const copy = out.byteOffset === 0 && out.byteLength === out.buffer.byteLength ? out : out.slice();
      reply = { id: job.id, ok: true, data: copy };
      port.postMessage(reply, [copy.buffer as ArrayBuffer]);
    } catch (e) {
      reply = { id: job.id, ok: false, error: (e as Error).message ?? String(e) };
      port.postMessage(reply);
    }
  });
}
