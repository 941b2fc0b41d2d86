/**
 * Reading OCI image layouts: the `oci-layout` header, `index.json`, blobs verified against their digests, and the
 * selection of one image by ref.name, digest and platform through nested indexes and Docker manifest lists.
 * Nothing here writes to disk.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { sha256 } from "../hash/sha256.ts";
import type { Image, ImageLayer } from "./image.ts";
import { checkConfig, checkIndex as checkIndexShape, checkManifest, ImageFormatError, kindOf as jsonKind } from "./validate.ts";
import { type Descriptor, type ImageConfig, type Index, isIndexType, isManifestType, type Manifest, MediaType, type Platform, REF_NAME } from "./types.ts";

/** An error about a layout; its message names the layout directory and the file or digest at fault. */
export class LayoutError extends Error {
  constructor(readonly layout: string, message: string) {
    super(message);
    this.name = "LayoutError";
  }
}

/** A layout that exists but holds no image of that name (or no image at all): the image is not there. */
export class NoSuchImageError extends LayoutError {
  constructor(layout: string, message: string) {
    super(layout, message);
    this.name = "NoSuchImageError";
  }
}

/** The only layout version this reader knows. */
export const LAYOUT_VERSION = "1.0.0";
const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
const MAX_JSON_BLOB = 8 * 1024 * 1024;
const MAX_INDEX_DEPTH = 16;

/** How to choose one image from a layout. */
export interface Selector {
  /** The `org.opencontainers.image.ref.name` to look for (a tag). */
  refName?: string;
  /** A manifest or index digest. */
  digest?: string;
  /** The platform wanted when an index offers several; defaults to the host's. */
  platform?: Partial<Platform>;
}

/** The host's platform in OCI terms. */
export function hostPlatform(): Platform {
  const archMap: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };
  return { os: process.platform === "win32" ? "windows" : process.platform, architecture: archMap[process.arch] ?? process.arch };
}

/** A layout directory opened for reading. */
export class Layout {
  private constructor(readonly dir: string) {}

  /** Whether `dir` looks like a layout (has an `oci-layout` file). */
  static exists(dir: string): boolean {
    return fs.existsSync(path.join(dir, "oci-layout"));
  }

