/**
 * The shape of image documents read from outside (layouts, registries), checked where they come in: an index, a
 * manifest or a config that is not what the image-spec says is refused with an error that names the document and
 * the field, before any phase looks inside it. The checks follow the image-spec's JSON schemas for the fields the
 * lifecycle reads or copies into the images it writes.
 */
import type { Descriptor, ImageConfig, Index, Manifest } from "./types.ts";

/** A document that is not a valid image index, manifest or config; the message names it and the field. */
export class ImageFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ImageFormatError";
  }
}

const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const SHA256 = /^sha256:[a-f0-9]{64}$/;
const SHA512 = /^sha512:[a-f0-9]{128}$/;

type Json = Record<string, unknown>;

/** What a JSON value is, for messages: `a string`, `an array`, `null`. */
export function kindOf(v: unknown): string {
  if (v === undefined) return "missing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  return `a ${typeof v}`;
}

class Checker {
  constructor(private readonly where: string) {}

  fail(field: string, problem: string): never {
    throw new ImageFormatError(`${this.where}: ${field ? `"${field}" ` : ""}${problem}`);
  }

  object(v: unknown, field: string): Json {
    if (v === null || typeof v !== "object" || Array.isArray(v)) this.fail(field, `must be a JSON object, not ${kindOf(v)}`);
    return v as Json;
  }

  optString(o: Json, key: string, field = key): void {
    if (o[key] !== undefined && typeof o[key] !== "string") this.fail(field, `must be a string, not ${kindOf(o[key])}`);
  }

  stringArray(v: unknown, field: string, nullable = false): void {
    if (v === undefined || (nullable && v === null)) return;
    if (!Array.isArray(v)) this.fail(field, `must be an array of strings, not ${kindOf(v)}`);
    (v as unknown[]).forEach((x, i) => typeof x !== "string" && this.fail(`${field}[${i}]`, `must be a string, not ${kindOf(x)}`));
  }

  stringMap(v: unknown, field: string, nullable = false): void {
    if (v === undefined || (nullable && v === null)) return;
    const o = this.object(v, field);
    for (const [k, x] of Object.entries(o)) if (typeof x !== "string") this.fail(`${field}.${k}`, `must be a string, not ${kindOf(x)}`);
  }

  objectMap(v: unknown, field: string): void {
    if (v === undefined || v === null) return;
    const o = this.object(v, field);
    for (const [k, x] of Object.entries(o)) this.object(x, `${field}.${k}`);
  }

  digest(v: unknown, field: string): void {
    if (typeof v !== "string") this.fail(field, `must be a digest string, not ${kindOf(v)}`);
    const d = v as string;
    if (!DIGEST.test(d) || (d.startsWith("sha256:") && !SHA256.test(d)) || (d.startsWith("sha512:") && !SHA512.test(d))) {
      this.fail(field, `is not a valid digest: ${JSON.stringify(d)}`);
    }
  }

  descriptor(v: unknown, field: string): void {
    const d = this.object(v, field);
    if (typeof d.mediaType !== "string") this.fail(`${field}.mediaType`, `must be a string, not ${kindOf(d.mediaType)}`);
    this.digest(d.digest, `${field}.digest`);
    if (typeof d.size !== "number" || !Number.isSafeInteger(d.size) || d.size < 0) {
      this.fail(`${field}.size`, `must be a non-negative integer, not ${JSON.stringify(d.size)}`);
    }
    this.stringArray(d.urls, `${field}.urls`);
    this.stringMap(d.annotations, `${field}.annotations`);
    if (d.platform !== undefined) this.platform(d.platform, `${field}.platform`);
  }

  platform(v: unknown, field: string): void {
    const p = this.object(v, field);
    for (const k of ["architecture", "os", "os.version", "variant"]) this.optString(p, k, `${field}.${k}`);
    this.stringArray(p["os.features"], `${field}.os.features`);
    this.stringArray(p.features, `${field}.features`);
  }
}

