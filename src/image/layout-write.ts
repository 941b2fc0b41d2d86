/**
 * Writing OCI image layouts (DESIGN §5): every file through a temporary name, fsync and rename; blobs already
 * present are not written again; blobs from another layout are hardlinked (else symlinked or copied, by policy);
 * index.json is updated under a lock and keeps the entries of other refs.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  commitTemp,
  discardTemp,
  fileError,
  fillTempAsync,
  removeStaleTemps,
  tempPathFor,
  withLock,
  writeAll,
  writeFileAtomic,
  yieldToEventLoop,
} from "../fsutil/atomic.ts";
import { sha256 } from "../hash/sha256.ts";
import { progress } from "../ground/progress.ts";
import { Layout, LAYOUT_VERSION, LayoutError } from "./layout.ts";
import { type Descriptor, type Index, MediaType, REF_NAME } from "./types.ts";

/** How a blob that exists in another layout reaches this one. */
export type LinkPolicy = "hardlink" | "symlink" | "copy";

/** What `linkBlob` did. */
export type LinkResult = "present" | "hardlink" | "symlink" | "copy";

/** Parses the `-oci-link` value: `hardlink` (falls back to copy), `symlink` or `copy`. */
export function parseLinkPolicy(value: string): LinkPolicy {
  if (value === "hardlink" || value === "symlink" || value === "copy") return value;
  throw new Error(`invalid -oci-link value "${value}": expected hardlink, symlink or copy`);
}

/** A layout directory opened for writing (created if missing). */
export class LayoutWriter {
  private constructor(readonly dir: string, private readonly layout: Layout) {}

