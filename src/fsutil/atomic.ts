/**
 * Crash-safe file writing: write to a temporary name in the same directory, fsync, rename, fsync the directory.
 * A crash leaves either the old file or the new one, never half of one.
 *
 * Temporary names say who wrote them (`.tmp-<namespace>.<pid>.<random>-<name>`, the namespace being this
 * process's PID namespace and host), so that a later writer can remove the leftovers of a writer that is gone
 * (SIGKILL, power loss) without touching those of writers still running, even in other containers sharing the
 * directory. This process's own temporary files are removed when it is stopped by SIGTERM or SIGINT.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createHash, randomBytes } from "node:crypto";

/** The temporary files and directories this process has made and not yet committed or removed. */
const live = new Set<string>();

let namespaceTag: string | undefined;

/** This process's PID namespace and host, as a short tag: PIDs are only comparable within one. */
export function processNamespace(): string {
  if (namespaceTag === undefined) {
    let ns = "";
    try {
      ns = fs.readlinkSync("/proc/self/ns/pid");
    } catch {
      // no /proc: the host name alone
    }
    namespaceTag = createHash("sha256").update(`${ns}\0${os.hostname()}`).digest("hex").slice(0, 12);
  }
  return namespaceTag;
}

const TEMP_NAME = /^\.tmp-([0-9a-f]{12})\.(\d+)\.[0-9a-f]+-/;

/** A temporary path beside `target`, hidden, unique, and naming its writer; removed on SIGTERM/SIGINT. */
export function tempPathFor(target: string): string {
  const p = path.join(
    path.dirname(target),
    `.tmp-${processNamespace()}.${process.pid}.${randomBytes(6).toString("hex")}-${path.basename(target).slice(0, 40)}`,
  );
  live.add(p);
  return p;
}

/** A temporary directory (like mkdtemp) that is removed on SIGTERM/SIGINT unless released first. */
export function makeTempDir(prefix: string): string {
  const d = fs.mkdtempSync(prefix);
  live.add(d);
  return d;
}

/** Removes a temporary file or directory, never throwing (a cleanup must not hide the error that led to it). */
export function discardTemp(p: string): void {
  live.delete(p);
  try {
    fs.rmSync(p, { recursive: true, force: true });
  } catch {
    // the original error matters more than a failed cleanup (a read-only or full filesystem)
  }
}

/** Whether process `pid` of this namespace is running. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/**
 * Removes the temporary files in `dir` whose writer, a process of this namespace, is no longer running. Files of
 * other namespaces, of running processes and of this one are kept. Returns the names removed.
 */
export function removeStaleTemps(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    const m = TEMP_NAME.exec(n);
    if (!m || m[1] !== processNamespace()) continue;
    const pid = Number(m[2]);
    if (pid === process.pid || alive(pid)) continue;
    try {
      fs.rmSync(path.join(dir, n), { recursive: true, force: true });
      removed.push(n);
    } catch {
      // not ours to insist on: a later writer or the garbage collector will try again
    }
  }
  return removed;
}

/** Removes every temporary file this process still has (on SIGTERM/SIGINT, before exiting). */
export function removeLiveTemps(): void {
  for (const p of [...live]) discardTemp(p);
}

/**
 * Installs SIGTERM and SIGINT handlers that remove this process's temporary files and exit 143 or 130 (the
 * shell's 128 + signal number). For the phases' own process only.
 */
export function removeTempsOnSignals(onSignal?: (signal: string) => void): void {
  for (const [sig, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
    process.on(sig, () => {
      onSignal?.(sig);
      removeLiveTemps();
      process.exit(code);
    });
  }
}

/** An I/O error with the file it concerns in its message (`ENOSPC … write` names no file), code kept. */
export function fileError(e: unknown, file: string, doing: string): Error {
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.message === "string" && err.message.includes(file)) return err;
  const out = new Error(`cannot ${doing} ${file}: ${err?.message ?? String(e)}`, { cause: e }) as NodeJS.ErrnoException;
  if (err?.code) out.code = err.code;
  return out;
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
  fillTemp(tmp, (fd) => writeAll(fd, typeof data === "string" ? new TextEncoder().encode(data) : data), mode, target);
  commitTemp(tmp, target);
}

/**
 * Creates `tmp` (exclusively), lets `write` fill it, fsyncs and closes it; on any error the file is removed and
 * the error rethrown, naming `target` (or `tmp`). The caller then renames it into place (commitTemp).
 */
export function fillTemp(tmp: string, write: (fd: number) => void, mode = 0o644, target = tmp): void {
  let fd: number;
  try {
    fd = fs.openSync(tmp, "wx", mode);
  } catch (e) {
    live.delete(tmp);
    throw fileError(e, target, "write");
  }
  try {
    write(fd);
    fs.fsyncSync(fd);
  } catch (e) {
    try {
      fs.closeSync(fd);
    } catch {
      // keep the first error
    }
    discardTemp(tmp);
    throw fileError(e, target, "write");
  }
  fs.closeSync(fd);
}

/** Like fillTemp, for a writer that awaits (and so lets signals be handled while it writes). */
export async function fillTempAsync(tmp: string, write: (fd: number) => Promise<void>, mode = 0o644, target = tmp): Promise<void> {
  let fd: number;
  try {
    fd = fs.openSync(tmp, "wx", mode);
  } catch (e) {
    live.delete(tmp);
    throw fileError(e, target, "write");
  }
  try {
    await write(fd);
    fs.fsyncSync(fd);
  } catch (e) {
    try {
      fs.closeSync(fd);
    } catch {
      // keep the first error
    }
    discardTemp(tmp);
    throw fileError(e, target, "write");
  }
  fs.closeSync(fd);
}

/** Lets the event loop run (signal handlers, timers) inside a long synchronous job. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Renames a finished (already fsynced) temporary file onto `target` and syncs the directory. */
export function commitTemp(tmp: string, target: string): void {
  try {
    fs.renameSync(tmp, target);
  } catch (e) {
    discardTemp(tmp);
    throw fileError(e, target, "write");
  }
  live.delete(tmp);
  fsyncDir(path.dirname(target));
}

/**
 * Runs `fn` holding an exclusive lock file (`<target>.lock`, created with O_EXCL, naming its holder). Waits up to
 * `timeoutMs` for another holder; a lock whose holder, a process of this namespace, is gone is taken over (a lock
 * of another namespace is waited for). Known limit: when two processes find the same dead holder's lock at once,
 * the second may remove the lock the first has just taken; only a holder that crashed leads there.
 */
export async function withLock<T>(target: string, fn: () => Promise<T> | T, timeoutMs = 60_000): Promise<T> {
  const lock = `${target}.lock`;
  const start = Date.now();
  let delay = 5;
  for (;;) {
    try {
      const fd = fs.openSync(lock, "wx", 0o644);
      live.add(lock);
      try {
        fs.writeSync(fd, `${processNamespace()} ${process.pid}`);
      } finally {
        fs.closeSync(fd);
      }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw fileError(e, lock, "create the lock");
      if (lockIsStale(lock)) {
        discardTemp(lock);
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
    discardTemp(lock);
  }
}

function lockIsStale(lock: string): boolean {
  let text: string;
  try {
    text = fs.readFileSync(lock, "utf8").trim();
  } catch {
    return false;
  }
  // `<namespace> <pid>`; an older lock holds only the pid.
  const [ns, pidText] = text.includes(" ") ? text.split(" ") : [processNamespace(), text];
  const pid = Number(pidText);
  if (ns !== processNamespace() || !Number.isInteger(pid) || pid <= 0) return false;
  return !alive(pid);
}
