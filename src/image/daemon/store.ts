/**
 * Images in a Docker daemon (`-daemon`) behind the same ImageStore interface, through the Engine API: an image is
 * found by `GET /images/{name}/json` (its identifier is the image ID, as the reference's), its layer bytes come
 * from `GET /images/{id}/get` only when a phase needs them, and a new image is loaded with `POST /images/load` as a
 * docker-archive stream. Layers the daemon already holds in the same chain go as empty placeholders (the daemon
 * keeps its own, as it does for the reference); other reused layers come from the launch cache (`-launch-cache`),
 * else from the daemon's copy of the image they belong to.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { discardTemp, makeTempDir, writeAll } from "../../fsutil/atomic.ts";
import type { Logger } from "../../ground/log.ts";
import { sha256 } from "../../hash/sha256.ts";
import { readTar } from "../../layer/tar-reader.ts";
import { type ArchiveMember, writeArchive } from "../archive-tar.ts";
import { archiveNames } from "../archive.ts";
import { ImageNotFoundError } from "../errors.ts";
import type { Image, ImageLayer } from "../image.ts";
import type { LinkResult } from "../layout-write.ts";
import type { ImageSink, ImageStore } from "../store.ts";
import { GatheringSink } from "../gathering-sink.ts";
import { type Descriptor, type ImageConfig, type Manifest, MediaType } from "../types.ts";
import { DaemonConnection, DaemonError } from "./http.ts";

/** What `GET /images/{name}/json` says about an image (the fields used here). */
interface Inspect {
  Id: string;
  RepoTags?: string[] | null;
  Created?: string;
  Architecture?: string;
  Os?: string;
  Variant?: string;
  Author?: string;
  Config?: Record<string, unknown> | null;
  RootFS?: { Type?: string; Layers?: string[] | null };
}

/** Options of the daemon store. */
export interface DaemonStoreOptions {
  /** `-launch-cache`: a directory keeping the layers this lifecycle loaded, by diffID, for the next export. */
  launchCache?: string;
}

/** Images in a Docker daemon. */
export class DaemonStore implements ImageStore {
  /** Where images saved from the daemon wait (removed at exit). */
  readonly tempDirs: string[] = [];

  private constructor(readonly conn: DaemonConnection, readonly opts: DaemonStoreOptions) {}

  /** Connects (before privileges are dropped) and checks that a daemon answers at `host`. */
  static async connect(host: string, opts: DaemonStoreOptions = {}): Promise<DaemonStore> {
    const conn = await DaemonConnection.connect(host);
    const ping = await conn.request("GET", "/_ping");
    await new Response(ping.body).arrayBuffer();
    if (ping.status !== 200) throw new DaemonError(`the Docker daemon at DOCKER_HOST=${host} answered /_ping with ${ping.status}`);
    const store = new DaemonStore(conn, opts);
    process.once("exit", () => {
      for (const d of store.tempDirs) discardTemp(d);
      conn.close();
    });
    return store;
  }

  get description(): string {
    return `the Docker daemon at ${this.conn.host}`;
  }

  async find(ref: string): Promise<Image | undefined> {
    const r = await this.conn.json<Inspect>("GET", `/images/${encodeURIComponent(ref)}/json`, {}, [404]);
    if (r.status === 404 || !r.value) return undefined;
    return new DaemonImage(this, ref, r.value);
  }

  whereIs(ref: string): string {
    return `${ref} in the Docker daemon at DOCKER_HOST=${this.conn.host}`;
  }

  async open(identifier: string): Promise<Image> {
    const img = await this.find(identifier);
    if (!img) throw new ImageNotFoundError(identifier, this.whereIs(identifier), [this.whereIs(identifier)]);
    return img;
  }

  sink(refs: string[], log?: Logger): ImageSink {
    return new DaemonSink(this, refs, log);
  }

  /** Nothing to prepare: the connection is open, and the sink's temporary directory is the build user's own. */
  async prepareOutput(): Promise<void> {}

  async collectGarbage(_saved: unknown, _minAgeMs: number, log: Logger): Promise<void> {
    log.warn("-oci-gc applies to OCI layouts only; the image went to a Docker daemon, so nothing was collected");
  }
}

