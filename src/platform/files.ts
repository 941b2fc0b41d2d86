/**
 * The shapes of the lifecycle's TOML files (platform spec; spec digest §5), shared by the phases.
 * Field names are the files' own (kebab-case where the spec says so).
 */

/** A buildpack (or extension) reference in an order or group. */
export interface GroupElement {
  id: string;
  version: string;
  api?: string;
  homepage?: string;
  optional?: boolean;
  extension?: boolean;
}

/** order.toml */
export interface OrderFile {
  order: { group: GroupElement[] }[];
  "order-extensions"?: { group: GroupElement[] }[];
}

/** system.toml (Platform 0.15) */
export interface SystemFile {
  system?: { pre?: { buildpacks?: GroupElement[] }; post?: { buildpacks?: GroupElement[] } };
}

/** group.toml */
export interface GroupFile {
  group: GroupElement[];
  "group-extensions"?: GroupElement[];
}

/** A `requires` of a build plan. */
export interface Require {
  name: string;
  metadata?: Record<string, unknown>;
}

/** One entry of plan.toml. */
export interface PlanEntry {
  providers: { id: string; version: string; extension?: boolean }[];
  requires: Require[];
}

/** plan.toml */
export interface PlanFile {
  entries: PlanEntry[];
}

/** The run image's target (analyzed.toml `[run-image.target]`). */
export interface Target {
  id?: string;
  os?: string;
  arch?: string;
  "arch-variant"?: string;
  distro?: { name?: string; version?: string };
}

/** analyzed.toml */
export interface AnalyzedFile {
  image?: { reference: string };
  "run-image"?: { image?: string; reference: string; extend?: boolean; target?: Target };
  "build-image"?: { reference: string };
  metadata?: LayersMetadata;
}

/** The lifecycle metadata label (`io.buildpacks.lifecycle.metadata`), in its TOML/JSON field names. */
export interface LayersMetadata {
  app?: { sha: string }[];
  sbom?: { sha: string };
  config?: { sha: string };
  launcher?: { sha: string };
  "process-types"?: { sha: string };
  buildpacks?: BuildpackLayersMetadata[];
  runImage?: RunImageMetadata;
  "run-image"?: RunImageMetadata;
  stack?: { runImage?: { image?: string; mirrors?: string[] } };
}

/** The run-image part of the lifecycle label. */
export interface RunImageMetadata {
  topLayer?: string;
  "top-layer"?: string;
  reference?: string;
  image?: string;
  mirrors?: string[];
}

/** One buildpack's layers in the lifecycle label. */
export interface BuildpackLayersMetadata {
  key: string;
  version: string;
  layers?: Record<string, LayerMetadata>;
  store?: { metadata?: Record<string, unknown> };
}

/** One layer in the lifecycle label or the cache metadata. */
export interface LayerMetadata {
  sha: string;
  data?: Record<string, unknown>;
  launch?: boolean;
  build?: boolean;
  cache?: boolean;
}

/** A process in metadata.toml. */
export interface ProcessEntry {
  type: string;
  /** An array from Platform API 0.10; one string before. */
  command: string[] | string;
  args?: string[];
  direct?: boolean;
  "buildpack-id"?: string;
  "working-dir"?: string;
  "exec-env"?: string[];
  default?: boolean;
}

/** `<layers>/config/metadata.toml` (builder output, read by the exporter and the launcher). */
export interface BuildMetadataFile {
  "buildpack-default-process-type"?: string;
  buildpacks: { id: string; version: string; api?: string; homepage?: string }[];
  extensions?: { id: string; version: string; api?: string }[];
  processes?: ProcessEntry[];
  labels?: { key: string; value: string }[];
  slices?: { paths: string[] }[];
  bom?: unknown[];
}

/** `<layer>.toml` (layer content metadata). */
export interface LayerTomlFile {
  types?: { launch?: boolean; build?: boolean; cache?: boolean };
  metadata?: Record<string, unknown>;
}

/** launch.toml (written by a buildpack). */
export interface LaunchTomlFile {
  labels?: { key: string; value: string }[];
  processes?: (Omit<ProcessEntry, "command"> & { command: string[] | string })[];
  slices?: { paths: string[] }[];
}

/** build.toml (written by a buildpack). */
export interface BuildTomlFile {
  unmet?: { name: string }[];
}

/** report.toml (exporter output). */
export interface ReportFile {
  image: { tags: string[]; digest?: string; "image-id"?: string; "manifest-size"?: number };
  build?: unknown;
}

/** run.toml */
export interface RunFile {
  images?: { image: string; mirrors?: string[] }[];
}

/** stack.toml (Platform API < 0.12): the run image and its mirrors; pack also writes `[build-image]`. */
export interface StackFile {
  "run-image"?: { image?: string; mirrors?: string[] };
  "build-image"?: { image?: string; mirrors?: string[] };
}

/** project-metadata.toml */
export interface ProjectMetadataFile {
  source?: { type?: string; version?: Record<string, unknown>; metadata?: Record<string, unknown> };
  [key: string]: unknown;
}

/** store.toml */
export interface StoreFile {
  metadata?: Record<string, unknown>;
}

/**
 * What is wrong with a process type, or undefined: it must be non-empty and contain none of `/ > < : | & \`
 * (it names the symlink `/cnb/process/<type>`).
 */
export function processTypeProblem(type: string): string | undefined {
  if (type === "") return "type is required for all processes";
  if (/[/><:|&\\]/.test(type)) return `invalid process type '${type}': type may not contain characters '/><:|&\\'`;
  return undefined;
}

/** A buildpack ID as a directory name: `/` becomes `_`. */
export function escapeID(id: string): string {
  return id.replaceAll("/", "_");
}
