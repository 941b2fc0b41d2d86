/**
 * Images in OCI registries behind the same ImageStore interface as layouts, so the phases run unchanged: the
 * reference lifecycle's default target (no `-oci`/`-layout`, no `-daemon`).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { sha256 } from "../../hash/sha256.ts";
import { discardTemp, makeTempDir, writeAll } from "../../fsutil/atomic.ts";
import type { Logger } from "../../ground/log.ts";
import type { Image, ImageLayer } from "../image.ts";
import { hostPlatform } from "../layout.ts";
import type { LinkResult } from "../layout-write.ts";
import { parseReference, type Reference } from "../reference.ts";
import type { ImageSink, ImageStore } from "../store.ts";
import { type Descriptor, type ImageConfig, isIndexType, type Manifest, MediaType } from "../types.ts";
import { ImageNotFoundError } from "../errors.ts";
import { checkConfig, checkIndex, checkManifest, ImageFormatError, kindOf } from "../validate.ts";
import { RegistryClient, RegistryError, type RegistryOptions } from "./client.ts";

const ACCEPT = [MediaType.ociManifest, MediaType.dockerManifest, MediaType.ociIndex, MediaType.dockerManifestList];

/** Parses a JSON document from a registry as an object; `what` names it in errors. */
function parseDocument(bytes: Uint8Array, what: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new ImageFormatError(`${what} is not valid JSON: ${(e as Error).message}`);
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) throw new ImageFormatError(`${what} must be a JSON object, not ${kindOf(doc)}`);
  return doc as Record<string, unknown>;
}

async function digestOf(bytes: Uint8Array): Promise<string> {
  const h = await sha256();
  h.update(bytes);
  return `sha256:${h.hex()}`;
}

/** An image read from a registry. */
export class RegistryImage implements Image {
  constructor(
    readonly client: RegistryClient,
    readonly ref: Reference,
    readonly manifestDescriptor: Descriptor,
    readonly manifest: Manifest,
    readonly manifestBytes: Uint8Array,
    readonly config: ImageConfig,
    readonly configBytes: Uint8Array,
  ) {}

  get name(): string {
    return `${this.ref.registry}/${this.ref.repository}`;
  }
  get manifestDigest(): string {
    return this.manifestDescriptor.digest;
  }
  get identifier(): string {
    return `${this.ref.registry}/${this.ref.repository}@${this.manifestDescriptor.digest}`;
  }
  layers(): ImageLayer[] {
    return this.manifest.layers.map((d, i) => ({
      digest: d.digest,
      diffID: this.config.rootfs.diff_ids[i],
      size: d.size,
      mediaType: d.mediaType,
      descriptor: d,
      present: true,
    }));
  }
  labels(): Record<string, string> {
    return { ...(this.config.config?.Labels ?? {}) };
  }
  isComplete(): boolean {
    return true;
  }
  openBlob(digest: string): ReadableStream<Uint8Array> {
    return verifiedBlob(this.client, this.ref.repository, digest);
  }
  blobFile(): string | undefined {
    return undefined;
  }
}

/** A blob of `repo` as a stream that errors at its end when the bytes do not hash to `digest`. */
function verifiedBlob(client: RegistryClient, repo: string, digest: string): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let hasher: Awaited<ReturnType<typeof sha256>>;
  return new ReadableStream<Uint8Array>({
    async start() {
      hasher = await sha256();
      reader = (await client.blob(repo, digest)).getReader();
    },
    async pull(c) {
      const { done, value } = await (reader as ReadableStreamDefaultReader<Uint8Array>).read();
      if (done) {
        const actual = `sha256:${hasher.hex()}`;
        if (actual !== digest) c.error(new RegistryError(0, `blob ${digest} from ${client.registry}/${repo} hashes to ${actual}`));
        else c.close();
        return;
      }
      hasher.update(value);
      c.enqueue(value);
    },
  });
}

/** Images in registries. */
export class RegistryStore implements ImageStore {
  private clients = new Map<string, RegistryClient>();
  constructor(readonly opts: RegistryOptions = {}) {}

  get description(): string {
    return "registries";
  }

