/**
 * The one image interface the phases see. A layout, a registry or a daemon image all look like this; a phase never
 * knows where its image lives.
 */
import type { Descriptor, ImageConfig, Manifest } from "./types.ts";

/** One layer of an image, as the manifest and config describe it. */
export interface ImageLayer {
  /** Digest of the blob as stored (compressed for gzip layers). */
  readonly digest: string;
  /** Digest of the uncompressed tar (from the config's rootfs.diff_ids). */
  readonly diffID: string;
  /** Size of the stored blob in bytes. */
  readonly size: number;
  readonly mediaType: string;
  /** The manifest's descriptor, to be copied as is when the layer is reused. */
  readonly descriptor: Descriptor;
  /** Whether the blob's bytes can be read here (false for the missing layers of a sparse image). */
  readonly present: boolean;
}

/** An image that has been found and whose manifest and config were read and verified. */
export interface Image {
  /** Where the image lives, for messages (a layout path, a registry reference). */
  readonly name: string;
  /** A stable identifier: for a layout, `<layout path>@<manifest digest>`. */
  readonly identifier: string;
  readonly manifestDigest: string;
  readonly manifestDescriptor: Descriptor;
  readonly manifest: Manifest;
  readonly manifestBytes: Uint8Array;
  readonly config: ImageConfig;
  readonly configBytes: Uint8Array;
  /** The layers, bottom first. */
  layers(): ImageLayer[];
  /** The image's config labels (empty when it has none). */
  labels(): Record<string, string>;
  /** Whether every layer blob is present. */
  isComplete(): boolean;
  /** A stream of a layer blob's stored bytes; errors at the end if the bytes do not match the digest or size. */
  openBlob(digest: string): ReadableStream<Uint8Array>;
  /** A local file holding the blob, when there is one (for hardlinking); undefined otherwise. */
  blobFile(digest: string): string | undefined;
}
