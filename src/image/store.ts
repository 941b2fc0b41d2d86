/**
 * Where the phases find and write images, behind one interface: the store (find, open, a sink for new images,
 * preparation for the build user, garbage collection) and the sink. Layouts (layout-store.ts) and registries
 * (registry/store.ts) implement it; image/stores.ts chooses one; a phase sees only these interfaces.
 */
import type { BuildUser } from "../buildpack/privileges.ts";
import type { Logger } from "../ground/log.ts";
import type { Image, ImageLayer } from "./image.ts";
import type { LinkResult } from "./layout-write.ts";
import type { Descriptor } from "./types.ts";
/** Finds images by reference and opens sinks for new ones. */
export interface ImageStore {
  /** A description for messages (`OCI layouts under /oci`). */
  readonly description: string;
  /** The image named `ref`, or undefined when there is none. Errors inside an existing image propagate. */
  find(ref: string): Promise<Image | undefined>;
  /** Where the RFC's rule looks for `ref` (for "could not be found at path" messages). */
  whereIs(ref: string): string;
  /** Reopens an image by the identifier an earlier phase recorded (`Image.identifier`). */
  open(identifier: string): Promise<Image>;
  /** A sink that writes the image `ref` (and, with `save`, its further tags); `log` hears how blobs came in. */
  sink(refs: string[], log?: Logger): ImageSink;
  /**
   * Run as root before a phase drops to the build user: creates, for that user, what a sink for `refs` will
   * write (directories the lifecycle owns), and brings in the blobs of `sources` that the build user could not
   * link itself (Linux's protected_hardlinks refuses links to another user's files). Never changes an existing
   * file's owner or mode.
   */
  prepareOutput(refs: string[], user: BuildUser, sources: Image[]): Promise<void>;
  /**
   * After a save: removes from where the image went what no saved image references any more and that is older
   * than `minAgeMs` (layout garbage collection); a store where that does not apply says so and does nothing.
   */
  collectGarbage(saved: { name: string; location: string }[], minAgeMs: number, log: Logger): Promise<void>;
  /** Deletes an image by its identifier where the store can (a registry's manifest); absent where it cannot. */
  deleteImage?(identifier: string): Promise<void>;
}

/**
 * Where new images go when that is not where images are found: an archive file (archive.ts) written by the
 * exporter while the run image comes from a layout or a registry. routed-store.ts pairs it with the sources.
 */
export type ImageTarget = Pick<ImageStore, "description" | "sink" | "prepareOutput" | "collectGarbage">;

/** Where a new image's blobs and manifest go. */
export interface ImageSink {
  /** The names the image will be saved under. */
  readonly names: string[];
  /** A temporary file to stream a new blob into; pass it to `commitBlob`. */
  tempBlobPath(): string;
  /** Moves a finished temporary blob into place (or uploads it). */
  commitBlob(tmp: string, digest: string): void | Promise<void>;
  /** Whether the sink already holds a blob. */
  hasBlob(digest: string): boolean;
  /** Brings an existing image's layer blob in without rewriting it (hardlink, symlink or copy); "missing" when the source has no bytes (sparse). */
  reuseBlob(from: Image, layer: ImageLayer): Promise<LinkResult | "missing">;
  /** Brings in a blob from a local file known to hold `digest` (hardlink, symlink or copy, by policy). */
  linkFile(src: string, digest: string): Promise<LinkResult>;
  /** Writes a small blob (config, manifest). */
  writeBlob(data: Uint8Array, mediaType: string): Promise<Descriptor>;
  /** Records the manifest under every name; returns what was saved where. */
  save(manifest: Descriptor): Promise<{ name: string; location: string }[]>;
  /** After save, for a daemon: the image ID (its config digest), which report.toml gives instead of a digest. */
  imageID?(): string | undefined;
  /** A file in the sink's storage holding a blob, for reuse by later phases. */
  blobFile(digest: string): string | undefined;
}