  /** The client of a registry host. */
  client(registry: string): RegistryClient {
    let c = this.clients.get(registry);
    if (!c) {
      c = new RegistryClient(registry, this.opts);
      this.clients.set(registry, c);
    }
    return c;
  }

  whereIs(ref: string): string {
    const r = parseReference(ref);
    return `${r.registry}/${r.repository}${r.digest ? `@${r.digest}` : `:${r.tag}`}`;
  }

  async find(ref: string): Promise<Image | undefined> {
    const r = parseReference(ref);
    const c = this.client(r.registry);
    const where = this.whereIs(ref);
    let got = await c.getManifest(r.repository, r.digest ?? (r.tag as string), ACCEPT);
    if (!got) return undefined;
    let desc: Descriptor = { mediaType: got.mediaType, digest: got.digest ?? (await digestOf(got.bytes)), size: got.bytes.length };
    let doc = parseDocument(got.bytes, `the manifest of ${where}`);
    for (
      let depth = 0;
      isIndexType(got.mediaType) || isIndexType(doc.mediaType as string | undefined) || (doc.manifests !== undefined && doc.config === undefined);
      depth++
    ) {
      if (depth > 8) throw new RegistryError(0, `indexes nested too deep at ${ref}`);
      const idx = checkIndex(doc, `the index of ${where} (${desc.digest})`);
      const want = hostPlatform();
      const entries = idx.manifests ?? [];
      const pick = entries.find((d) => d.platform?.os === want.os && d.platform?.architecture === want.architecture) ??
        (entries.length === 1 ? entries[0] : undefined);
      if (!pick) throw new RegistryError(0, `${ref} has no image for ${want.os}/${want.architecture}`);
      got = await c.getManifest(r.repository, pick.digest, ACCEPT);
      if (!got) throw new RegistryError(404, `${ref} lists manifest ${pick.digest}, which the registry does not have`);
      desc = { mediaType: got.mediaType || pick.mediaType, digest: pick.digest, size: got.bytes.length };
      doc = parseDocument(got.bytes, `manifest ${pick.digest} of ${where}`);
    }
    if ((await digestOf(got.bytes)) !== desc.digest) throw new RegistryError(0, `manifest of ${ref} does not match its digest ${desc.digest}`);
    const manifest = checkManifest(doc, `manifest ${desc.digest} of ${where}`);
    const cfgStream = await c.blob(r.repository, manifest.config.digest);
    const configBytes = new Uint8Array(await new Response(cfgStream).arrayBuffer());
    if ((await digestOf(configBytes)) !== manifest.config.digest) {
      throw new RegistryError(0, `config of ${ref} does not match its digest ${manifest.config.digest}`);
    }
    const config = checkConfig(parseDocument(configBytes, `config ${manifest.config.digest} of ${where}`), `config ${manifest.config.digest} of ${where}`);
    if (config.rootfs.diff_ids.length !== manifest.layers.length) {
      throw new ImageFormatError(
        `config ${manifest.config.digest} of ${where} lists ${config.rootfs.diff_ids.length} diff_ids but its manifest lists ${manifest.layers.length} layers`,
      );
    }
    return new RegistryImage(c, r, desc, manifest, got.bytes, config, configBytes);
  }

  async open(identifier: string): Promise<Image> {
    const img = await this.find(identifier);
    if (!img) throw new ImageNotFoundError(identifier, this.whereIs(identifier), [this.whereIs(identifier)]);
    return img;
  }

  sink(refs: string[]): ImageSink {
    return new RegistrySink(this, refs);
  }

  /** Garbage collection is the registry's own business: nothing to do here. */
  async collectGarbage(_saved: unknown, _minAgeMs: number, log: Logger): Promise<void> {
    log.warn("-oci-gc applies to OCI layouts only; the image went to a registry, so nothing was collected");
  }

  /** Deletes the manifest `<registry>/<repository>@<digest>`. */
  async deleteImage(identifier: string): Promise<void> {
    const r = parseReference(identifier);
    if (!r.digest) throw new RegistryError(0, `cannot delete ${identifier}: not a digest reference`);
    await this.client(r.registry).deleteManifest(r.repository, r.digest);
  }