  /** Opens a layout, checking its `oci-layout` header. */
  static open(dir: string): Layout {
    const abs = path.resolve(dir);
    const header = path.join(abs, "oci-layout");
    let text: string;
    try {
      text = fs.readFileSync(header, "utf8");
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" && !fs.existsSync(abs)) throw new LayoutError(abs, `no image layout at ${abs}: the directory does not exist`);
      if (code === "ENOENT") throw new LayoutError(abs, `${abs} is not an OCI image layout: ${header} is missing`);
      throw new LayoutError(abs, `cannot read ${header}: ${(e as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new LayoutError(abs, `${header} is not valid JSON: ${(e as Error).message}`);
    }
    const version = (parsed as { imageLayoutVersion?: unknown })?.imageLayoutVersion;
    if (typeof version !== "string") throw new LayoutError(abs, `${header} has no imageLayoutVersion`);
    if (version.split(".")[0] !== LAYOUT_VERSION.split(".")[0]) {
      throw new LayoutError(abs, `${header}: unsupported image layout version "${version}" (this lifecycle reads ${LAYOUT_VERSION})`);
    }
    return new Layout(abs);
  }

  /** The path of a blob (whether or not it exists). */
  blobPath(digest: string): string {
    const [alg, hex] = splitDigest(this.dir, digest);
    return path.join(this.dir, "blobs", alg, hex);
  }

  /** Whether a blob's file exists. */
  hasBlob(digest: string): boolean {
    return fs.existsSync(this.blobPath(digest));
  }

  /** Reads and parses `index.json` (`"manifests": null` counts as empty). */
  index(): Index {
    const file = path.join(this.dir, "index.json");
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (e) {
      // A layout whose writer stopped before its first index.json holds no image yet.
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return { schemaVersion: 2, manifests: [] };
      throw new LayoutError(this.dir, `cannot read ${file}: ${(e as Error).message}`);
    }
    const idx = parseJson<Index>(this.dir, text, file);
    checkIndex(this.dir, idx, file);
    return idx;
  }

  /** The top-level entries of `index.json`. */
  entries(): Descriptor[] {
    return this.index().manifests ?? [];
  }

  /** Reads a whole blob, checking its size and digest against the descriptor. */
  async readBlob(desc: Pick<Descriptor, "digest" | "size">, what = "blob"): Promise<Uint8Array> {
    const file = this.blobPath(desc.digest);
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch {
      throw new LayoutError(this.dir, `${what} ${desc.digest} is missing from ${this.dir} (expected at ${file})`);
    }
    if (typeof desc.size === "number" && st.size !== desc.size) {
      const kind = st.size < desc.size ? "truncated" : "larger than its descriptor says";
      throw new LayoutError(this.dir, `${what} ${desc.digest} in ${this.dir} is ${kind}: the descriptor says ${desc.size} bytes, ${file} has ${st.size}`);
    }
    if (st.size > MAX_JSON_BLOB) throw new LayoutError(this.dir, `${what} ${desc.digest} in ${this.dir} is too large to be a JSON document (${st.size} bytes)`);
    const data = new Uint8Array(fs.readFileSync(file));
    const h = await sha256();
    h.update(data);
    const actual = `sha256:${h.hex()}`;
    if (actual !== desc.digest) {
      throw new LayoutError(this.dir, `${what} ${desc.digest} in ${this.dir} does not match its digest: ${file} hashes to ${actual}`);
    }
    return data;
  }

  /** A stream of a blob that errors at its end if the bytes differ from the digest or size. */
  openBlob(desc: Pick<Descriptor, "digest" | "size">): ReadableStream<Uint8Array> {
    return verifiedFileStream(this.dir, this.blobPath(desc.digest), desc.digest, desc.size);
  }

  /** Finds one image and reads its manifest and config. */
  async image(sel: Selector = {}): Promise<LayoutImage> {
    const chosen = await this.select(sel);
    return LayoutImage.load(this, chosen);
  }

  /** Resolves a selector to the descriptor of one image manifest. */
  async select(sel: Selector = {}): Promise<Descriptor> {
    let entries = this.entries();
    if (entries.length === 0) entries = await this.dockerSaveEntries();
    let start: Descriptor[];
    if (sel.digest) {
      start = entries.filter((d) => d.digest === sel.digest);
      if (start.length === 0 && this.hasBlob(sel.digest)) {
        start = [{ mediaType: "", digest: sel.digest, size: fs.statSync(this.blobPath(sel.digest)).size }];
      }
      if (start.length === 0) throw new LayoutError(this.dir, `no image with digest ${sel.digest} in ${this.dir}`);
    } else if (sel.refName !== undefined) {
      start = await this.byRefName(entries, sel.refName);
    } else {
      start = entries;
    }
    const uniq = new Map(start.map((d) => [d.digest, d]));
    if (uniq.size === 0) throw new NoSuchImageError(this.dir, `${path.join(this.dir, "index.json")} lists no images`);
    if (uniq.size > 1) {
      const all = [...uniq.values()];
      const asPlatforms = all.every((d) => d.platform && !d.annotations?.[REF_NAME]);
      if (!asPlatforms) {
        const names = all.map((d) => (d.annotations?.[REF_NAME] ? `${d.annotations[REF_NAME]}@${d.digest}` : d.digest));
        throw new LayoutError(this.dir, `${path.join(this.dir, "index.json")} holds ${all.length} images (${names.join(", ")}); name one with a tag or digest`);
      }
      return this.descend({ schemaVersion: 2, manifests: all }, sel, [path.join(this.dir, "index.json")]);
    }
    const only = [...uniq.values()][0];
    // An explicit platform must fit the only image; empty fields of its platform count as unknown.
    if (sel.platform && only.platform) {
      const known = {
        ...only.platform,
        architecture: only.platform.architecture || (sel.platform.architecture ?? ""),
        os: only.platform.os || (sel.platform.os ?? ""),
      };
      if (!platformMatches(known, sel.platform)) {
        throw new LayoutError(
          this.dir,
          `the image in ${path.join(this.dir, "index.json")} is for ${platformString(only.platform)}, not ${platformString(sel.platform)}`,
        );
      }
    }
    return this.follow(only, sel, [path.join(this.dir, "index.json")]);
  }

  private async byRefName(entries: Descriptor[], name: string): Promise<Descriptor[]> {
    const direct = entries.filter((d) => d.annotations?.[REF_NAME] === name);
    const digests = [...new Set(direct.map((d) => d.digest))];
    if (digests.length > 1) {
      throw new LayoutError(
        this.dir,
        `${path.join(this.dir, "index.json")} has ${digests.length} different manifests with ref.name "${name}": ${digests.join(", ")}`,
      );
    }
    if (direct.length > 0) return direct;
    // The ref.name may be on the manifest itself rather than on its descriptor.
    const found: Descriptor[] = [];
    for (const d of entries) {
      if (!isManifestType(d.mediaType) || !this.hasBlob(d.digest)) continue;
      const m = parseJson<Manifest>(this.dir, new TextDecoder().decode(await this.readBlob(d, "manifest")), this.blobPath(d.digest));
      if (m.annotations?.[REF_NAME] === name) found.push(d);
    }
    if (found.length > 1) {
      throw new LayoutError(
        this.dir,
        `${this.dir} has ${found.length} different manifests annotated with ref.name "${name}": ${found.map((d) => d.digest).join(", ")}`,
      );
    }
    if (found.length === 0) {
      const names = entries.map((d) => d.annotations?.[REF_NAME]).filter((n): n is string => !!n);
      const have = names.length ? `it names ${names.map((n) => `"${n}"`).join(", ")}` : "it names no images";
      throw new NoSuchImageError(this.dir, `no image named "${name}" in ${path.join(this.dir, "index.json")}: ${have}`);
    }
    return found;
  }

  /** Follows a descriptor down to an image manifest, through indexes, detecting loops. */
  private async follow(desc: Descriptor, sel: Selector, trail: string[]): Promise<Descriptor> {
    if (trail.includes(desc.digest)) {
      throw new LayoutError(this.dir, `reference loop in nested indexes of ${this.dir}: ${[...trail.slice(1), desc.digest].join(" -> ")}`);
    }
    if (trail.length > MAX_INDEX_DEPTH) {
      throw new LayoutError(this.dir, `indexes nested deeper than ${MAX_INDEX_DEPTH} in ${this.dir}: ${trail.slice(1).join(" -> ")}`);
    }
    if (desc.mediaType && !isManifestType(desc.mediaType) && !isIndexType(desc.mediaType)) {
      throw new LayoutError(
        this.dir,
        `descriptor ${desc.digest} in ${trail[trail.length - 1]} has media type ${desc.mediaType}, which is neither an image manifest nor an image index`,
      );
    }
    const bytes = await this.readBlob(desc, isIndexType(desc.mediaType) ? "index" : "manifest");
    const doc = parseJson<{ mediaType?: string; manifests?: unknown; config?: unknown } | null>(
      this.dir,
      new TextDecoder().decode(bytes),
      this.blobPath(desc.digest),
    );
    if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
      throw new LayoutError(
        this.dir,
        `${isIndexType(desc.mediaType) ? "index" : "manifest"} ${desc.digest} in ${this.dir} (${this.blobPath(desc.digest)}) must be a JSON object, not ${
          jsonKind(doc as unknown)
        }`,
      );
    }
    // The bytes' own mediaType wins over the descriptor's within a kind (an OCI descriptor pointing at a Docker
    // manifest is common); a manifest described as an index, or the reverse, is an error.
    const ownKind = doc.mediaType ? kindOf(doc.mediaType) : doc.manifests !== undefined ? "index" : doc.config !== undefined ? "manifest" : undefined;
    if (desc.mediaType && ownKind && kindOf(desc.mediaType) !== ownKind) {
      throw new LayoutError(this.dir, `blob ${desc.digest} in ${this.dir} is ${doc.mediaType ?? `an ${ownKind}`} but its descriptor says ${desc.mediaType}`);
    }
    const mt = doc.mediaType || desc.mediaType || (ownKind === "index" ? MediaType.ociIndex : MediaType.ociManifest);
    if (isManifestType(mt)) return { ...desc, mediaType: mt };
    const idx = doc as unknown as Index;
    checkIndex(this.dir, idx, this.blobPath(desc.digest));
    return this.descend(idx, sel, [...trail, desc.digest]);
  }

  private descend(idx: Index, sel: Selector, trail: string[]): Promise<Descriptor> {
    const want = { ...hostPlatform(), ...sel.platform };
    const entries = (idx.manifests ?? []).filter((d) => isManifestType(d.mediaType) || isIndexType(d.mediaType) || !d.mediaType);
    const where = trail.length > 1 ? `index ${trail[trail.length - 1]}` : trail[0];
    if (entries.length === 0) throw new LayoutError(this.dir, `${where} in ${this.dir} lists no images`);
    const exact = entries.filter((d) => d.platform && platformMatches(d.platform, want));
    if (exact.length > 0) return this.follow(exact[0], sel, trail);
    const loose = entries.filter((d) => !d.platform || (d.platform.os === want.os && !d.platform.architecture));
    if (loose.length === 1 && (entries.length === 1 || entries.every((d) => !d.platform))) return this.follow(loose[0], sel, trail);
    if (entries.length === 1 && !entries[0].platform) return this.follow(entries[0], sel, trail);
    const offered = entries.map((d) => (d.platform ? platformString(d.platform) : d.digest)).join(", ");
    throw new LayoutError(this.dir, `${where} in ${this.dir} has no image for ${platformString(want)} (it offers ${offered})`);
  }

  /** Docker ≥ 25 `docker save` output: `index.json` may be empty and `manifest.json` names the images. */
  private async dockerSaveEntries(): Promise<Descriptor[]> {
    const file = path.join(this.dir, "manifest.json");
    if (!fs.existsSync(file)) return [];
    const items = parseJson<{ Config: string; RepoTags: string[] | null }[]>(this.dir, fs.readFileSync(file, "utf8"), file);
    if (!Array.isArray(items)) throw new LayoutError(this.dir, `${file} is not a docker save manifest list`);
    const blobDir = path.join(this.dir, "blobs", "sha256");
    const candidates = fs.existsSync(blobDir) ? fs.readdirSync(blobDir).filter((n) => /^[a-f0-9]{64}$/.test(n)) : [];
    const out: Descriptor[] = [];
    for (const [i, item] of items.entries()) {
      if (item === null || typeof item !== "object" || typeof item.Config !== "string") {
        throw new LayoutError(this.dir, `${file}: entry ${i} has no "Config" string`);
      }
      const configDigest = `sha256:${path.basename(item.Config)}`;
      for (const hex of candidates) {
        const p = path.join(blobDir, hex);
        const st = fs.statSync(p);
        if (st.size > 64 * 1024) continue;
        let doc: Manifest;
        try {
          doc = JSON.parse(fs.readFileSync(p, "utf8"));
        } catch {
          continue;
        }
        if (doc?.config?.digest !== configDigest || !Array.isArray(doc.layers)) continue;
        const tag = Array.isArray(item.RepoTags) && typeof item.RepoTags[0] === "string" ? item.RepoTags[0].split(":").pop() : undefined;
        out.push({
          mediaType: doc.mediaType ?? MediaType.ociManifest,
          digest: `sha256:${hex}`,
          size: st.size,
          ...(tag ? { annotations: { [REF_NAME]: tag } } : {}),
        });
      }
    }
    return out;
  }
}

/** An image read from a layout. */
export class LayoutImage implements Image {
  private constructor(
    readonly layout: Layout,
    readonly manifestDescriptor: Descriptor,
    readonly manifest: Manifest,
    readonly manifestBytes: Uint8Array,
    readonly config: ImageConfig,
    readonly configBytes: Uint8Array,
  ) {}

  /** Reads and verifies the manifest and config behind a manifest descriptor. */
  static async load(layout: Layout, desc: Descriptor): Promise<LayoutImage> {
    const manifestBytes = await layout.readBlob(desc, "manifest");
    const mfile = layout.blobPath(desc.digest);
    const manifest = shaped(
      layout.dir,
      () =>
        checkManifest(parseJson<unknown>(layout.dir, new TextDecoder().decode(manifestBytes), mfile), `manifest ${desc.digest} in ${layout.dir} (${mfile})`),
    );
    for (const d of [manifest.config, ...manifest.layers]) checkDescriptor(layout.dir, d, mfile);
    const configBytes = await layout.readBlob(manifest.config, "config");
    const cfile = layout.blobPath(manifest.config.digest);
    const config = shaped(
      layout.dir,
      () =>
        checkConfig(
          parseJson<unknown>(layout.dir, new TextDecoder().decode(configBytes), cfile),
          `config ${manifest.config.digest} in ${layout.dir} (${cfile})`,
        ),
    );
    const diffIDs = config.rootfs.diff_ids;
    if (diffIDs.length !== manifest.layers.length) {
      throw new LayoutError(
        layout.dir,
        `config ${manifest.config.digest} lists ${diffIDs.length} diff_ids but manifest ${desc.digest} lists ${manifest.layers.length} layers (in ${layout.dir})`,
      );
    }
    return new LayoutImage(layout, desc, manifest, manifestBytes, config, configBytes);
  }

  get name(): string {
    return this.layout.dir;
  }
  get manifestDigest(): string {
    return this.manifestDescriptor.digest;
  }
  get identifier(): string {
    return `${this.layout.dir}@${this.manifestDescriptor.digest}`;
  }

  layers(): ImageLayer[] {
    return this.manifest.layers.map((d, i) => ({
      digest: d.digest,
      diffID: this.config.rootfs.diff_ids[i],
      size: d.size,
      mediaType: d.mediaType,
      descriptor: d,
      present: this.layout.hasBlob(d.digest),
    }));
  }

  labels(): Record<string, string> {
    return { ...(this.config.config?.Labels ?? {}) };
  }

  isComplete(): boolean {
    return this.layers().every((l) => l.present);
  }

  openBlob(digest: string): ReadableStream<Uint8Array> {
    const d = this.manifest.layers.find((l) => l.digest === digest) ?? (this.manifest.config.digest === digest ? this.manifest.config : undefined);
    if (!d) throw new LayoutError(this.layout.dir, `blob ${digest} is not part of image ${this.identifier}`);
    return this.layout.openBlob(d);
  }

  blobFile(digest: string): string | undefined {
    return this.layout.hasBlob(digest) ? this.layout.blobPath(digest) : undefined;
  }
}

function kindOf(mt: string): "manifest" | "index" | undefined {
  return isManifestType(mt) ? "manifest" : isIndexType(mt) ? "index" : undefined;
}

/** `os/arch[/variant]`. */
export function platformString(p: Partial<Platform>): string {
  return [p.os || "?", p.architecture || "?", p.variant].filter(Boolean).join("/");
}

function platformMatches(have: Platform, want: Partial<Platform>): boolean {
  if (want.os && have.os !== want.os) return false;
  if (want.architecture && have.architecture !== want.architecture) return false;
  if (want.variant && have.variant && have.variant !== want.variant) return false;
  return true;
}

function splitDigest(dir: string, digest: string): [string, string] {
  if (typeof digest !== "string" || !DIGEST_RE.test(digest)) {
    if (typeof digest === "string" && /^sha512:[a-f0-9]{128}$/.test(digest)) {
      throw new LayoutError(dir, `blob ${digest} in ${dir} uses sha512, which this lifecycle cannot verify (it reads sha256 blobs only)`);
    }
    throw new LayoutError(dir, `malformed digest "${digest}" in ${dir}`);
  }
  return ["sha256", digest.slice(7)];
}

function parseJson<T>(dir: string, text: string, file: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new LayoutError(dir, `${file} is not valid JSON: ${(e as Error).message}`);
  }
}

/** Runs a shape check, reporting a bad document as a LayoutError of `dir`. */
function shaped<T>(dir: string, check: () => T): T {
  try {
    return check();
  } catch (e) {
    if (e instanceof ImageFormatError) throw new LayoutError(dir, e.message);
    throw e;
  }
}

function checkIndex(dir: string, idx: Index, file: string): void {
  shaped(dir, () => checkIndexShape(idx, file));
  for (const d of idx.manifests ?? []) checkDescriptor(dir, d, file);
}

function checkDescriptor(dir: string, d: Descriptor, file: string): void {
  if (typeof d !== "object" || d === null) throw new LayoutError(dir, `${file} holds a descriptor that is not an object`);
  if (typeof d.digest !== "string" || !(DIGEST_RE.test(d.digest) || /^sha512:[a-f0-9]{128}$/.test(d.digest))) {
    throw new LayoutError(dir, `${file} holds a descriptor with a malformed digest ${JSON.stringify(d.digest)}`);
  }
  if (typeof d.size !== "number" || !Number.isInteger(d.size) || d.size < 0) {
    throw new LayoutError(dir, `${file}: descriptor ${d.digest} has an invalid size ${JSON.stringify(d.size)}`);
  }
}

/** A file stream that checks size and SHA-256 as it goes and errors at the end on a mismatch. */
export function verifiedFileStream(dir: string, file: string, digest: string, size?: number): ReadableStream<Uint8Array> {
  let fd: number | undefined;
  let hasher: Awaited<ReturnType<typeof sha256>>;
  let seen = 0;
  const buf = new Uint8Array(1 << 20);
  return new ReadableStream<Uint8Array>({
    async start() {
      hasher = await sha256();
      try {
        fd = fs.openSync(file, "r");
      } catch {
        throw new LayoutError(dir, `blob ${digest} is missing from ${dir} (expected at ${file})`);
      }
    },
    pull(controller) {
      let n: number;
      try {
        n = fs.readSync(fd as number, buf, 0, buf.length, null);
      } catch (e) {
        fs.closeSync(fd as number);
        fd = undefined;
        throw new LayoutError(dir, `cannot read blob ${digest} at ${file}: ${(e as Error).message}`);
      }
      if (n === 0) {
        fs.closeSync(fd as number);
        fd = undefined;
        if (size !== undefined && seen !== size) {
          controller.error(
            new LayoutError(
              dir,
              `blob ${digest} in ${dir} is ${seen < size ? "truncated" : "larger than its descriptor says"}: expected ${size} bytes, ${file} has ${seen}`,
            ),
          );
          return;
        }
        const actual = `sha256:${hasher.hex()}`;
        if (actual !== digest) {
          controller.error(new LayoutError(dir, `blob ${digest} in ${dir} does not match its digest: ${file} hashes to ${actual}`));
          return;
        }
        controller.close();
        return;
      }
      const chunk = buf.slice(0, n);
      seen += n;
      hasher.update(chunk);
      controller.enqueue(chunk);
    },
    cancel() {
      if (fd !== undefined) fs.closeSync(fd);
    },
  });
}
