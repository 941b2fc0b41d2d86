/**
 * Knowing a layer's diffID without reading its files, as git's index knows a file is unchanged: a fingerprint of
 * every path's lstat (inode, size, mode, owner, mtime and ctime in nanoseconds, symlink target) and of the layer's
 * owner is recorded with the diffID when a layer is exported or restored; the next export that finds the same
 * fingerprint takes the recorded diffID. Any change to a file (even a touch) changes its ctime and so the
 * fingerprint. The exporter does without it when `CNB_LIFECYCLE_REREAD=true`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { writeFileAtomic } from "../fsutil/atomic.ts";
import type { Owner, Placement } from "./tar-entries.ts";
import { compareBytes } from "./tar-entries.ts";

/** A fingerprint of a layer tree and its parents, from lstat alone (no file is read). */
export function treeFingerprint(p: Placement, owner: Owner, extra = ""): string {
  const h = createHash("sha256");
  h.update(`${owner.uid}:${owner.gid}:${p.image}:${extra}\n`);
  let dir = path.dirname(p.disk);
  while (dir !== path.dirname(dir)) {
    const st = fs.statSync(dir, { bigint: true });
    h.update(`P ${dir} ${st.mode} ${st.uid} ${st.gid}\n`);
    dir = path.dirname(dir);
  }
  const walk = (disk: string) => {
    const st = fs.lstatSync(disk, { bigint: true });
    h.update(`${disk} ${st.ino} ${st.size} ${st.mode} ${st.uid} ${st.gid} ${st.mtimeNs} ${st.ctimeNs}`);
    if (st.isSymbolicLink()) h.update(` -> ${fs.readlinkSync(disk)}`);
    h.update("\n");
    if (st.isDirectory()) { for (const n of fs.readdirSync(disk).sort(compareBytes)) walk(path.join(disk, n)); }
  };
  walk(p.disk);
  return h.digest("hex");
}

/** Fingerprint → diffID records, kept in one JSON file. */
export class StatIndex {
  private records: Record<string, string> = {};
  private dirty = false;

  constructor(readonly file: string) {
    try {
      this.records = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, string>;
    } catch {
      this.records = {};
    }
  }

  /** The diffID recorded for this fingerprint. */
  lookup(fingerprint: string): string | undefined {
    return this.records[fingerprint];
  }

  /** Records a diffID. */
  record(fingerprint: string, diffID: string): void {
    if (this.records[fingerprint] === diffID) return;
    this.records[fingerprint] = diffID;
    this.dirty = true;
  }

  /** Writes the index if it changed (keeping at most the 512 newest records). */
  save(): void {
    if (!this.dirty) return;
    const entries = Object.entries(this.records).slice(-512);
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    writeFileAtomic(this.file, JSON.stringify(Object.fromEntries(entries)));
    this.dirty = false;
  }
}
