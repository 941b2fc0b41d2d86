/**
 * Progress for long steps (compressing a large layer, copying blobs), drawn on stderr only when it is a terminal:
 * nothing of it reaches a log file or a pipe.
 */

/** A progress line being drawn. */
export interface Progress {
  update(done: number): void;
  done(): void;
}

import * as fs from "node:fs";
import * as path from "node:path";

const silent: Progress = { update() {}, done() {} };

/**
 * A progress line for `label` over `total` bytes, or a no-op when stderr is not a terminal (or total is small);
 * a function for `total` is called only on a terminal (when the size costs a walk).
 *
 * @example const p = progress("Compressing 'bp:layer'", size); p.update(n); p.done();
 */
export function progress(label: string, totalOf: number | (() => number), minBytes = 32 << 20): Progress {
  const tty = typeof process !== "undefined" && process.stderr?.isTTY === true;
  if (!tty) return silent;
  const total = typeof totalOf === "function" ? totalOf() : totalOf;
  if (total < minBytes) return silent;
  let last = 0;
  const draw = (done: number) => {
    const pct = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
    process.stderr.write(`\r${label}: ${pct}% (${(done / 1e6).toFixed(0)}/${(total / 1e6).toFixed(0)} MB)\x1b[K`);
  };
  return {
    update(done) {
      const now = Date.now();
      if (now - last < 200) return;
      last = now;
      draw(done);
    },
    done() {
      process.stderr.write("\r\x1b[K");
    },
  };
}

/** The apparent size in bytes of a directory tree (files and symlinks, not following links). */
export function treeSize(dir: string): number {
  let total = 0;
  const walk = (p: string) => {
    let st;
    try {
      st = fs.lstatSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) { for (const n of fs.readdirSync(p)) walk(path.join(p, n)); }
    else total += st.size;
  };
  walk(dir);
  return total;
}
