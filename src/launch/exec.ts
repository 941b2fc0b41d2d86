/**
 * Starting the app: `execve` in place through libc (so the app keeps the launcher's PID, gets its signals and its
 * exit status is the container's), or — where the runtime has no FFI — a child process with every catchable signal
 * forwarded and its exit status (or signal) passed on.
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ExitCode, PhaseError } from "../ground/errors.ts";
import type { Logger } from "../ground/log.ts";
import { errnoName, loadLibc } from "./libc.ts";

/** Signals forwarded to the child when the launcher cannot exec in place. */
export const FORWARDED_SIGNALS: NodeJS.Signals[] = ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH", "SIGALRM", "SIGPWR"];

/** Signals JavaScript runtimes ignore that the app should get with their default action (SIGPIPE, SIGXFSZ). */
const RUNTIME_IGNORED = [13, 25];

function isExecutable(p: string): "ok" | "missing" | "dir" | "denied" {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    return "missing";
  }
  if (st.isDirectory()) return "dir";
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return "ok";
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EACCES") return "denied";
    // access() itself is unavailable (Deno without --allow-sys): judge by the mode bits
    return st.mode & 0o111 ? "ok" : "denied";
  }
}

/**
 * Resolves a command as `exec.LookPath` does: a name with a slash is taken as a path (relative to `cwd`), others
 * are searched in `PATH` (absolute entries only). Throws a launch error (82) naming the command.
 *
 * @example lookPath("bash", "/usr/bin:/bin", "/workspace") // "/usr/bin/bash"
 */
export function lookPath(name: string, pathVar: string | undefined, cwd: string): string {
  if (name.includes("/")) {
    const p = path.resolve(cwd, name);
    const r = isExecutable(p);
    if (r === "ok") return p;
    const why = r === "missing" ? "no such file or directory" : r === "dir" ? "is a directory" : "permission denied";
    throw new PhaseError(ExitCode.launch, `failed to launch: path lookup: exec: "${name}": ${why}`);
  }
  if (name !== "") {
    for (const dir of (pathVar ?? "").split(":")) {
      if (!path.isAbsolute(dir)) continue;
      const p = path.join(dir, name);
      if (isExecutable(p) === "ok") return p;
    }
  }
  throw new PhaseError(ExitCode.launch, `failed to launch: path lookup: exec: "${name}": executable file not found in $PATH`);
}

/** What to start. */
export interface ExecSpec {
  /** The resolved executable. */
  file: string;
  /** argv, argv[0] included. */
  argv: string[];
  /** The complete environment. */
  env: Record<string, string>;
  /** The directory to run in. */
  cwd: string;
}

/** How to start it: `auto` execs in place when the runtime has FFI, `spawn` always uses a child process. */
export type ExecMode = "auto" | "spawn";

async function flushStdio(): Promise<void> {
  await Promise.all(
    [process.stdout, process.stderr].map(
      (s) =>
        new Promise<void>((resolve) => {
          try {
            s.write("", () => resolve());
          } catch {
            resolve();
          }
        }),
    ),
  );
}

/**
 * Starts the app. With FFI the process is replaced (`execve`) and this never returns; an exec failure throws a
 * launch error (82). Without FFI (or with `mode = "spawn"`) it runs a child, forwards signals, and resolves to the
 * exit code to use (re-raising the child's signal on itself first when the child was killed by one).
 *
 * @example await execProgram({ file: "/usr/bin/env", argv: ["env"], env: { A: "b" }, cwd: "/" }, log)
 */
export async function execProgram(spec: ExecSpec, log: Logger, mode: ExecMode = "auto"): Promise<number> {
  const libc = mode === "auto" ? await loadLibc() : undefined;
  if (libc) {
    try {
      process.chdir(spec.cwd);
    } catch (e) {
      throw new PhaseError(ExitCode.launch, `failed to launch: change directory: ${(e as Error).message}`);
    }
    await flushStdio();
    const envp = Object.entries(spec.env).map(([k, v]) => `${k}=${v}`);
    for (const fd of [0, 1, 2]) libc.clearNonBlocking(fd);
    for (const sig of RUNTIME_IGNORED) libc.defaultSignal(sig);
    const errno = libc.execve(spec.file, spec.argv, envp);
    // Only reached when execve failed.
    throw new PhaseError(ExitCode.launch, `failed to launch: exec ${JSON.stringify(spec.file)}: ${errnoName(errno)}`);
  }
  const why = mode === "auto" ? "this runtime has no FFI for execve" : "execve was not requested";
  log.warn(`${why}: running the app as a child process and forwarding signals to it`);
  return await spawnAndForward(spec);
}

/** The child-process fallback: inherited stdio, signals forwarded, the child's status passed on. */
async function spawnAndForward(spec: ExecSpec): Promise<number> {
  // Handlers go in before the child starts, so no signal falls between its start and their installation;
  // a signal that comes before the child exists is forwarded once it does.
  const current: { child?: ChildProcess } = {};
  const early: NodeJS.Signals[] = [];
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const sig of FORWARDED_SIGNALS) {
    const h = () => {
      if (!current.child) {
        early.push(sig);
        return;
      }
      try {
        current.child.kill(sig);
      } catch {
        // the child is gone
      }
    };
    try {
      process.on(sig, h);
      handlers.set(sig, h);
    } catch {
      // a signal this runtime does not let us catch
    }
  }
  const removeHandlers = () => {
    for (const [sig, h] of handlers) process.off(sig, h);
  };
  const started = spawn(spec.file, spec.argv.slice(1), { argv0: spec.argv[0], cwd: spec.cwd, env: spec.env, stdio: "inherit" });
  current.child = started;
  for (const sig of early) started.kill(sig);
  let status: { code: number | null; signal: NodeJS.Signals | null };
  try {
    status = await new Promise((resolve, reject) => {
      started.once("error", reject);
      started.once("exit", (code, signal) => resolve({ code, signal }));
    });
  } catch (e) {
    removeHandlers();
    throw new PhaseError(ExitCode.launch, `failed to launch: exec ${JSON.stringify(spec.file)}: ${(e as Error).message}`);
  }
  removeHandlers();
  if (status.signal) {
    const signo = os.constants.signals[status.signal] ?? 0;
    try {
      process.kill(process.pid, status.signal);
      await new Promise((r) => setTimeout(r, 100));
    } catch {
      // could not re-raise (PID 1 ignores default-action signals): fall through to the shell convention
    }
    return 128 + signo;
  }
  return status.code ?? 1;
}
