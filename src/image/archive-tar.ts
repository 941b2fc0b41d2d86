/**
 * A tar of an image's files (an OCI layout, or `docker save`'s manifest.json and blobs), streamed member by member
 * to an async writer: a file on disk for `-oci-archive`/`-docker-archive`, an HTTP request body for a daemon's
 * `POST /images/load`. Nothing is held in memory but one chunk.
 */
import * as fs from "node:fs";
import { bytesOf, encodeHeader, END_OF_ARCHIVE, padded, TypeFlag } from "../layer/tar-header.ts";

/** Where a member's bytes come from: bytes in memory, a file, or a stream of exactly `size` bytes. */
export type ArchiveMember =
  | { name: string; bytes: Uint8Array }
  | { name: string; file: string; size: number }
  | { name: string; size: number; stream: () => ReadableStream<Uint8Array> }
  | { name: string; dir: true };

/** 1980-01-01T00:00:01Z, the layers' timestamp: the same image gives the same archive. */
const MTIME = 315532801;
const CHUNK = 1 << 20;

/** Raised when a member's source gives more or fewer bytes than announced. */
export class ArchiveSizeError extends Error {
  constructor(member: string, expected: number, got: number) {
    super(`${member} should hold ${expected} bytes but its source gave ${got}`);
    this.name = "ArchiveSizeError";
  }
}

function header(name: string, size: number, dir = false): Uint8Array {
  return encodeHeader({
    name: bytesOf(dir ? `${name.replace(/\/$/, "")}/` : name),
    mode: dir ? 0o755 : 0o644,
    uid: 0,
    gid: 0,
    size: dir ? 0 : size,
    mtime: MTIME,
    typeflag: dir ? TypeFlag.dir : TypeFlag.reg,
  });
}

/**
 * Writes `members` as a tar through `write`, awaiting each chunk (the writer's back-pressure). Resolves to the
 * number of bytes written; a source that errors (a blob whose digest does not match) rejects and stops the tar.
 *
 * @example await writeArchive([{ name: "oci-layout", bytes }], (c) => fileWriter(c))
 */
export async function writeArchive(members: Iterable<ArchiveMember>, write: (chunk: Uint8Array) => Promise<void>): Promise<number> {
  let total = 0;
  const out = async (b: Uint8Array) => {
    if (b.length === 0) return;
    await write(b);
    total += b.length;
  };
  const pad = (n: number) => out(new Uint8Array(padded(n) - n));
  for (const m of members) {
    if ("dir" in m) {
      await out(header(m.name, 0, true));
    } else if ("bytes" in m) {
      await out(header(m.name, m.bytes.length));
      await out(m.bytes);
      await pad(m.bytes.length);
    } else if ("file" in m) {
      await out(header(m.name, m.size));
      const fh = await fs.promises.open(m.file, "r");
      let got = 0;
      try {
        for (;;) {
          const buf = new Uint8Array(Math.min(CHUNK, Math.max(m.size - got, 1)));
          const { bytesRead } = await fh.read(buf, 0, buf.length, null);
          if (bytesRead === 0) break;
          got += bytesRead;
          if (got > m.size) break;
          await out(buf.subarray(0, bytesRead));
        }
      } finally {
        await fh.close();
      }
      if (got !== m.size) throw new ArchiveSizeError(m.file, m.size, got);
      await pad(m.size);
    } else {
      await out(header(m.name, m.size));
      const r = m.stream().getReader();
      let got = 0;
      for (;;) {
        const { done, value } = await r.read();
        if (done) break;
        got += value.length;
        if (got > m.size) {
          await r.cancel();
          break;
        }
        await out(value);
      }
      if (got !== m.size) throw new ArchiveSizeError(m.name, m.size, got);
      await pad(m.size);
    }
  }
  await out(END_OF_ARCHIVE);
  return total;
}