  /** A blob of the repository `ref` names, by digest (verified as it is read): the bytes a sparse layout lacks. */
  openBlob(ref: string, digest: string): ReadableStream<Uint8Array> {
    const r = parseReference(ref);
    return verifiedBlob(this.client(r.registry), r.repository, digest);
  }

  /** Nothing to prepare: a registry sink writes only a temporary directory of its own. */
  async prepareOutput(): Promise<void> {}
}

/** Writes one image to a registry repository under one or more tags (all in the first name's repository). */
class RegistrySink implements ImageSink {
  private readonly ref: Reference;
  private readonly client: RegistryClient;
  private readonly tmpDir: string;
  private small = new Map<string, { bytes: Uint8Array; mediaType: string }>();
  private known = new Set<string>();

  constructor(private readonly store: RegistryStore, readonly names: string[]) {
    if (names.length === 0) throw new Error("no image name to export to");
    this.ref = parseReference(names[0]);
    for (const n of names.slice(1)) {
      const r = parseReference(n);
      if (r.registry !== this.ref.registry || r.repository !== this.ref.repository) {
        throw new RegistryError(0, `all tags must be in one repository: ${n} is not in ${this.ref.registry}/${this.ref.repository}`);
      }
    }
    this.client = store.client(this.ref.registry);
    this.tmpDir = makeTempDir(path.join(os.tmpdir(), "cnb-export-"));
  }

  tempBlobPath(): string {
    return path.join(this.tmpDir, `blob-${Math.random().toString(16).slice(2)}`);
  }
  async commitBlob(tmp: string, digest: string): Promise<void> {
    try {
      await this.client.upload(this.ref.repository, digest, { file: tmp });
      this.known.add(digest);
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }
  hasBlob(digest: string): boolean {
    return this.known.has(digest);
  }
  async reuseBlob(from: Image, layer: ImageLayer): Promise<LinkResult | "missing"> {
    if (this.known.has(layer.digest) || (await this.client.hasBlob(this.ref.repository, layer.digest))) {
      this.known.add(layer.digest);
      return "present";
    }
    if (
      from instanceof RegistryImage && from.ref.registry === this.ref.registry &&
      (await this.client.mount(this.ref.repository, layer.digest, from.ref.repository))
    ) {
      this.known.add(layer.digest);
      return "hardlink";
    }
    // Another registry (or a layout): stream it through a temporary file.
    const tmp = this.tempBlobPath();
    const fd = fs.openSync(tmp, "w");
    try {
      const r = from.openBlob(layer.digest).getReader();
      for (;;) {
        const { done, value } = await r.read();
        if (done) break;
        writeAll(fd, value);
      }
    } finally {
      fs.closeSync(fd);
    }
    await this.commitBlob(tmp, layer.digest);
    return "copy";
  }
  async linkFile(src: string, digest: string): Promise<LinkResult> {
    await this.client.upload(this.ref.repository, digest, { file: src });
    this.known.add(digest);
    return "copy";
  }
  async writeBlob(data: Uint8Array, mediaType: string): Promise<Descriptor> {
    const digest = await digestOf(data);
    if (mediaType === MediaType.ociManifest || mediaType === MediaType.dockerManifest || isIndexType(mediaType)) {
      this.small.set(digest, { bytes: data, mediaType });
    } else {
      await this.client.upload(this.ref.repository, digest, data);
      this.known.add(digest);
    }
    return { mediaType, digest, size: data.length };
  }
  async save(manifest: Descriptor): Promise<{ name: string; location: string }[]> {
    const m = this.small.get(manifest.digest);
    if (!m) throw new Error(`manifest ${manifest.digest} was not written to this sink`);
    const saved: { name: string; location: string }[] = [];
    for (const n of this.names) {
      const r = parseReference(n);
      await this.client.putManifest(r.repository, r.tag ?? manifest.digest, m.bytes, m.mediaType);
      saved.push({ name: n, location: `${r.registry}/${r.repository}` });
    }
    discardTemp(this.tmpDir);
    return saved;
  }
  blobFile(): string | undefined {
    return undefined;
  }
}