  /**
   * Opens `dir` for writing, creating the directory, `oci-layout` and `blobs/sha256/` when missing. An existing
   * `oci-layout` must be readable and of a known version (checked before anything is written).
   */
  static open(dir: string): LayoutWriter {
    const abs = path.resolve(dir);
    if (fs.existsSync(path.join(abs, "oci-layout"))) {
      Layout.open(abs);
      fs.mkdirSync(path.join(abs, "blobs", "sha256"), { recursive: true });
    } else {
      fs.mkdirSync(path.join(abs, "blobs", "sha256"), { recursive: true });
      // index.json first, so the directory is a valid (empty) layout from the moment oci-layout exists.
      if (!fs.existsSync(path.join(abs, "index.json"))) {
        writeFileAtomic(path.join(abs, "index.json"), JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] }, null, 2) + "\n");
      }
      writeFileAtomic(path.join(abs, "oci-layout"), JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION }));
    }
    // Leftovers of writers that were killed (their temporary blobs and index.json files).
    removeStaleTemps(path.join(abs, "blobs", "sha256"));
    removeStaleTemps(abs);
    return new LayoutWriter(abs, Layout.open(abs));
  }

  /** This layout, for reading. */
  reader(): Layout {
    return this.layout;
  }

  /** The path of a blob in this layout. */
  blobPath(digest: string): string {
    return this.layout.blobPath(digest);
  }

  /** Whether the blob is already here. A symlink whose target is gone does not count. */
  hasBlob(digest: string): boolean {
    return fs.existsSync(this.blobPath(digest));
  }

  /** A fresh temporary path inside `blobs/sha256/` for a blob being streamed in; pass it to `commitBlob`. */
  tempBlobPath(): string {
    return tempPathFor(path.join(this.dir, "blobs", "sha256", "blob"));
  }

  /**
   * Moves a finished temporary file (already fsynced) into place as `digest`; if that blob already exists the
   * temporary file is removed instead.
   */
  commitBlob(tmp: string, digest: string): void {
    const dest = this.blobPath(digest);
    if (fs.existsSync(dest)) {
      discardTemp(tmp);
      return;
    }
    commitTemp(tmp, dest);
  }

  /** Writes a small blob (a manifest, a config) unless it is already present; returns its descriptor. */
  async writeBlob(data: Uint8Array, mediaType: string): Promise<Descriptor> {
    const h = await sha256();
    h.update(data);
    const digest = `sha256:${h.hex()}`;
    const dest = this.blobPath(digest);
    if (!fs.existsSync(dest)) writeFileAtomic(dest, data, 0o644);
    return { mediaType, digest, size: data.length };
  }

  /**
   * Brings the blob `digest` from the file `src` (in another layout) into this one: nothing when it is present,
   * else a hardlink (falling back to a copy across filesystems, or where the kernel refuses the link), a symlink,
   * or a copy, as the policy says.
   */
  async linkBlob(src: string, digest: string, policy: LinkPolicy = "hardlink"): Promise<LinkResult> {
    const dest = this.blobPath(digest);
    if (fs.existsSync(dest)) return "present";
    if (path.resolve(src) === dest) return "present";
    // A symlink to a missing file would be created without complaint and leave a dangling blob behind.
    if (!fs.existsSync(src)) throw new LayoutError(this.dir, `cannot link blob ${digest} into ${this.dir}: its source ${src} does not exist`);
    if (policy === "hardlink") {
      const tmp = tempPathFor(dest);
      try {
        fs.linkSync(src, tmp);
        commitTemp(tmp, dest);
        return "hardlink";
      } catch (e) {
        discardTemp(tmp);
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== "EXDEV" && code !== "EPERM" && code !== "EMLINK" && code !== "ENOTSUP") throw fileError(e, dest, "link blob into");
      }
    }
    if (policy === "symlink") {
      const tmp = tempPathFor(dest);
      fs.symlinkSync(path.resolve(src), tmp);
      commitTemp(tmp, dest);
      return "symlink";
    }
    await this.copyVerified(src, dest, digest);
    return "copy";
  }

  /** Hardlinks the blob `digest` from `src` if it is not here yet; false when the link cannot be made. */
  tryHardlink(src: string, digest: string): boolean {
    const dest = this.blobPath(digest);
    if (fs.existsSync(dest)) return true;
    const tmp = tempPathFor(dest);
    try {
      fs.linkSync(src, tmp);
      commitTemp(tmp, dest);
      return true;
    } catch {
      discardTemp(tmp);
      return false;
    }
  }

  private async copyVerified(src: string, dest: string, digest: string): Promise<void> {
    const tmp = tempPathFor(dest);
    const h = await sha256();
    const buf = new Uint8Array(1 << 20);
    const inFd = fs.openSync(src, "r");
    const bar = progress(`Copying blob ${digest.slice(7, 19)}`, fs.fstatSync(inFd).size);
    let done = 0;
    try {
      await fillTempAsync(
        tmp,
        async (outFd) => {
          for (let k = 1;; k++) {
            const n = fs.readSync(inFd, buf, 0, buf.length, null);
            if (n === 0) break;
            h.update(buf.subarray(0, n));
            writeAll(outFd, buf.subarray(0, n));
            bar.update(done += n);
            if (k % 16 === 0) await yieldToEventLoop();
          }
        },
        0o644,
        dest,
      );
    } finally {
      bar.done();
      fs.closeSync(inFd);
    }
    const actual = `sha256:${h.hex()}`;
    if (actual !== digest) {
      discardTemp(tmp);
      throw new LayoutError(this.dir, `cannot copy blob ${digest} from ${src}: the file hashes to ${actual}`);
    }
    commitTemp(tmp, dest);
  }

  /**
   * Records a manifest (or index) descriptor in index.json under each of `refNames`, under a lock. Entries of other
   * ref names are kept; an entry that carried one of these names loses it (and is dropped when that leaves it
   * unnamed). With no ref names, the descriptor is added unless an identical unnamed one is there.
   */
  async addToIndex(desc: Descriptor, refNames: string[]): Promise<void> {
    const indexFile = path.join(this.dir, "index.json");
    await withLock(indexFile, () => {
      let index: Index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
      if (fs.existsSync(indexFile)) index = this.reader().index();
      const kept: Descriptor[] = [];
      for (const d of index.manifests ?? []) {
        const name = d.annotations?.[REF_NAME];
        if (name !== undefined && refNames.includes(name)) continue;
        if (name === undefined && refNames.length === 0 && d.digest === desc.digest) continue;
        kept.push(d);
      }
      const base: Descriptor = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size };
      if (desc.platform) base.platform = desc.platform;
      const added = refNames.length
        ? refNames.map((n) => ({ ...base, annotations: { ...(desc.annotations ?? {}), [REF_NAME]: n } }))
        : [{ ...base, ...(desc.annotations ? { annotations: desc.annotations } : {}) }];
      const next: Index = { schemaVersion: 2, mediaType: index.mediaType ?? MediaType.ociIndex, manifests: [...kept, ...added] };
      if (index.annotations) next.annotations = index.annotations;
      writeFileAtomic(indexFile, JSON.stringify(next, null, 2) + "\n");
    });
  }
}
