/**
 * Images as OCI image layouts in a directory (DESIGN §3–§5): found by the RFC's rule and the canonical form,
 * written through LayoutWriter (temporary names, renames, index.json under a lock), blobs of other layouts
 * hardlinked, and garbage collection of what no index references.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { type BuildUser, canWrite, mkdirOwned } from "../buildpack/privileges.ts";
import { fillTempAsync, writeAll } from "../fsutil/atomic.ts";
import type { Logger } from "../ground/log.ts";
import type { Image, ImageLayer } from "./image.ts";
import { Layout, NoSuchImageError } from "./layout.ts";
import { gcLayout } from "./layout-gc.ts";
import { LayoutWriter, type LinkPolicy, type LinkResult } from "./layout-write.ts";
import { appImageLocation, candidateLocations, ImageNotFoundError, openLayoutImage } from "./locate.ts";
import type { ImageSink, ImageStore } from "./store.ts";
import type { Descriptor } from "./types.ts";

/** Options of the layout store. */
export interface LayoutStoreOptions {
  /** The directory holding the layouts (`-oci-dir`, `-layout-dir`). */
  dir: string;
  /** Where new images go: the RFC's form (`-oci`) or the canonical form (`-layout`). */
  form: "rfc" | "canonical";
  /** How blobs from other layouts are brought in (default hardlink, falling back to copy). */
  link?: LinkPolicy;
  /**
   * Write complete layouts (`-oci-full`): a blob that is not on disk (a registry's, or one a sparse layout lacks
   * and its registry supplies) is read once, verified and stored, instead of being left out.
   */
  full?: boolean;
}

/** Images as OCI layouts in a directory. */
export class LayoutStore implements ImageStore {
  constructor(readonly opts: LayoutStoreOptions) {}

  get description(): string {
    return `OCI layouts under ${this.opts.dir}`;
  }

  async find(ref: string): Promise<Image | undefined> {
    try {
      return await openLayoutImage(this.opts.dir, ref);
    } catch (e) {
      if (e instanceof ImageNotFoundError) return undefined;
      if (e instanceof NoSuchImageError) return undefined;
      throw e;
    }
  }

  whereIs(ref: string): string {
    return candidateLocations(this.opts.dir, ref)[0].path;
  }

  async open(identifier: string): Promise<Image> {
    const at = identifier.lastIndexOf("@");
    if (at < 0 || !identifier.slice(at + 1).startsWith("sha256:")) {
      const img = await this.find(identifier);
      if (!img) throw new ImageNotFoundError(identifier, this.whereIs(identifier), [this.whereIs(identifier)]);
      return img;
    }
    const dir = identifier.slice(0, at);
    return Layout.open(path.isAbsolute(dir) ? dir : path.resolve(this.opts.dir, dir)).image({ digest: identifier.slice(at + 1) });
  }

  sink(refs: string[], log?: Logger): ImageSink {
    return new LayoutSink(this.opts, refs, log);
  }

  async collectGarbage(saved: { name: string; location: string }[], minAgeMs: number, log: Logger): Promise<void> {
    for (const loc of new Set(saved.map((x) => x.location))) {
      const g = await gcLayout(loc, minAgeMs);
      log.info(`Removed ${g.removed.length} unreferenced blobs from ${loc} (${(g.freed / 1e6).toFixed(1)} MB)`);
    }
  }

  async prepareOutput(refs: string[], user: BuildUser, sources: Image[]): Promise<void> {
    const dirs = [...new Set(refs.map((r) => appImageLocation(this.opts.dir, r, this.opts.form).path))];
    for (const dir of dirs) {
      const before = new Set(["", "blobs", "blobs/sha256", "index.json", "oci-layout"].filter((n) => fs.existsSync(path.join(dir, n))));
      mkdirOwned(dir, user);
      const w = LayoutWriter.open(dir);
      for (const n of ["blobs", "blobs/sha256", "index.json", "oci-layout"]) if (!before.has(n)) fs.chownSync(path.join(dir, n), user.uid, user.gid);
      // The app's own layout, from an earlier build as another user: its directories (never its files: blobs
      // are immutable and may be links to other layouts' blobs; index.json is replaced by a rename) become the
      // build user's where it cannot write them.
      for (const n of ["", "blobs", "blobs/sha256"]) {
        const d = path.join(dir, n);
        if (!canWrite(user, fs.statSync(d))) fs.chownSync(d, user.uid, user.gid);
      }
      if ((this.opts.link ?? "hardlink") !== "hardlink") continue;
      for (const img of sources) {
        for (const l of img.layers()) {
          const src = img.blobFile(l.digest);
          if (src) w.tryHardlink(src, l.digest);
        }
      }
    }
  }
}

