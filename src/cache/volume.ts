/**
 * The volume cache (`-cache-dir`), in the reference lifecycle's layout: `committed/<diffID>.tar` (uncompressed
 * layer tars, the file name literally `sha256:<hex>.tar`) and `committed/io.buildpacks.lifecycle.cache.metadata`
 * (JSON). Writes go to `staging/`; a commit swaps `staging` in for `committed` with renames, so a crash leaves
 * the old cache whole.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { sha256 } from "../hash/sha256.ts";
import { commitTemp, discardTemp, fillTempAsync, fsyncDir, tempPathFor, writeAll, writeFileAtomic, yieldToEventLoop } from "../fsutil/atomic.ts";
import type { TarEntry } from "../layer/tar-entries.ts";
import { tarChunks } from "../layer/tar-writer.ts";
import { CACHE_METADATA, type CacheMetadata, type CacheWriter, checkCacheMetadata, type LayerCache } from "./cache.ts";

export { CACHE_METADATA, type CacheMetadata } from "./cache.ts";

/** A cache directory. */
export class VolumeCache implements LayerCache {
  readonly committed: string;
  readonly staging: string;

  constructor(readonly dir: string, private readonly warn: (message: string) => void = () => {}) {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`the cache directory ${dir} does not exist`);
    this.committed = path.join(dir, "committed");
    this.staging = path.join(dir, "staging");
  }

  /**
   * The committed metadata; empty when missing or unreadable (as the reference treats it), with a warning through
   * `warn` when it is there but not what a cache metadata file holds.
   */
  metadata(): Promise<CacheMetadata> {
    return Promise.resolve(this.metadataSync());
  }

  private metadataSync(): CacheMetadata {
    const file = path.join(this.committed, CACHE_METADATA);
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch {
      return { buildpacks: [] };
    }
    try {
      return checkCacheMetadata(JSON.parse(text));
    } catch (e) {
      this.warn(`the cache metadata ${file} cannot be used (${(e as Error).message}); the cache is read as empty`);
      return { buildpacks: [] };
    }
  }

  /** The committed tar of a layer, if there is one. */
  committedTar(diffID: string): string | undefined {
    const p = path.join(this.committed, `${diffID}.tar`);
    return fs.existsSync(p) ? p : undefined;
  }

  /** Clears and recreates `staging/`. */
  startStaging(): void {
    fs.rmSync(this.staging, { recursive: true, force: true });
    fs.mkdirSync(this.staging, { recursive: true });
  }

  /** Reuses a committed layer in staging (hardlink); false when it is not there. */
  reuse(diffID: string): boolean {
    const src = this.committedTar(diffID);
    if (!src) return false;
    const dest = path.join(this.staging, `${diffID}.tar`);
    if (!fs.existsSync(dest)) fs.linkSync(src, dest);
    return true;
  }

  /** Writes a layer's tar into staging and returns its diffID. */
  async add(entries: Iterable<TarEntry>): Promise<string> {
    const tmp = tempPathFor(path.join(this.staging, "layer.tar"));
    const h = await sha256();
    await fillTempAsync(
      tmp,
      async (fd) => {
        let n = 0;
        for (const c of tarChunks(entries)) {
          h.update(c);
          writeAll(fd, c);
          if (++n % 16 === 0) await yieldToEventLoop();
        }
      },
      0o644,
      path.join(this.staging, "<layer>.tar"),
    );
    const diffID = `sha256:${h.hex()}`;
    const dest = path.join(this.staging, `${diffID}.tar`);
    if (fs.existsSync(dest)) discardTemp(tmp);
    else commitTemp(tmp, dest);
    return diffID;
  }

  get description(): string {
    return `the cache directory ${this.dir}`;
  }

  /** The committed tar of a layer (verified by the reader against its name). */
  layerTar(diffID: string): Promise<string | undefined> {
    return Promise.resolve(this.committedTar(diffID));
  }

  /** Nothing to do: the tar is the cache's own. */
  release(): void {}

  /** Staging, to be swapped in for committed. */
  writer(): Promise<CacheWriter> {
    this.startStaging();
    return Promise.resolve({
      reuse: (diffID) => Promise.resolve(this.reuse(diffID)),
      add: (entries) => this.add(entries),
      commit: (meta) => Promise.resolve(this.commit(meta)),
    });
  }

  /** Writes the metadata to staging and swaps staging in for committed. */
  commit(meta: CacheMetadata): void {
    writeFileAtomic(path.join(this.staging, CACHE_METADATA), JSON.stringify(meta));
    const backup = path.join(this.dir, "committed-backup");
    fs.rmSync(backup, { recursive: true, force: true });
    const had = fs.existsSync(this.committed);
    if (had) fs.renameSync(this.committed, backup);
    try {
      fs.renameSync(this.staging, this.committed);
    } catch (e) {
      if (had) fs.renameSync(backup, this.committed);
      throw e;
    }
    fsyncDir(this.dir);
    fs.rmSync(backup, { recursive: true, force: true });
  }
}
