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
import { selectStore, type StoreChoice } from "../image/stores.ts";
import { readRunIfExists } from "../platform/readers.ts";

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
  return {
    layout: layoutMode(f) ? { dir: layoutDirOf(f, form), form, link: f.required("oci-link") } : undefined,
    daemon: f.bool("daemon"),
    publish: f.bool("publish"),
    insecureRegistries: f.list("insecure-registry"),
    env,
  };
}

/** The image store the flags select. */
export function storeOf(f: FlagReader, env: Record<string, string | undefined>, phase: string): ImageStore {
  return selectStore(storeChoiceOf(f, env), phase);
}

/** `-uid`/`-gid`. */
export function buildUserOf(f: FlagReader): BuildUser {
  return { uid: f.int("uid"), gid: f.int("gid") };
}

/**
 * The run image: `-run-image`, else (with registries) the first image of run.toml. Layout mode requires
 * `-run-image`, as the RFC says.
 */
export function runImageOf(f: FlagReader): string {
  const given = f.string("run-image");
  if (given) return given;
  if (layoutMode(f)) throw new PhaseError(ExitCode.invalidArgs, "-run-image is required when OCI feature is enabled");
  const runToml = f.path("run");
  const image = readRunIfExists(runToml)?.images?.[0]?.image;
  if (!image) throw new PhaseError(ExitCode.invalidArgs, `-run-image is required: ${runToml} names no run image`);
  return image;
}

/**
 * Warns about flags given that do not apply, as the reference does (`Ignoring -launch-cache, only intended for use
 * with -daemon`), so that nothing a platform passes is ignored silently.
 */
export function warnInapplicableFlags(f: FlagReader, log: Logger): void {
  const has = (n: string) => n in f.parsed.values;
  if (has("launch-cache") && f.string("launch-cache") && !f.bool("daemon")) log.warn("Ignoring -launch-cache, only intended for use with -daemon");
  if (has("cache-image") && f.string("cache-image")) {
    log.warn(
      `Ignoring -cache-image ${f.string("cache-image")}: this lifecycle does not read or write cache images yet; no cached data comes from it (use -cache-dir)`,
    );
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
