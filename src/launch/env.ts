/**
 * The launch environment (spec digest §8): the container's env minus the lifecycle's own variables, then each
 * buildpack's layers in metadata order — all layer root dirs (`bin` → PATH, `lib` → LD_LIBRARY_PATH) of a
 * buildpack first, then its layers' `env/`, `env.launch/`, `env.launch/<type>/` — as the reference does it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { addRootDirs, applyEnvDir, Env } from "../buildpack/env.ts";
import { ExitCode, PhaseError } from "../ground/errors.ts";
import { escapeID } from "../platform/files.ts";
import type { LaunchBuildpack } from "./metadata.ts";

/** Variables the launcher removes from the app's environment. */
export const LAUNCH_ENV_EXCLUDED = ["CNB_LAYERS_DIR", "CNB_APP_DIR", "CNB_PROCESS_TYPE", "CNB_PLATFORM_API", "CNB_DEPRECATION_MODE"];

/** Where the process symlinks and the lifecycle live in an app image; both are removed from PATH. */
export const PROCESS_DIR = "/cnb/process";
export const LIFECYCLE_DIR = "/cnb/lifecycle";

/**
 * The starting launch env: `environ` without the excluded variables, with `/cnb/process` and `/cnb/lifecycle`
 * removed from PATH.
 *
 * @example newLaunchEnv(process.env).get("PATH")
 */
export function newLaunchEnv(environ: Record<string, string | undefined>): Env {
  const env = new Env(environ);
  for (const k of LAUNCH_ENV_EXCLUDED) env.delete(k);
  const p = env.get("PATH");
  if (p !== undefined) {
    env.set(
      "PATH",
      p
        .split(":")
        .filter((part) => part !== PROCESS_DIR && part !== LIFECYCLE_DIR)
        .join(":"),
    );
  }
  return env;
}

function readDirSorted(dir: string): fs.Dirent[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return [];
    throw new PhaseError(ExitCode.launch, `failed to launch: failed to list files in dir '${dir}': ${(e as Error).message}`);
  }
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The directories of the buildpacks that have one under `<layers>`, in metadata order. */
export function buildpackDirs(layersDir: string, buildpacks: LaunchBuildpack[]): string[] {
  const out: string[] = [];
  for (const bp of buildpacks) {
    const dir = path.join(layersDir, escapeID(bp.id));
    try {
      fs.statSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw new PhaseError(ExitCode.launch, `failed to launch: find buildpack directory: ${(e as Error).message}`);
    }
    out.push(dir);
  }
  return out;
}

/** The layer directories of a buildpack directory, in name order (entries that are directories, not symlinks). */
export function layerDirs(bpDir: string): string[] {
  return readDirSorted(bpDir)
    .filter((e) => e.isDirectory())
    .map((e) => path.join(bpDir, e.name));
}

/** The entries of a directory that are not directories (files, symlinks), in name order; none if it is missing. */
export function filesIn(dir: string): string[] {
  return readDirSorted(dir)
    .filter((e) => !e.isDirectory())
    .map((e) => path.join(dir, e.name));
}

/**
 * For each buildpack dir and each of its layers (reference order), the files of `<layer>/<sub>/` then of
 * `<layer>/<sub>/<type>/` (the latter only for a process type). Used for `exec.d` and `profile.d`.
 */
export function layerScripts(layersDir: string, buildpacks: LaunchBuildpack[], sub: string, type: string): string[] {
  const out: string[] = [];
  for (const bpDir of buildpackDirs(layersDir, buildpacks)) {
    for (const layer of layerDirs(bpDir)) {
      out.push(...filesIn(path.join(layer, sub)));
      if (type !== "") out.push(...filesIn(path.join(layer, sub, type)));
    }
  }
  return out;
}

/**
 * Applies every buildpack's layers to `env`: per buildpack, the root dirs of all its layers, then the env dirs of
 * all its layers (`env/`, `env.launch/`, `env.launch/<type>/`; a file without suffix overrides).
 *
 * @example applyLaunchLayers(env, "/layers", md.buildpacks, "web")
 */
export function applyLaunchLayers(env: Env, layersDir: string, buildpacks: LaunchBuildpack[], type: string): void {
  for (const bpDir of buildpackDirs(layersDir, buildpacks)) {
    const layers = layerDirs(bpDir);
    for (const layer of layers) addRootDirs(env, layer, "launch");
    for (const layer of layers) {
      applyEnvDir(env, path.join(layer, "env"), "override");
      applyEnvDir(env, path.join(layer, "env.launch"), "override");
      if (type !== "") applyEnvDir(env, path.join(layer, "env.launch", type), "override");
    }
  }
}
