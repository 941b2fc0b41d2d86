/**
 * The app image as one tar file (`-oci-archive FILE`, `-docker-archive FILE`): an OCI image layout in a tar, or
 * `docker save`'s format (manifest.json, repositories, config and layer blobs). New blobs wait in a temporary
 * directory beside the file; blobs of the run and previous images are streamed from where they are (verified
 * against their digests) when the archive is written, to a temporary name then renamed: a failed export leaves no
 * archive, or the earlier one intact. The archive is always complete: a layer whose bytes cannot be had is an error.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { type BuildUser, canWrite, mkdirOwned } from "../buildpack/privileges.ts";
import { commitTemp, fillTempAsync, tempPathFor, writeAll } from "../fsutil/atomic.ts";
import type { Logger } from "../ground/log.ts";
import type { ArchiveMember } from "./archive-tar.ts";
import { writeArchive } from "./archive-tar.ts";
import type { Image, ImageLayer } from "./image.ts";
import type { LinkResult } from "./layout-write.ts";
import { parseReference } from "./reference.ts";
import type { ImageSink, ImageTarget } from "./store.ts";
import { GatheringSink } from "./gathering-sink.ts";
import { type Descriptor, MediaType } from "./types.ts";

/** The two archive formats. */
export type ArchiveFormat = "oci" | "docker";

/** Raised when an archive cannot be complete: a layer's bytes are nowhere to be read. */
export class IncompleteArchiveError extends Error {
  constructor(file: string, from: Image, layer: ImageLayer) {
    super(
      `cannot write a complete archive ${file}: layer ${layer.digest} of ${from.name} is not on disk (a sparse image) and no registry supplied it; ` +
        "name the run image as docker://<reference> to read its blobs from its registry, or make its layout complete",
    );
    this.name = "IncompleteArchiveError";
  }
}

/** The names an archive records for an image name: as written with a tag, and fully qualified (for containerd). */
export function archiveNames(name: string): { tag: string; full: string } | undefined {
  const r = parseReference(name);
  if (!r.tag) return undefined; // a digest reference names no tag
  const host = r.registry === "index.docker.io" ? "docker.io" : r.registry;
  return { tag: `${r.written}:${r.tag}`, full: `${host}/${r.repository}:${r.tag}` };
}

/** An archive file as the target of an export. */
export class ArchiveTarget implements ImageTarget {
  constructor(readonly file: string, readonly format: ArchiveFormat) {}

  get description(): string {
    return `${this.format === "oci" ? "an OCI" : "a Docker"} archive at ${this.file}`;
  }

  sink(refs: string[], log?: Logger): ImageSink {
    return new ArchiveSink(this.file, this.format, refs, log);
  }

  /** Creates the archive's directory for the build user when missing; refuses one the build user cannot write. */
  async prepareOutput(_refs: string[], user: BuildUser): Promise<void> {
    const dir = path.dirname(path.resolve(this.file));
    mkdirOwned(dir, user);
    if (!canWrite(user, fs.statSync(dir))) {
      throw new Error(`cannot write the archive ${this.file}: its directory ${dir} is not writable by the build user ${user.uid}:${user.gid}`);
    }
  }

  async collectGarbage(_saved: unknown, _minAgeMs: number, log: Logger): Promise<void> {
    log.warn(`-oci-gc applies to OCI layouts only; the image went to ${this.description}, so nothing was collected`);
  }
}

/** Gathers one image's blobs and writes the archive at save. */
class ArchiveSink extends GatheringSink {
  constructor(private readonly file: string, private readonly format: ArchiveFormat, names: string[], private readonly log?: Logger) {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    super(names, path.join(path.dirname(path.resolve(file)), ".tmp-archive-"));
  }

  async reuseBlob(from: Image, layer: ImageLayer): Promise<LinkResult | "missing"> {
    if (this.blobs.has(layer.digest)) return "present";
    if (!layer.present) throw new IncompleteArchiveError(this.file, from, layer);
    this.blobs.set(layer.digest, { from, layer });
    return "copy";
  }

  async save(manifestDesc: Descriptor): Promise<{ name: string; location: string }[]> {
    const manifest = JSON.parse(new TextDecoder().decode(this.smallBlob(manifestDesc.digest, "manifest"))) as { config: Descriptor; layers: Descriptor[] };
    const names = this.names.map((n) => ({ n, a: archiveNames(n) })).filter((x) => x.a !== undefined) as { n: string; a: { tag: string; full: string } }[];
    const members: ArchiveMember[] = [];
    const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
    const blobName = (d: string) => `blobs/sha256/${d.slice("sha256:".length)}`;
    if (this.format === "oci") {
      members.push({ name: "oci-layout", bytes: enc({ imageLayoutVersion: "1.0.0" }) });
      const entries = (names.length ? names : [undefined]).map((x) =>
        x ? { ...manifestDesc, annotations: { "io.containerd.image.name": x.a.full, "org.opencontainers.image.ref.name": x.a.tag } } : manifestDesc
      );
      members.push({ name: "index.json", bytes: enc({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: entries }) });
    } else {
      members.push({
        name: "manifest.json",
        bytes: enc([{ Config: blobName(manifest.config.digest), RepoTags: names.map((x) => x.a.tag), Layers: manifest.layers.map((l) => blobName(l.digest)) }]),
      });
      const repositories: Record<string, Record<string, string>> = {};
      const top = manifest.layers.at(-1)?.digest.slice(7) ?? "";
      for (const { a } of names) {
        const at = a.tag.lastIndexOf(":");
        (repositories[a.tag.slice(0, at)] ??= {})[a.tag.slice(at + 1)] = top;
      }
      members.push({ name: "repositories", bytes: enc(repositories) });
    }
    members.push({ name: "blobs", dir: true }, { name: "blobs/sha256", dir: true });
    const seen = new Set<string>();
    const add = (d: Descriptor) => {
      if (seen.has(d.digest)) return;
      seen.add(d.digest);
      const small = this.small.get(d.digest);
      if (small) return members.push({ name: blobName(d.digest), bytes: small });
      const src = this.blobs.get(d.digest);
      if (!src) throw new Error(`blob ${d.digest} of the image was never written to the archive's sink`);
      if ("file" in src) return members.push({ name: blobName(d.digest), file: src.file, size: fs.statSync(src.file).size });
      members.push({ name: blobName(d.digest), size: src.layer.size, stream: () => src.from.openBlob(d.digest) });
    };
    if (this.format === "oci") add(manifestDesc);
    add(manifest.config);
    for (const l of manifest.layers) add(l);

    const tmp = tempPathFor(this.file);
    try {
      await fillTempAsync(tmp, (fd) => writeArchive(members, async (chunk) => writeAll(fd, chunk)).then(() => undefined), 0o644, this.file);
      commitTemp(tmp, this.file);
    } finally {
      this.discard();
    }
    this.log?.debug(`Wrote ${this.format === "oci" ? "OCI" : "Docker"} archive ${this.file}`);
    return (names.length ? names.map((x) => x.n) : this.names.slice(0, 1)).map((n) => ({ name: n, location: this.file }));
  }
}
