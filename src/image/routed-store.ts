/**
 * Mixed sources and targets behind the one ImageStore interface: references find images in the run's store
 * (layouts, registries or a daemon) unless they name their transport as skopeo does — `oci:<layout dir>[:<tag>]`
 * for a layout, `docker://<reference>` for a registry — and new images go to the store or to a separate target
 * (an archive). With `fill`, the blobs a sparse layout lacks are read from the registry its reference names, so a
 * layout or an archive written from it is complete.
 */
import * as path from "node:path";
import type { BuildUser } from "../buildpack/privileges.ts";
import type { Logger } from "../ground/log.ts";
import { ImageNotFoundError } from "./errors.ts";
import type { Image, ImageLayer } from "./image.ts";
import { Layout, LayoutError, NoSuchImageError } from "./layout.ts";
import type { RegistryStore } from "./registry/store.ts";
import type { ImageSink, ImageStore, ImageTarget } from "./store.ts";

/** What a routed store is made of. */
export interface RoutedStoreOptions {
  /** Where references without a transport prefix are found (and new images go, without a target). */
  base: ImageStore;
  /** `docker://` references, and the missing blobs of sparse layouts when filling. */
  registry: RegistryStore;
  /** Where new images go instead of `base` (an archive). */
  target?: ImageTarget;
  /** Read the blobs a sparse layout lacks from the registry its reference names. */
  fill: boolean;
  /** Where a cache image lives: the layouts in layout mode, else registries (also with a daemon, as the reference). */
  cacheStore: ImageStore;
}

/** A reference split into its transport and the rest. */
export function transportOf(ref: string): { transport: "oci" | "docker" | undefined; rest: string } {
  if (ref.startsWith("oci:")) return { transport: "oci", rest: ref.slice(4) };
  if (ref.startsWith("docker://")) return { transport: "docker", rest: ref.slice(9) };
  return { transport: undefined, rest: ref };
}

/** `<dir>[:<tag>]` as skopeo's `oci:` transport reads it; a directory that is a layout as a whole wins. */
function splitLayoutRef(rest: string): { dir: string; tag?: string } {
  if (Layout.exists(rest)) return { dir: rest };
  const colon = rest.indexOf(":");
  return colon < 0 ? { dir: rest } : { dir: rest.slice(0, colon), tag: rest.slice(colon + 1) || undefined };
}

/** A store that routes references by transport and sends new images to a target. */
export class RoutedStore implements ImageStore {
  constructor(readonly opts: RoutedStoreOptions) {}

  /** Where a cache image lives (`-cache-image`). */
  get cacheStore(): ImageStore {
    return this.opts.cacheStore;
  }

  get description(): string {
    return this.opts.target ? `${this.opts.base.description}, writing to ${this.opts.target.description}` : this.opts.base.description;
  }

  async find(ref: string): Promise<Image | undefined> {
    const { transport, rest } = transportOf(ref);
    if (transport === "docker") return this.opts.registry.find(rest);
    if (transport === "oci") {
      const { dir, tag } = splitLayoutRef(rest);
      try {
        return await Layout.open(dir).image(tag ? { refName: tag } : {});
      } catch (e) {
        if (e instanceof NoSuchImageError) return undefined;
        if (e instanceof LayoutError && !Layout.exists(dir)) return undefined;
        throw e;
      }
    }
    const img = await this.opts.base.find(ref);
    return img && this.opts.fill && !img.isComplete() ? new FilledImage(img, this.opts.registry, ref) : img;
  }

  whereIs(ref: string): string {
    const { transport, rest } = transportOf(ref);
    if (transport === "docker") return this.opts.registry.whereIs(rest);
    if (transport === "oci") return path.resolve(splitLayoutRef(rest).dir);
    return this.opts.base.whereIs(ref);
  }

  /**
   * Reopens an image by the identifier a phase recorded: a layout's is an absolute path with a digest, a
   * registry's `<registry>/<repository>@<digest>`; in a store that is not a registry, the latter came from a
   * `docker://` reference.
   */
  async open(identifier: string): Promise<Image> {
    if (transportOf(identifier).transport) {
      const img = await this.find(identifier);
      if (!img) throw new ImageNotFoundError(identifier, this.whereIs(identifier), [this.whereIs(identifier)]);
      return img;
    }
    const at = identifier.lastIndexOf("@");
    const digest = at > 0 && identifier.slice(at + 1).startsWith("sha256:");
    if (digest && path.isAbsolute(identifier)) return Layout.open(identifier.slice(0, at)).image({ digest: identifier.slice(at + 1) });
    if (digest && this.opts.base !== this.opts.registry && !identifier.startsWith("sha256:")) return this.opts.registry.open(identifier);
    return this.opts.base.open(identifier);
  }

  sink(refs: string[], log?: Logger): ImageSink {
    return (this.opts.target ?? this.opts.base).sink(refs, log);
  }

  prepareOutput(refs: string[], user: BuildUser, sources: Image[]): Promise<void> {
    return (this.opts.target ?? this.opts.base).prepareOutput(refs, user, sources);
  }

  collectGarbage(saved: { name: string; location: string }[], minAgeMs: number, log: Logger): Promise<void> {
    return (this.opts.target ?? this.opts.base).collectGarbage(saved, minAgeMs, log);
  }
}

/** A sparse layout image whose missing blobs are read, verified, from the registry its reference names. */
export class FilledImage implements Image {
  constructor(private readonly inner: Image, private readonly registry: RegistryStore, private readonly ref: string) {}

  get name(): string {
    return this.inner.name;
  }
  get identifier(): string {
    return this.inner.identifier;
  }
  get manifestDigest(): string {
    return this.inner.manifestDigest;
  }
  get manifestDescriptor() {
    return this.inner.manifestDescriptor;
  }
  get manifest() {
    return this.inner.manifest;
  }
  get manifestBytes(): Uint8Array {
    return this.inner.manifestBytes;
  }
  get config() {
    return this.inner.config;
  }
  get configBytes(): Uint8Array {
    return this.inner.configBytes;
  }
  layers(): ImageLayer[] {
    return this.inner.layers().map((l) => ({ ...l, present: true }));
  }
  labels(): Record<string, string> {
    return this.inner.labels();
  }
  isComplete(): boolean {
    return true;
  }
  openBlob(digest: string): ReadableStream<Uint8Array> {
    if (this.inner.blobFile(digest)) return this.inner.openBlob(digest);
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    const open = () => this.registry.openBlob(this.ref, digest).getReader();
    const why = (e: unknown) =>
      new Error(`layer ${digest} of ${this.inner.name} is not on disk (a sparse layout) and its registry did not supply it: ${(e as Error).message}`);
    return new ReadableStream<Uint8Array>({
      async pull(c) {
        try {
          reader ??= open();
          const { done, value } = await reader.read();
          if (done) c.close();
          else c.enqueue(value);
        } catch (e) {
          c.error(why(e));
        }
      },
    });
  }
  blobFile(digest: string): string | undefined {
    return this.inner.blobFile(digest);
  }
}
