/**
 * The app image's config and manifest (spec digest §9.3): the run image's config with the lifecycle's Env,
 * Entrypoint, WorkingDir, labels, history and diff_ids; media types of the run image's family (OCI or Docker v2),
 * never mixed.
 */
import type { Descriptor, History, ImageConfig, Manifest } from "./types.ts";
import { MediaType } from "./types.ts";
import { sortedKeys } from "../ground/json.ts";

/** 1980-01-01T00:00:01Z, the reference lifecycle's constant creation time. */
export const NORMALIZED_CREATED = "1980-01-01T00:00:01Z";

/** The media-type family of a manifest. */
export type Family = "oci" | "docker";

/** The family of the run image's manifest. */
export function familyOf(manifestMediaType: string | undefined): Family {
  return manifestMediaType === MediaType.dockerManifest ? "docker" : "oci";
}

/** Manifest, config and gzip layer media types of a family. */
export function typesOf(f: Family): { manifest: string; config: string; layer: string } {
  return f === "docker"
    ? { manifest: MediaType.dockerManifest, config: MediaType.dockerConfig, layer: MediaType.dockerLayerGzip }
    : { manifest: MediaType.ociManifest, config: MediaType.ociConfig, layer: MediaType.ociLayerGzip };
}

/**
 * The media type of a new layer compressed with `compression` in a family: gzip in either, zstd only in OCI (the
 * Docker v2 manifest has no zstd layer type).
 */
export function layerTypeOf(f: Family, compression: "gzip" | "zstd"): string {
  if (compression === "gzip") return typesOf(f).layer;
  if (f === "docker") throw new Error("zstd layers need an OCI run image: its manifest is Docker v2, which has no zstd layer type");
  return MediaType.ociLayerZstd;
}

const TO_DOCKER: Record<string, string> = {
  [MediaType.ociLayerGzip]: MediaType.dockerLayerGzip,
  [MediaType.ociLayerNondistGzip]: MediaType.dockerLayerForeignGzip,
};
const TO_OCI: Record<string, string> = {
  [MediaType.dockerLayerGzip]: MediaType.ociLayerGzip,
  [MediaType.dockerLayerForeignGzip]: MediaType.ociLayerNondistGzip,
};

/** A run-image layer's media type in the app image's family (equivalent types are translated). */
export function layerTypeIn(f: Family, mt: string): string {
  return (f === "docker" ? TO_DOCKER[mt] : TO_OCI[mt]) ?? mt;
}

/** `SOURCE_DATE_EPOCH` as an RFC 3339 time, or the constant; an invalid value is reported through `warn`. */
export function createdTime(sourceDateEpoch: string | undefined, warn: (m: string) => void): string {
  if (sourceDateEpoch === undefined || sourceDateEpoch === "") return NORMALIZED_CREATED;
  if (!/^\d+$/.test(sourceDateEpoch)) {
    warn(`SOURCE_DATE_EPOCH "${sourceDateEpoch}" is not a whole number of seconds; using ${NORMALIZED_CREATED}`);
    return NORMALIZED_CREATED;
  }
  return new Date(Number(sourceDateEpoch) * 1000).toISOString().replace(".000Z", "Z");
}

/** What the exporter adds on top of the run image's config. */
export interface ConfigChanges {
  env: Record<string, string>;
  /** Prepended to the run image's PATH. */
  pathPrefix: string[];
  entrypoint: string[];
  workingDir: string;
  labels: Record<string, string>;
  created: string;
  /** diffIDs and history of the new layers, bottom first. */
  layers: { diffID: string; createdBy: string }[];
  /** History as before Platform API 0.12: one `{created}` entry per layer, nothing kept of the run image's. */
  plainHistory?: boolean;
}

/** The app image's config: a copy of the run image's with the changes applied. */
export function appConfig(run: ImageConfig, c: ConfigChanges): ImageConfig {
  const cfg = structuredClone(run);
  cfg.created = c.created;
  const container = { ...(cfg.config ?? {}) };
  const env = [...(container.Env ?? [])];
  const set = (k: string, v: string) => {
    const i = env.findIndex((e) => e.split("=")[0] === k);
    if (i >= 0) env[i] = `${k}=${v}`;
    else env.push(`${k}=${v}`);
  };
  for (const [k, v] of Object.entries(c.env)) set(k, v);
  const runPath = env.find((e) => e.startsWith("PATH="))?.slice(5);
  set("PATH", [...c.pathPrefix, ...(runPath ? [runPath] : [])].join(":"));
  container.Env = env;
  container.Entrypoint = c.entrypoint;
  delete container.Cmd;
  container.WorkingDir = c.workingDir;
  container.Labels = { ...(container.Labels ?? {}), ...c.labels };
  cfg.config = container;
  cfg.rootfs = { type: "layers", diff_ids: [...(cfg.rootfs?.diff_ids ?? []), ...c.layers.map((l) => l.diffID)] };
  // One history entry per layer (empty_layer entries aside), as imgutil keeps it: pad a short run history.
  const history: History[] = [...(cfg.history ?? [])];
  const runLayers = run.rootfs?.diff_ids?.length ?? 0;
  const counted = history.filter((h) => !h.empty_layer).length;
  for (let i = counted; i < runLayers; i++) history.unshift({ created: NORMALIZED_CREATED });
  for (const l of c.layers) history.push({ created: c.created, created_by: l.createdBy });
  cfg.history = c.plainHistory ? cfg.rootfs.diff_ids.map(() => ({ created: c.created })) : history;
  return cfg;
}

/**
 * The config as it is written: its maps (labels, exposed ports, volumes) in a fixed order, so that the same
 * content always gives the same digest, whatever order the labels were added in.
 */
export function configBytes(cfg: ImageConfig): Uint8Array {
  const out: ImageConfig = { ...cfg };
  if (cfg.config) {
    const c = { ...cfg.config };
    for (const k of ["Labels", "ExposedPorts", "Volumes"] as const) if (c[k]) (c as Record<string, unknown>)[k] = sortedKeys(c[k]);
    out.config = c;
  }
  return new TextEncoder().encode(JSON.stringify(out));
}

/** The manifest of the app image. */
export function appManifest(f: Family, config: Descriptor, layers: Descriptor[]): Manifest {
  const t = typesOf(f);
  return { schemaVersion: 2, mediaType: t.manifest, config: { mediaType: t.config, digest: config.digest, size: config.size }, layers };
}