/** An image in the daemon: its config rebuilt from the inspection; its layers read (once) by saving it. */
export class DaemonImage implements Image {
  readonly manifest: Manifest;
  readonly manifestBytes: Uint8Array;
  readonly manifestDescriptor: Descriptor;
  readonly config: ImageConfig;
  readonly configBytes: Uint8Array;
  private saved?: Promise<Map<string, string>>;

  constructor(private readonly store: DaemonStore, readonly name: string, readonly inspect: Inspect) {
    const diffIDs = inspect.RootFS?.Layers ?? [];
    this.config = {
      architecture: inspect.Architecture ?? "amd64",
      os: inspect.Os ?? "linux",
      ...(inspect.Variant ? { variant: inspect.Variant } : {}),
      ...(inspect.Created ? { created: inspect.Created } : {}),
      ...(inspect.Author ? { author: inspect.Author } : {}),
      config: (inspect.Config ?? {}) as ImageConfig["config"],
      rootfs: { type: "layers", diff_ids: diffIDs },
    };
    this.configBytes = new TextEncoder().encode(JSON.stringify(this.config));
    // The daemon keeps no manifest: this one describes the layers by diffID (their uncompressed bytes).
    this.manifest = {
      schemaVersion: 2,
      mediaType: MediaType.dockerManifest,
      config: { mediaType: MediaType.dockerConfig, digest: inspect.Id, size: this.configBytes.length },
      layers: diffIDs.map((d) => ({ mediaType: MediaType.dockerLayer, digest: d, size: 0 })),
    };
    this.manifestBytes = new TextEncoder().encode(JSON.stringify(this.manifest));
    this.manifestDescriptor = { mediaType: MediaType.dockerManifest, digest: inspect.Id, size: this.manifestBytes.length };
  }

  get identifier(): string {
    return this.inspect.Id;
  }
  get manifestDigest(): string {
    return this.inspect.Id;
  }
  /** The layers' diffIDs, bottom first. */
  get diffIDs(): string[] {
    return this.config.rootfs.diff_ids;
  }
  layers(): ImageLayer[] {
    return this.manifest.layers.map((d) => ({ digest: d.digest, diffID: d.digest, size: 0, mediaType: d.mediaType, descriptor: d, present: true }));
  }
  labels(): Record<string, string> {
    return { ...((this.config.config?.Labels as Record<string, string> | undefined) ?? {}) };
  }
  isComplete(): boolean {
    return true;
  }

  /** A file holding layer `diffID`'s tar, from the daemon's `docker save` of this image (made once, on demand). */
  async layerFile(diffID: string): Promise<string> {
    this.saved ??= saveImage(this.store, this.inspect.Id, this.diffIDs);
    const f = (await this.saved).get(diffID);
    if (!f) throw new DaemonError(`the daemon's copy of ${this.name} (${this.inspect.Id}) has no layer ${diffID}`);
    return f;
  }

  openBlob(digest: string): ReadableStream<Uint8Array> {
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    const file = () => this.layerFile(digest);
    return new ReadableStream<Uint8Array>({
      async start() {
        reader = fileStream(await file()).getReader();
      },
      async pull(c) {
        const { done, value } = await (reader as ReadableStreamDefaultReader<Uint8Array>).read();
        if (done) c.close();
        else c.enqueue(value);
      },
    });
  }
  blobFile(): string | undefined {
    return undefined;
  }
}

function fileStream(file: string): ReadableStream<Uint8Array> {
  let fh: fs.promises.FileHandle | undefined;
  return new ReadableStream<Uint8Array>({
    async start() {
      fh = await fs.promises.open(file, "r");
    },
    async pull(c) {
      const buf = new Uint8Array(1 << 20);
      const { bytesRead } = await (fh as fs.promises.FileHandle).read(buf, 0, buf.length, null);
      if (bytesRead === 0) {
        await fh?.close();
        c.close();
      } else c.enqueue(buf.subarray(0, bytesRead));
    },
    async cancel() {
      await fh?.close();
    },
  });
}

/**
 * Saves image `id` from the daemon into a temporary directory; maps each diffID to its layer file, verifying that
 * the file's bytes hash to it (docker save writes layers uncompressed).
 */
