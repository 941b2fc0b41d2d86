/**
 * Input resolution shared by the commands: from flags (already parsed, flag > env > default) to the typed values
 * the phases take — where images live, the build user, the run image — and the warnings for flags that do not
 * apply.
 */
import { compareApi, platformApi } from "../ground/api.ts";
import { ExitCode, PhaseError } from "../ground/errors.ts";
import type { FlagReader } from "../ground/flags.ts";
import type { Logger } from "../ground/log.ts";
import type { BuildUser } from "../buildpack/privileges.ts";
import type { ImageStore } from "../image/store.ts";
import type { Image } from "../image/image.ts";
import type { LayerCache } from "../cache/cache.ts";
import { ImageCache } from "../cache/image.ts";
import { VolumeCache } from "../cache/volume.ts";
import type { LayerPool } from "../layer/pool.ts";
import { selectStore, type StoreChoice } from "../image/stores.ts";
import type { RoutedStore } from "../image/routed-store.ts";
import { readRunIfExists, readStackIfExists } from "../platform/readers.ts";
import { parseReference, sameReference } from "../image/reference.ts";

/** Whether the flags ask for OCI layouts (`-oci` or `-layout`). */
export function layoutMode(f: FlagReader): boolean {
  return f.bool("oci") || f.bool("layout");
}

/** The directory of layouts: `-oci-dir` with `-oci`, `-layout-dir` with `-layout`, either otherwise; else `/oci`. */
export function layoutDirOf(f: FlagReader, form: "rfc" | "canonical" = f.bool("oci") ? "rfc" : "canonical"): string {
  const oci = f.optionalPath("oci-dir");
  const layout = f.optionalPath("layout-dir");
  return (form === "rfc" ? oci ?? layout : layout ?? oci) ?? "/oci";
}

/** The directory of layouts for the tool commands (gc, inspect): `-oci-dir` or `-layout-dir`, else `/oci`. */
export function anyLayoutDir(f: FlagReader): string {
  if (f.given("layout-dir") && !f.given("oci-dir")) return f.path("layout-dir");
  return f.optionalPath("oci-dir") ?? f.optionalPath("layout-dir") ?? "/oci";
}

/** Where images live, as the flags say it. OCI layouts need Platform API 0.12 (DESIGN §3): refused before. */
export function storeChoiceOf(f: FlagReader, env: Record<string, string | undefined>): StoreChoice {
  const form = f.bool("oci") ? "rfc" : "canonical";
  const api = platformApi(env);
  if (layoutMode(f) && compareApi(api, "0.12") < 0) {
    throw new PhaseError(ExitCode.invalidArgs, `OCI layouts (CNB_USE_OCI, CNB_USE_LAYOUT) need Platform API 0.12 or later; CNB_PLATFORM_API is ${api}`);
  }
  const has = (n: string) => n in f.parsed.values;
  const ociArchive = has("oci-archive") ? f.optionalPath("oci-archive") : undefined;
  const dockerArchive = has("docker-archive") ? f.optionalPath("docker-archive") : undefined;
  if (ociArchive && dockerArchive) throw new PhaseError(ExitCode.invalidArgs, "exporting to multiples target is not allowed");
  return {
    layout: layoutMode(f) ? { dir: layoutDirOf(f, form), form, link: f.required("oci-link") } : undefined,
    daemon: f.bool("daemon"),
    publish: f.bool("publish"),
    archive: ociArchive ? { file: ociArchive, format: "oci" } : dockerArchive ? { file: dockerArchive, format: "docker" } : undefined,
    full: has("oci-full") && f.bool("oci-full"),
    launchCache: has("launch-cache") ? f.optionalPath("launch-cache") : undefined,
    insecureRegistries: f.list("insecure-registry"),
    env,
  };
}

/**
 * The image store the flags select (connecting to a daemon now, before privileges are dropped); its `cacheStore`
 * is where a cache image lives.
 */
export function storeOf(f: FlagReader, env: Record<string, string | undefined>): Promise<RoutedStore> {
  return selectStore(storeChoiceOf(f, env));
}

/**
 * As root, before the drop to the build user: prepares where the app image (`images`, with `sources` to link from)
 * and the cache image (`-cache-image`, in the cache's store) will be written.
 */
export async function prepareOutputs(f: FlagReader, store: RoutedStore, images: string[], user: BuildUser, sources: Image[]): Promise<void> {
  await store.prepareOutput(images, user, sources);
  const cacheImage = "cache-image" in f.parsed.values ? f.string("cache-image") : undefined;
  if (cacheImage) await store.cacheStore.prepareOutput([cacheImage], user, []);
}

/** `-uid`/`-gid`. */
export function buildUserOf(f: FlagReader): BuildUser {
  return { uid: f.int("uid"), gid: f.int("gid") };
}

/** Where the run image's name came from, for the lifecycle label: the image and its mirrors. */
export interface RunImageChoice {
  /** The run image to use. */
  image: string;
  /** The run.toml entry (Platform API >= 0.12) or stack.toml's `[run-image]` (< 0.12) it belongs to, if any. */
  entry?: { image?: string; mirrors?: string[] };
}

