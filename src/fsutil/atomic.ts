/**
 * Crash-safe file writing: write to a temporary name in the same directory, fsync, rename, fsync the directory.
 * A crash leaves either the old file or the new one, never half of one.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { randomBytes } from "node:crypto";

/** A temporary path beside `target`, hidden and unique. */
export function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.tmp-${path.basename(target).slice(0, 40)}-${randomBytes(6).toString("hex")}`);
}

/** Writes all of `bytes` to `fd` (writeSync may write less than asked). */
export function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
}

/** fsyncs a directory so that a rename inside it is durable (ignored where the platform refuses). */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Writes `data` to `target` atomically.
 *
 * @example writeFileAtomic("/oci/app/index.json", JSON.stringify(index))
 */
export function writeFileAtomic(target: string, data: string | Uint8Array, mode = 0o644): void {
  const tmp = tempPathFor(target);
  fillTemp(tmp, (fd) => writeAll(fd, typeof data === "string" ? new TextEncoder().encode(data) : data), mode);
  commitTemp(tmp, target);
}

/**
 * Creates `tmp` (exclusively), lets `write` fill it, fsyncs and closes it; on any error the file is removed and
 * the error rethrown. The caller then renames it into place (commitTemp).
 */
export function fillTemp(tmp: string, write: (fd: number) => void, mode = 0o644): void {
  const fd = fs.openSync(tmp, "wx", mode);
  try {
    write(fd);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
}

/** Renames a finished (already fsynced) temporary file onto `target` and syncs the directory. */
export function commitTemp(tmp: string, target: string): void {
  try {
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(path.dirname(target));
}

/**
 * Runs `fn` holding an exclusive lock file (`<target>.lock`, created with O_EXCL). Waits up to `timeoutMs` for
 * another holder; a lock whose holder process is gone is taken over. Known limit: when two processes find the
 * same dead holder's lock at once, the second may remove the lock the first has just taken; only a holder that
 * crashed leads there.
 */
export async function withLock<T>(target: string, fn: () => Promise<T> | T, timeoutMs = 60_000): Promise<T> {
  const lock = `${target}.lock`;
  const start = Date.now();
  let delay = 5;
  for (;;) {
    try {
      const fd = fs.openSync(lock, "wx", 0o644);
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      if (lockIsStale(lock)) {
        fs.rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() - start > timeoutMs) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for the lock ${lock}`);
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 200);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

function lockIsStale(lock: string): boolean {
  try {
    const pid = Number(fs.readFileSync(lock, "utf8"));
    if (!Number.isInteger(pid) || pid <= 0) return false;
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH";
  }
}