async function saveImage(store: DaemonStore, id: string, diffIDs: string[]): Promise<Map<string, string>> {
  const conn = store.conn;
  const dir = makeTempDir(path.join(os.tmpdir(), "cnb-daemon-save-"));
  store.tempDirs.push(dir);
  const r = await conn.request("GET", `/images/${encodeURIComponent(id)}/get`);
  if (r.status !== 200) {
    const text = new TextDecoder().decode(new Uint8Array(await new Response(r.body).arrayBuffer()));
    throw new DaemonError(`the daemon at DOCKER_HOST=${conn.host} could not save ${id}: ${r.status} ${text.slice(0, 300)}`);
  }
  const files = new Map<string, string>();
  let n = 0;
  let manifestJson = "";
  const links = new Map<string, string>();
  await readTar(r.body as unknown as AsyncIterable<Uint8Array>, (h) => {
    // docker save links a layer that appears twice to its first copy
    if (h.typeflag === "2" || h.typeflag === "1") links.set(h.name, h.typeflag === "2" ? path.posix.join(path.posix.dirname(h.name), h.linkname) : h.linkname);
    if (h.typeflag !== "0") return;
    if (h.name === "manifest.json") {
      const parts: Uint8Array[] = [];
      return { data: (c) => parts.push(c.slice()), end: () => (manifestJson = Buffer.concat(parts).toString("utf8")) };
    }
    const file = path.join(dir, `member-${n++}`);
    files.set(h.name, file);
    const fd = fs.openSync(file, "w");
    return { data: (c) => writeAll(fd, c), end: () => fs.closeSync(fd) };
  });
  let layers: string[];
  try {
    layers = (JSON.parse(manifestJson) as { Layers: string[] }[])[0].Layers;
  } catch {
    throw new DaemonError(`the daemon's docker save of ${id} has no readable manifest.json`);
  }
  const out = new Map<string, string>();
  for (const [i, name] of layers.entries()) {
    const file = files.get(name) ?? files.get(links.get(name) ?? "");
    if (!file || !diffIDs[i]) continue;
    const h = await sha256();
    for await (const c of fileStream(file)) h.update(c);
    if (`sha256:${h.hex()}` !== diffIDs[i]) {
      throw new DaemonError(`layer ${name} of the daemon's docker save of ${id} does not hash to its diffID ${diffIDs[i]}`);
    }
    out.set(diffIDs[i], file);
  }
  return out;
}

/** Gathers one image and loads it into the daemon at save. */
class DaemonSink extends GatheringSink {
  /** The layer chains (diffIDs, bottom first) of images the daemon holds that layers were reused from. */
  private chains: string[][] = [];
  private loadedID?: string;

  constructor(private readonly store: DaemonStore, names: string[], private readonly log?: Logger) {
    super(names, path.join(os.tmpdir(), "cnb-daemon-export-"));
  }

  async reuseBlob(from: Image, layer: ImageLayer): Promise<LinkResult | "missing"> {
    if (from instanceof DaemonImage && !this.chains.includes(from.diffIDs)) this.chains.push(from.diffIDs);
    if (this.blobs.has(layer.digest)) return "present";
    this.blobs.set(layer.digest, { from, layer });
    return from instanceof DaemonImage ? "present" : "copy";
  }
  imageID(): string | undefined {
    return this.loadedID;
  }

  /** Whether the daemon holds the layers 0..i of `diffIDs` as one chain (so layer i need not be sent). */
  private inDaemon(diffIDs: string[], i: number): boolean {
    return this.chains.some((c) => c.length > i && diffIDs.slice(0, i + 1).every((d, j) => c[j] === d));
  }

  private launchCacheFile(diffID: string): string | undefined {
    const dir = this.store.opts.launchCache;
    return dir ? path.join(dir, "layers", diffID.replace(":", "-")) : undefined;
  }

