/**
 * Choosing the process to launch (spec digest §8 "Process selection", as the reference launcher does it):
 * argv0's basename naming a process type selects it; otherwise the launcher's arguments are the command,
 * `-- cmd args…` direct and `cmd args…` through bash.
 */
import * as path from "node:path";
import { ExitCode, PhaseError } from "../ground/errors.ts";
import { compareApi } from "../ground/api.ts";
import type { LaunchMetadata, LaunchProcess } from "./metadata.ts";

/** What selection needs besides the metadata. */
export interface SelectOptions {
  /** argv[0] as invoked (`/cnb/process/web`); its basename may name a process type. */
  argv0: string;
  /** The user's arguments, untouched. */
  args: string[];
  /** The Platform API in force (exec-env filtering starts at 0.15). */
  platformApi: string;
  /** `CNB_EXEC_ENV` (default `production`). */
  execEnv: string;
}

function startError(message: string): PhaseError {
  return new PhaseError(ExitCode.launch, `failed to launch: determine start command: ${message}`);
}

/** Whether a process may run in the execution environment (Platform ≥ 0.15; always on older platforms). */
export function eligibleForExecEnv(p: LaunchProcess, execEnv: string, platformApi: string): boolean {
  if (compareApi(platformApi, "0.15") < 0) return true;
  if (!p.execEnv || p.execEnv.length === 0) return true;
  return p.execEnv.includes("*") || p.execEnv.includes(execEnv);
}

/** The process type argv0 names, or undefined. The basename is compared as is (no `.exe` on Linux). */
export function processTypeFromArgv0(argv0: string, md: LaunchMetadata): string | undefined {
  const base = path.basename(argv0);
  return md.processes.some((p) => p.type === base) ? base : undefined;
}

/**
 * Applies the user's arguments to a buildpack process: a command with more than one entry runs `command[0]` with
 * `command[1:]` always, then the user arguments if any, else the default `args`; a one-entry command gets the user
 * arguments instead of `args` (Buildpack API ≥ 0.9) or after them (older).
 */
export function withUserArgs(p: LaunchProcess, userArgs: string[], md: LaunchMetadata): LaunchProcess {
  if (p.command.length > 1) {
    return { ...p, command: [p.command[0]], args: [...p.command.slice(1), ...(userArgs.length > 0 ? userArgs : p.args)] };
  }
  if (userArgs.length === 0) return { ...p, args: [...p.args] };
  const bp = md.buildpacks.find((b) => b.id === p.buildpackId);
  if (!bp) throw startError(`failed to find buildpack for process ${p.type} with buildpack ID ${p.buildpackId ?? ""}`);
  return { ...p, args: compareApi(bp.api, "0.9") < 0 ? [...p.args, ...userArgs] : [...userArgs] };
}

/**
 * Selects the process: a type named by argv0 (failing if the execution environment excludes it), else the
 * command line (`-- cmd args` direct, `cmd args` through bash; nothing is an error). The launcher itself never
 * falls back to `buildpack-default-process-type`: the exporter makes `/cnb/process/<default>` the entrypoint.
 *
 * @example selectProcess(md, { argv0: "/cnb/process/web", args: ["--port", "80"], platformApi: "0.15", execEnv: "production" })
 */
export function selectProcess(md: LaunchMetadata, o: SelectOptions): LaunchProcess {
  const type = processTypeFromArgv0(o.argv0, md);
  if (type !== undefined) {
    const p = md.processes.find((x) => x.type === type && eligibleForExecEnv(x, o.execEnv, o.platformApi));
    if (!p) {
      const declared = md.processes.find((x) => x.type === type)?.execEnv ?? [];
      throw startError(`process type "${type}" is not eligible for execution environment "${o.execEnv}" (its exec-env: ${JSON.stringify(declared)})`);
    }
    if (p.command.length === 0) throw startError(`no command provided for process type "${type}"`);
    return withUserArgs(p, o.args, md);
  }
  const args = o.args;
  if (args.length === 0) throw startError("when there is no default process a command is required");
  if (args[0] === "--") {
    if (args.length < 2) throw startError("a command is required after --");
    return { type: "", command: [args[1]], args: args.slice(2), direct: true };
  }
  return { type: "", command: [args[0]], args: args.slice(1), direct: false };
}