/**
 * Checks an image index or Docker manifest list (`"manifests": null` is allowed: docker save writes it).
 *
 * @example checkIndex(JSON.parse(text), "/oci/app/index.json")
 */
export function checkIndex(doc: unknown, where: string): Index {
  const c = new Checker(where);
  const o = c.object(doc, "");
  if (o.schemaVersion !== 2) c.fail("schemaVersion", `must be 2, not ${JSON.stringify(o.schemaVersion)}`);
  c.optString(o, "mediaType");
  if (o.manifests !== null && o.manifests !== undefined) {
    if (!Array.isArray(o.manifests)) c.fail("manifests", `must be an array, not ${kindOf(o.manifests)}`);
    (o.manifests as unknown[]).forEach((d, i) => c.descriptor(d, `manifests[${i}]`));
  }
  c.stringMap(o.annotations, "annotations");
  return o as unknown as Index;
}

/** Checks an image manifest (OCI or Docker v2 schema 2). */
export function checkManifest(doc: unknown, where: string): Manifest {
  const c = new Checker(where);
  const o = c.object(doc, "");
  if (o.schemaVersion !== 2) c.fail("schemaVersion", `must be 2, not ${JSON.stringify(o.schemaVersion)}`);
  c.optString(o, "mediaType");
  c.descriptor(o.config, "config");
  if (!Array.isArray(o.layers)) c.fail("layers", `must be an array, not ${kindOf(o.layers)}`);
  (o.layers as unknown[]).forEach((d, i) => c.descriptor(d, `layers[${i}]`));
  c.stringMap(o.annotations, "annotations");
  if (o.subject !== undefined) c.descriptor(o.subject, "subject");
  return o as unknown as Manifest;
}

/** Checks an image config: platform fields, the container config the lifecycle copies, rootfs and history. */
export function checkConfig(doc: unknown, where: string): ImageConfig {
  const c = new Checker(where);
  const o = c.object(doc, "");
  for (const k of ["created", "author", "architecture", "os", "os.version", "variant"]) c.optString(o, k);
  c.stringArray(o["os.features"], "os.features");
  if (o.config !== undefined && o.config !== null) {
    const cc = c.object(o.config, "config");
    for (const k of ["User", "WorkingDir", "StopSignal"]) c.optString(cc, k, `config.${k}`);
    c.stringArray(cc.Env, "config.Env", true);
    c.stringArray(cc.Entrypoint, "config.Entrypoint", true);
    c.stringArray(cc.Cmd, "config.Cmd", true);
    c.stringMap(cc.Labels, "config.Labels", true);
    c.objectMap(cc.ExposedPorts, "config.ExposedPorts");
    c.objectMap(cc.Volumes, "config.Volumes");
  }
  const rootfs = c.object(o.rootfs, "rootfs");
  if (rootfs.type !== "layers") c.fail("rootfs.type", `must be "layers", not ${JSON.stringify(rootfs.type)}`);
  if (!Array.isArray(rootfs.diff_ids)) c.fail("rootfs.diff_ids", `must be an array, not ${kindOf(rootfs.diff_ids)}`);
  (rootfs.diff_ids as unknown[]).forEach((d, i) => c.digest(d, `rootfs.diff_ids[${i}]`));
  if (o.history !== undefined && o.history !== null) {
    if (!Array.isArray(o.history)) c.fail("history", `must be an array, not ${kindOf(o.history)}`);
    (o.history as unknown[]).forEach((h, i) => {
      const e = c.object(h, `history[${i}]`);
      for (const k of ["created", "created_by", "author", "comment"]) c.optString(e, k, `history[${i}].${k}`);
      if (e.empty_layer !== undefined && typeof e.empty_layer !== "boolean") {
        c.fail(`history[${i}].empty_layer`, `must be a boolean, not ${kindOf(e.empty_layer)}`);
      }
    });
  }
  return o as unknown as ImageConfig;
}

/** Checks one descriptor on its own (an index.json entry, a manifest's config). */
export function checkDescriptor(doc: unknown, where: string): Descriptor {
  new Checker(where).descriptor(doc, "");
  return doc as Descriptor;
}