  async save(manifestDesc: Descriptor): Promise<{ name: string; location: string }[]> {
    try {
      const manifest = JSON.parse(new TextDecoder().decode(this.smallBlob(manifestDesc.digest, "manifest"))) as Manifest;
      const configBytes = this.smallBlob(manifest.config.digest, "config");
      const diffIDs = (JSON.parse(new TextDecoder().decode(configBytes)) as ImageConfig).rootfs.diff_ids;
      const tags = this.names.map((n) => archiveNames(n)?.tag).filter((t): t is string => t !== undefined);

      const members: ArchiveMember[] = [];
      const layerNames: string[] = [];
      const cached = new Map<string, string>(); // diffID → new layer file, for the launch cache
      const count = { placeholders: 0, launchCache: 0, daemon: 0 };
      for (const [i, l] of manifest.layers.entries()) {
        const name = `blobs/sha256/${l.digest.slice(7)}`;
        layerNames.push(name);
        if (members.some((m) => m.name === name)) continue;
        const src = this.blobs.get(l.digest);
        if (!src) throw new Error(`layer ${l.digest} was never written to this sink`);
        const launchFile = this.launchCacheFile(diffIDs[i]);
        if (this.inDaemon(diffIDs, i)) {
          members.push({ name, bytes: new Uint8Array(0) });
          count.placeholders++;
        } else if ("file" in src) {
          members.push({ name, file: src.file, size: fs.statSync(src.file).size });
          cached.set(diffIDs[i], src.file);
        } else if (launchFile && fs.existsSync(launchFile)) {
          members.push({ name, file: launchFile, size: fs.statSync(launchFile).size });
          cached.set(diffIDs[i], launchFile);
          count.launchCache++;
        } else if (src.from instanceof DaemonImage) {
          const file = await src.from.layerFile(diffIDs[i]);
          members.push({ name, file, size: fs.statSync(file).size });
          cached.set(diffIDs[i], file);
          count.daemon++;
        } else {
          members.push({ name, size: src.layer.size, stream: () => src.from.openBlob(l.digest) });
        }
      }
      const configName = `blobs/sha256/${manifest.config.digest.slice(7)}`;
      members.unshift(
        { name: "manifest.json", bytes: new TextEncoder().encode(JSON.stringify([{ Config: configName, RepoTags: tags, Layers: layerNames }])) },
        { name: "blobs", dir: true },
        { name: "blobs/sha256", dir: true },
        { name: configName, bytes: configBytes },
      );
      this.log?.debug(
        `Loading into the daemon: ${layerNames.length} layers, ${count.placeholders} of them already there, ` +
          `${count.launchCache} from the launch cache, ${count.daemon} read back from the daemon`,
      );
      const r = await this.store.conn.request("POST", "/images/load?quiet=1", {
        headers: { "Content-Type": "application/x-tar" },
        body: async (write) => void (await writeArchive(members, write)),
      });
      const text = new TextDecoder().decode(new Uint8Array(await new Response(r.body).arrayBuffer()));
      const failure = loadFailure(r.status, text);
      if (failure) throw new DaemonError(`the Docker daemon at DOCKER_HOST=${this.store.conn.host} did not load the image: ${failure}`);
      this.loadedID = manifest.config.digest;
      const check = await this.store.find(this.loadedID);
      if (!check) throw new DaemonError(`the Docker daemon at DOCKER_HOST=${this.store.conn.host} reports the image loaded but has no image ${this.loadedID}`);
      this.keepInLaunchCache(cached, diffIDs);
      return tags.map((t, i) => ({ name: this.names[i] ?? t, location: this.store.description }));
    } finally {
      this.discard();
    }
  }

  /** Adds the layers sent to the launch cache (by diffID) and drops what the image no longer has. */
  private keepInLaunchCache(layers: Map<string, string>, diffIDs: string[]): void {
    const dir = this.store.opts.launchCache;
    if (!dir) return;
    const into = path.join(dir, "layers");
    fs.mkdirSync(into, { recursive: true });
    const keep = new Set(diffIDs.map((d) => d.replace(":", "-")));
    for (const [diffID, file] of layers) {
      const dest = path.join(into, diffID.replace(":", "-"));
      if (dest === file || fs.existsSync(dest)) continue;
      const tmp = `${dest}.tmp-${process.pid}`;
      try {
        fs.linkSync(file, tmp);
      } catch {
        fs.copyFileSync(file, tmp);
      }
      fs.renameSync(tmp, dest);
    }
    for (const f of fs.readdirSync(into)) if (!keep.has(f) && !f.includes(".tmp-")) fs.rmSync(path.join(into, f), { force: true });
  }
}

/** The error in a `POST /images/load` answer (a status, or an `error` line in its JSON stream), if any. */
function loadFailure(status: number, text: string): string | undefined {
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      const v = JSON.parse(line) as { error?: string; errorDetail?: { message?: string }; message?: string; cause?: string };
      if (v.error || v.errorDetail) return v.errorDetail?.message ?? v.error;
      if (status >= 300 && (v.message || v.cause)) return v.message ?? v.cause;
    } catch {
      // a line that is not JSON
    }
  }
  return status >= 300 ? `${status} ${text.slice(0, 300)}` : undefined;
}
