/**
 * What the archive and daemon sinks share: they gather an image's blobs (new ones in a temporary directory, small
 * ones in memory, reused ones as a reference to the image that has them) and write them all at once at save.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { discardTemp, makeTempDir } from "../fsutil/atomic.ts";
import { sha256 } from "../hash/sha256.ts";
import type { Image, ImageLayer } from "./image.ts";
import type { LinkResult } from "./layout-write.ts";
import type { ImageSink } from "./store.ts";
import type { Descriptor } from "./types.ts";

/** Where a gathered blob's bytes are: a local file, or a layer of another image. */
export type GatheredBlob = { file: string } | { from: Image; layer: ImageLayer };

/** An ImageSink that gathers blobs until `save`, which subclasses write (an archive file, a daemon's load). */
export abstract class GatheringSink implements ImageSink {
  /** Layer blobs by digest. */
  protected readonly blobs = new Map<string, GatheredBlob>();
  /** Configs and manifests by digest. */
  protected readonly small = new Map<string, Uint8Array>();
  private readonly tmpDir: string;

  /** `tmpPrefix`: where new blobs wait (a mkdtemp prefix). */
  constructor(readonly names: string[], tmpPrefix: string) {
    if (names.length === 0) throw new Error("no image name to export to");
    this.tmpDir = makeTempDir(tmpPrefix);
  }

  tempBlobPath(): string {
    return path.join(this.tmpDir, `blob-${Math.random().toString(16).slice(2)}`);
  }
  commitBlob(tmp: string, digest: string): void {
    const dest = path.join(this.tmpDir, digest.replace(":", "-"));
    fs.renameSync(tmp, dest);
    this.blobs.set(digest, { file: dest });
  }
  hasBlob(digest: string): boolean {
    return this.blobs.has(digest) || this.small.has(digest);
  }
  abstract reuseBlob(from: Image, layer: ImageLayer): Promise<LinkResult | "missing">;
  async linkFile(src: string, digest: string): Promise<LinkResult> {
    this.blobs.set(digest, { file: src });
    return "copy";
  }
  async writeBlob(data: Uint8Array, mediaType: string): Promise<Descriptor> {
    const h = await sha256();
    h.update(data);
    const digest = `sha256:${h.hex()}`;
    this.small.set(digest, data);
    return { mediaType, digest, size: data.length };
  }
  /** Gathered blobs live only until save: none is offered to later phases. */
  blobFile(): string | undefined {
    return undefined;
  }
  abstract save(manifest: Descriptor): Promise<{ name: string; location: string }[]>;

  /** The small blob `digest` (a config or manifest written to this sink). */
  protected smallBlob(digest: string, what: string): Uint8Array {
    const b = this.small.get(digest);
    if (!b) throw new Error(`${what} ${digest} was not written to this sink`);
    return b;
  }

  /** Removes the temporary directory (after save, whatever its outcome). */
  protected discard(): void {
    discardTemp(this.tmpDir);
  }
}
