/**
 * What the launcher reads from `<layers>/config/metadata.toml` (spec digest §5, §8): the buildpacks in group order
 * and the processes, with the buildpack API gate (exit 12).
 */
import * as path from "node:path";
import { ExitCode, PhaseError } from "../ground/errors.ts";
import { checkBuildpackApi } from "../ground/api.ts";
import type { BuildMetadataFile } from "../platform/files.ts";
import { readToml, TomlFileError } from "../platform/toml.ts";

/** A process as the launcher runs it: `command` is what to exec, `args` follow it. */
export interface LaunchProcess {
  /** The process type; "" for a command given on the launcher's command line. */
  type: string;
  /** `command[0]` is the executable (PATH lookup); any further entries are always passed. */
  command: string[];
  /** Default arguments (replaced by user arguments). */
  args: string[];
  /** Exec the command directly (true) or through bash with profile scripts (false). */
  direct: boolean;
  buildpackId?: string;
  /** Absent means `<app>`. */
  workingDir?: string;
  /** Execution environments the process may run in (Platform 0.15); absent means all. */
  execEnv?: string[];
}

/** A buildpack of the image, in group order. */
export interface LaunchBuildpack {
  id: string;
  api: string;
}

/** The parts of metadata.toml the launcher uses. */
export interface LaunchMetadata {
  buildpacks: LaunchBuildpack[];
  processes: LaunchProcess[];
  /** `buildpack-default-process-type`; informational (the exporter turns it into the entrypoint). */
  defaultProcessType?: string;
}

/** `<layers>/config/metadata.toml`. */
export function metadataPath(layersDir: string): string {
  return path.join(layersDir, "config", "metadata.toml");
}

function launchError(message: string): PhaseError {
  return new PhaseError(ExitCode.launch, `failed to launch: ${message}`);
}

function stringList(v: unknown, what: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) throw launchError(`read metadata: ${what} must be an array of strings`);
  return v as string[];
}

/**
 * Reads and checks metadata.toml: a missing or malformed file fails the launch (82), a buildpack whose API this
 * lifecycle does not support exits 12. A process `command` may be an array (Platform ≥ 0.10) or a single string.
 *
 * @example const md = readLaunchMetadata("/layers")
 */
export function readLaunchMetadata(layersDir: string): LaunchMetadata {
  let raw: BuildMetadataFile;
  try {
    raw = readToml<BuildMetadataFile>(metadataPath(layersDir), "metadata.toml");
  } catch (e) {
    if (e instanceof TomlFileError) throw launchError(`read metadata: ${e.message}`);
    throw e;
  }
  const buildpacks: LaunchBuildpack[] = [];
  for (const bp of (raw.buildpacks ?? []) as unknown[]) {
    const b = bp as { id?: unknown; api?: unknown };
    if (typeof b?.id !== "string") throw launchError("read metadata: a buildpack has no id");
    const api = typeof b.api === "string" ? b.api : undefined;
    checkBuildpackApi(b.id, api);
    buildpacks.push({ id: b.id, api: api as string });
  }
  const processes: LaunchProcess[] = [];
  for (const p of (raw.processes ?? []) as unknown[]) {
    const e = p as Record<string, unknown>;
    if (typeof e?.type !== "string") throw launchError("read metadata: a process has no type");
    const cmd = e.command;
    const command = typeof cmd === "string" ? [cmd] : stringList(cmd, `the command of process type "${e.type}"`);
    processes.push({
      type: e.type,
      command,
      args: stringList(e.args, `the args of process type "${e.type}"`),
      // Buildpack API ≥ 0.9 processes are always direct; only an explicit `direct = false` asks for a shell.
      direct: e.direct === undefined ? true : e.direct === true,
      buildpackId: typeof e["buildpack-id"] === "string" ? e["buildpack-id"] : undefined,
      workingDir: typeof e["working-dir"] === "string" && e["working-dir"] !== "" ? e["working-dir"] : undefined,
      execEnv: e["exec-env"] === undefined ? undefined : stringList(e["exec-env"], `the exec-env of process type "${e.type}"`),
    });
  }
  const def = raw["buildpack-default-process-type"];
  return { buildpacks, processes, defaultProcessType: typeof def === "string" && def !== "" ? def : undefined };
}