/** The run image entries the platform's file offers: run.toml's `[[images]]` (>= 0.12), stack.toml's `[run-image]` (< 0.12). */
export function runImageEntries(f: FlagReader, api: string): { image?: string; mirrors?: string[] }[] {
  if (compareApi(api, "0.12") < 0) {
    if (!("stack" in f.parsed.values)) return [];
    const s = readStackIfExists(f.path("stack"));
    return s?.["run-image"] ? [s["run-image"]] : [];
  }
  if (!("run" in f.parsed.values)) return [];
  return readRunIfExists(f.path("run"))?.images ?? [];
}

/** Whether two references name the same image (after normalising). */
function sameImage(a: string, b: string): boolean {
  try {
    return sameReference(a, b);
  } catch {
    return a === b;
  }
}

/**
 * The run image (spec digest §10): `-run-image` when given; else (registries) the first entry of run.toml — or
 * stack.toml's `[run-image]` before Platform API 0.12 — choosing among its image and mirrors the first readable one
 * on the app image's registry, else the first readable one. Layout mode requires `-run-image`, as the RFC says.
 */
export async function resolveRunImage(f: FlagReader, env: Record<string, string | undefined>, store: ImageStore, appImage: string): Promise<RunImageChoice> {
  const api = platformApi(env);
  const entries = runImageEntries(f, api);
  const given = f.string("run-image") ?? (f.parsed.values.image !== undefined ? f.string("image") : undefined);
  if (given) return { image: given, entry: entries.find((e) => [e.image, ...(e.mirrors ?? [])].some((c) => c && sameImage(c, given))) };
  if (layoutMode(f)) throw new PhaseError(ExitCode.invalidArgs, "-run-image is required when OCI feature is enabled");
  const entry = entries[0];
  const file = compareApi(api, "0.12") < 0
    ? "stack" in f.parsed.values ? f.path("stack") : "stack.toml"
    : "run" in f.parsed.values
    ? f.path("run")
    : "run.toml";
  if (!entry?.image) {
    throw new PhaseError(
      ExitCode.invalidArgs,
      compareApi(api, "0.12") < 0
        ? `missing run image metadata (-run-image): ${file} names no run image`
        : `-run-image is required when there is no run metadata available (${file} names no run image)`,
    );
  }
  const candidates = [entry.image, ...(entry.mirrors ?? [])];
  const readable = async (ref: string) => {
    try {
      return (await store.find(ref)) !== undefined;
    } catch {
      return false;
    }
  };
  const registryOf = (ref: string) => {
    try {
      return parseReference(ref).registry;
    } catch {
      return undefined;
    }
  };
  const appRegistry = registryOf(appImage);
  for (const c of candidates.filter((x) => registryOf(x) === appRegistry)) if (await readable(c)) return { image: c, entry };
  for (const c of candidates) if (await readable(c)) return { image: c, entry };
  throw new PhaseError(ExitCode.invalidArgs, `failed to find accessible run image: none of ${candidates.join(", ")} (from ${file}) can be read`);
}

/**
 * Warns about flags given that do not apply, as the reference does (`Ignoring -launch-cache, only intended for use
 * with -daemon`), so that nothing a platform passes is ignored silently.
 */
export function warnInapplicableFlags(f: FlagReader, log: Logger): void {
  const has = (n: string) => n in f.parsed.values;
  if (has("launch-cache") && f.string("launch-cache") && !f.bool("daemon")) log.warn("Ignoring -launch-cache, only intended for use with -daemon");
}

/**
 * The layer cache the flags name: `-cache-image` (in the store: a registry, or a layout in layout mode), which wins
 * over `-cache-dir`; undefined for none, or (with a warning) for a cache directory that does not exist.
 */
export function cacheOf(f: FlagReader, env: Record<string, string | undefined>, store: ImageStore, log: Logger, pool?: LayerPool): LayerCache | undefined {
  const image = f.string("cache-image");
  if (image) return new ImageCache({ store, ref: image, log, pool, deleteOld: compareApi(platformApi(env), "0.13") < 0 });
  const dir = f.optionalPath("cache-dir");
  if (!dir) return undefined;
  try {
    return new VolumeCache(dir, (m) => log.warn(m));
  } catch (e) {
    log.warn(`${(e as Error).message}; no cached data is used and none is kept`);
    return undefined;
  }
}

/** Fails with exit 3 when positional arguments were given to a phase that takes none. */
export function noPositionals(f: FlagReader): void {
  if (f.positionals.length > 0) {
    throw new PhaseError(ExitCode.invalidArgs, `failed to parse arguments: received unexpected arguments ${f.positionals.join(" ")}`);
  }
}

/** Fails with exit 3 unless exactly one positional argument (the image) was given. */
export function oneImage(f: FlagReader): string {
  if (f.positionals.length !== 1) {
    throw new PhaseError(ExitCode.invalidArgs, `failed to parse arguments: received ${f.positionals.length} arguments, but expected 1`);
  }
  return f.positionals[0];
}

/** Fails with exit 3 unless at least one image was given. */
export function someImages(f: FlagReader): string[] {
  if (f.positionals.length < 1) throw new PhaseError(ExitCode.invalidArgs, "failed to parse arguments: at least one image argument is required");
  return f.positionals;
}
