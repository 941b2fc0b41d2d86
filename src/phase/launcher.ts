/**
 * The launcher phase (spec digest §8): selects the process (`/cnb/process/<type>` or the command line), builds the
 * launch environment from the layers, runs exec.d, then replaces itself with the app — directly, or through bash
 * with the profile scripts for shell processes.
 *
 * Inputs: `CNB_PLATFORM_API` (unset: the newest supported; unsupported: exit 11), `CNB_LAYERS_DIR` (`/layers`),
 * `CNB_APP_DIR` (`/workspace`), `CNB_EXEC_ENV` (`production`), `<layers>/config/metadata.toml` (a buildpack API
 * this lifecycle does not support: exit 12). Any other failure before the app starts exits 82.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Env } from "../buildpack/env.ts";
import { ExitCode, PhaseError } from "../ground/errors.ts";
import type { Logger } from "../ground/log.ts";
import { platformApi } from "../ground/api.ts";
import { applyLaunchLayers, layerScripts, newLaunchEnv, PROCESS_DIR } from "../launch/env.ts";
import { type ExecMode, execProgram, type ExecSpec, lookPath } from "../launch/exec.ts";
import { runExecD } from "../launch/execd.ts";
import { type LaunchProcess, readLaunchMetadata } from "../launch/metadata.ts";
import { selectProcess } from "../launch/process.ts";
import { bashArgv, profileScripts } from "../launch/shell.ts";

/** What the launcher runs with. */
export interface LauncherOptions {
  /** argv[0] as invoked; `/cnb/process/<type>` selects that process type. */
  argv0: string;
  /** The arguments after argv[0], untouched (no flag parsing: user arguments may start with `-`). */
  args: string[];
  /** The container's environment. */
  env: Record<string, string | undefined>;
  log: Logger;
  /** `spawn` forces the child-process fallback instead of execve (tests, runtimes without FFI). */
  exec?: ExecMode;
}

/** Everything decided before the app starts. */
export interface PreparedLaunch {
  process: LaunchProcess;
  platformApi: string;
  layersDir: string;
  appDir: string;
  /** The final launch environment (after exec.d). */
  env: Env;
  /** What to exec: the app itself (direct) or bash (shell process). */
  spec: ExecSpec;
}

function launchError(message: string): PhaseError {
  return new PhaseError(ExitCode.launch, `failed to launch: ${message}`);
}

/** bash for shell processes: `/bin/bash` as the reference uses, else the first `bash` on the launch PATH. */
function bashPath(env: Env, appDir: string): string {
  try {
    fs.accessSync("/bin/bash", fs.constants.X_OK);
    return "/bin/bash";
  } catch {
    return lookPath("bash", env.get("PATH"), appDir);
  }
}

/**
 * Does everything up to the exec: checks the APIs, reads metadata.toml, selects the process, builds the env, runs
 * exec.d (which may print and changes the env) and resolves the executable. Throws PhaseError (11, 12, 82).
 *
 * @example const p = await prepareLaunch({ argv0: "/cnb/process/web", args: [], env: process.env, log })
 */
export async function prepareLaunch(o: LauncherOptions): Promise<PreparedLaunch> {
  const api = platformApi(o.env);
  const layersDir = path.resolve(o.env.CNB_LAYERS_DIR || "/layers");
  const appDir = path.resolve(o.env.CNB_APP_DIR || "/workspace");
  const execEnv = o.env.CNB_EXEC_ENV || "production";
  const legacyType = o.env.CNB_PROCESS_TYPE;
  if (legacyType) {
    o.log.warn(`CNB_PROCESS_TYPE is not supported in Platform API ${api}`);
    o.log.warn(`Run with ENTRYPOINT '${path.join(PROCESS_DIR, legacyType)}' to invoke the '${legacyType}' process type`);
  }

  const md = readLaunchMetadata(layersDir);
  const proc = selectProcess(md, { argv0: o.argv0, args: o.args, platformApi: api, execEnv });

  let appIsDir = false;
  try {
    appIsDir = fs.statSync(appDir).isDirectory();
  } catch {
    appIsDir = false;
  }
  if (!appIsDir) throw launchError(`change to app directory: ${appDir} is not a directory`);

  const env = newLaunchEnv(o.env);
  applyLaunchLayers(env, layersDir, md.buildpacks, proc.type);
  for (const program of layerScripts(layersDir, md.buildpacks, "exec.d", proc.type)) {
    await runExecD(program, env, appDir);
  }

  const workingDir = path.resolve(appDir, proc.workingDir ?? appDir);
  let spec: ExecSpec;
  if (proc.direct) {
    const file = lookPath(proc.command[0], env.get("PATH"), appDir);
    spec = { file, argv: [...proc.command, ...proc.args], env: env.toRecord(), cwd: workingDir };
  } else {
    const profiles = profileScripts(layersDir, appDir, md.buildpacks, proc.type);
    const argv = bashArgv({ profiles, workingDir, caller: o.argv0, command: proc.command.join(" "), args: proc.args });
    spec = { file: bashPath(env, appDir), argv, env: env.toRecord(), cwd: appDir };
  }
  return { process: proc, platformApi: api, layersDir, appDir, env, spec };
}

/**
 * Runs the launcher: prepares, then execs the app in place (never returns) or, without FFI, runs it as a child and
 * resolves to its exit code. Throws PhaseError for failures before the app starts.
 *
 * @example process.exitCode = await runLauncher({ argv0: process.argv0, args: process.argv.slice(2), env: process.env, log: new Logger() })
 */
export async function runLauncher(o: LauncherOptions): Promise<number> {
  const prepared = await prepareLaunch(o);
  o.log.debug(`launching ${JSON.stringify(prepared.spec.argv)} (${prepared.spec.file}) in ${prepared.spec.cwd}`);
  return await execProgram(prepared.spec, o.log, o.exec ?? "auto");
}

/**
 * Whether argv0 is a process-type symlink (`/cnb/process/<type>`), so the multi-call binary must run the launcher
 * with the type `basename(argv0)`: argv0 in the process dir, or a bare name that PATH finds there first.
 *
 * @example isProcessInvocation("/cnb/process/web") // true
 */
export function isProcessInvocation(argv0: string, env: Record<string, string | undefined>, processDir: string = PROCESS_DIR): boolean {
  if (argv0 === "") return false;
  if (argv0.includes("/")) return path.resolve(path.dirname(argv0)) === path.resolve(processDir);
  for (const dir of (env.PATH ?? "").split(":")) {
    if (!path.isAbsolute(dir)) continue;
    try {
      fs.accessSync(path.join(dir, argv0), fs.constants.X_OK);
    } catch {
      continue;
    }
    return path.resolve(dir) === path.resolve(processDir);
  }
  return false;
}
