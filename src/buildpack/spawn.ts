/** Runs a buildpack executable with a given environment, collecting its stdout and stderr as they come. */
import { spawn } from "node:child_process";

/** The buildpack processes running now (stopped with the lifecycle on SIGTERM/SIGINT). */
const running = new Set<ReturnType<typeof spawn>>();

/** Sends `signal` to every buildpack process still running. */
export function signalChildren(signal: NodeJS.Signals): void {
  for (const c of running) c.kill(signal);
}

/** How a buildpack process ended. `code` is -1 when it could not be started or was killed by a signal. */
export interface ProcessResult {
  code: number;
  signal?: string;
  /** Why it could not be started (ENOENT, EACCES, …). */
  error?: Error;
}

/** Options for {@link runProcess}. */
export interface RunProcessOptions {
  cwd: string;
  env: Record<string, string>;
  /** Receives stdout and stderr chunks, in the order they arrive. */
  onOutput: (chunk: Uint8Array) => void;
}

/**
 * Runs `file args...` with stdin closed and both output streams passed to `onOutput`.
 *
 * @example await runProcess("/cnb/buildpacks/bp/1.0/bin/detect", ["/platform", "/tmp/plan.toml"], { cwd: "/workspace", env, onOutput })
 */
export function runProcess(file: string, args: string[], opts: RunProcessOptions): Promise<ProcessResult> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: ProcessResult) => {
      if (!settled) {
        settled = true;
        resolve(r);
      }
    };
    let child;
    try {
      child = spawn(file, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      done({ code: -1, error: e as Error });
      return;
    }
    running.add(child);
    const started = child;
    child.on("close", () => running.delete(started));
    child.stdout?.on("data", (c: Uint8Array) => opts.onOutput(c));
    child.stderr?.on("data", (c: Uint8Array) => opts.onOutput(c));
    child.on("error", (e) => done({ code: -1, error: e }));
    child.on("close", (code, signal) => done(code === null ? { code: -1, signal: signal ?? undefined } : { code }));
  });
}