/** Writes one image into one or more layouts (one per distinct location of its names). */
class LayoutSink implements ImageSink {
  private readonly targets: { name: string; path: string; refName?: string }[];
  private writers = new Map<string, LayoutWriter>();

  /** Blobs copied because a hardlink was refused or the policy says copy: count and bytes. */
  private copied = { count: 0, bytes: 0 };
  /** Blobs read from a registry for a complete layout (`-oci-full`). */
  private fetched = { count: 0, bytes: 0 };

  constructor(private readonly opts: LayoutStoreOptions, readonly names: string[], private readonly log?: Logger) {
    if (names.length === 0) throw new Error("no image name to export to");
    this.targets = names.map((n) => {
      const loc = appImageLocation(opts.dir, n, opts.form);
      return { name: n, path: loc.path, refName: loc.refName };
    });
  }

  /** The first layout, where blobs are written; the others get hardlinks at save time. */
  private primary(): LayoutWriter {
    return this.writer(this.targets[0].path);
  }

  private writer(p: string): LayoutWriter {
    let w = this.writers.get(p);
    if (!w) {
      w = LayoutWriter.open(p);
      this.writers.set(p, w);
    }
    return w;
  }

  tempBlobPath(): string {
    return this.primary().tempBlobPath();
  }
  commitBlob(tmp: string, digest: string): void {
    this.primary().commitBlob(tmp, digest);
  }
  hasBlob(digest: string): boolean {
    return this.primary().hasBlob(digest);
  }
  blobFile(digest: string): string | undefined {
    return this.hasBlob(digest) ? this.primary().blobPath(digest) : undefined;
  }

  async reuseBlob(from: Image, layer: ImageLayer): Promise<LinkResult | "missing"> {
    if (this.hasBlob(layer.digest)) return "present";
    const src = from.blobFile(layer.digest);
    if (src) return this.linkFile(src, layer.digest);
    if (!this.opts.full || !layer.present) return "missing";
    const tmp = this.tempBlobPath();
    await fillTempAsync(tmp, async (fd) => {
      const r = from.openBlob(layer.digest).getReader();
      for (;;) {
        const { done, value } = await r.read();
        if (done) break;
        writeAll(fd, value);
      }
    });
    this.commitBlob(tmp, layer.digest);
    this.fetched.count++;
    this.fetched.bytes += layer.size;
    return "copy";
  }

  async linkFile(src: string, digest: string): Promise<LinkResult> {
    const r = await this.primary().linkBlob(src, digest, this.opts.link ?? "hardlink");
    if (r === "copy") {
      this.copied.count++;
      this.copied.bytes += fs.statSync(src).size;
    }
    return r;
  }

  writeBlob(data: Uint8Array, mediaType: string): Promise<Descriptor> {
    return this.primary().writeBlob(data, mediaType);
  }

  async save(manifest: Descriptor): Promise<{ name: string; location: string }[]> {
    const primary = this.primary();
    const byPath = new Map<string, { name: string; refName?: string }[]>();
    for (const t of this.targets) byPath.set(t.path, [...(byPath.get(t.path) ?? []), t]);
    const saved: { name: string; location: string }[] = [];
    for (const [p, ts] of byPath) {
      const w = this.writer(p);
      if (w !== primary) await copyImageBlobs(primary, w, manifest, this.opts.link ?? "hardlink");
      const refNames = ts.map((t) => t.refName).filter((n): n is string => n !== undefined);
      await w.addToIndex(manifest, refNames);
      for (const t of ts) saved.push({ name: t.name, location: p });
    }
    if (this.fetched.count > 0) {
      this.log?.info(`Fetched ${this.fetched.count} blob(s) (${(this.fetched.bytes / 1e6).toFixed(1)} MB) into ${primary.dir} from their registry (-oci-full)`);
    }
    if (this.copied.count > 0) {
      const why = (this.opts.link ?? "hardlink") === "copy"
        ? "-oci-link copy"
        : "the kernel refused hardlinks to them for this user (protected_hardlinks) or they are on another filesystem";
      this.log?.info(`Copied ${this.copied.count} blob(s) (${(this.copied.bytes / 1e6).toFixed(1)} MB) from other layouts into ${primary.dir}: ${why}`);
    }
    return saved;
  }
}

/** Links every blob of a manifest that exists in `from` into `to`. */
async function copyImageBlobs(from: LayoutWriter, to: LayoutWriter, manifest: Descriptor, policy: LinkPolicy): Promise<void> {
  const m = JSON.parse(fs.readFileSync(from.blobPath(manifest.digest), "utf8")) as { config: Descriptor; layers: Descriptor[] };
  for (const d of [manifest, m.config, ...m.layers]) {
    if (from.hasBlob(d.digest)) await to.linkBlob(from.blobPath(d.digest), d.digest, policy);
  }
}
