/**
 * exec.d programs (spec digest §8): each runs with the current launch env, cwd `<app>`, stdout and stderr
 * inherited, and a pipe as fd 3 on which it writes TOML `NAME = "value"` pairs; each pair overrides that variable
 * before the next program runs. A failure or bad output fails the launch (82).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { parse } from "smol-toml";
import type { Env } from "../buildpack/env.ts";
import { ExitCode, PhaseError } from "../ground/errors.ts";

function execdError(message: string): PhaseError {
  return new PhaseError(ExitCode.launch, `failed to launch: exec.d: ${message}`);
}

interface Outcome {
  code: number | null;
  signal: string | null;
  output: string;
}

/** Runs one program with fd 3 as a pipe; resolves to its status and what it wrote on fd 3. */
async function runWithFd3(file: string, env: Record<string, string>, cwd: string): Promise<Outcome> {
  const bun = (globalThis as { Bun?: typeof Bun }).Bun;
  if (bun) {
    const proc = bun.spawn([file], { cwd, env, stdio: ["ignore", "inherit", "inherit", "pipe"] } as Parameters<typeof Bun.spawn>[1]);
    const fd = (proc.stdio as unknown[])[3];
    if (typeof fd !== "number") throw new Error("no pipe for fd 3");
    let output: string;
    try {
      output = await bun.file(fd).text();
    } finally {
      try {
        fs.closeSync(fd);
      } catch {
        // already closed by the reader
      }
    }
    await proc.exited;
    return { code: proc.exitCode, signal: proc.signalCode == null ? null : String(proc.signalCode), output };
  }
  return await new Promise<Outcome>((resolve, reject) => {
    const child = spawn(file, [], { cwd, env, stdio: ["ignore", "inherit", "inherit", "pipe"] });
    const chunks: Buffer[] = [];
    const pipe = child.stdio[3] as NodeJS.ReadableStream | null;
    pipe?.on("data", (d: Buffer) => chunks.push(Buffer.from(d)));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, output: Buffer.concat(chunks).toString("utf8") }));
  });
}

/** Parses an exec.d program's output: top-level string values only. */
export function parseExecDOutput(text: string): Record<string, string> {
  const data = parse(text) as Record<string, unknown>;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) {
    if (typeof v !== "string") throw new Error(`value of ${k} is not a string`);
    out[k] = v;
  }
  return out;
}

/**
 * Runs one exec.d program and applies its output to `env`.
 *
 * @example await runExecD("/layers/bp/layer/exec.d/set-port", env, "/workspace")
 */
export async function runExecD(file: string, env: Env, cwd: string): Promise<void> {
  let r: Outcome;
  try {
    r = await runWithFd3(file, env.toRecord(), cwd);
  } catch (e) {
    throw execdError(`failed to execute exec.d file at path '${file}': ${(e as Error).message}`);
  }
  if (r.code !== 0) {
    const how = r.signal ? `was killed by signal ${r.signal}` : `exited with status ${r.code}`;
    throw execdError(`failed to execute exec.d file at path '${file}': it ${how}`);
  }
  let vars: Record<string, string>;
  try {
    vars = parseExecDOutput(r.output);
  } catch (e) {
    throw execdError(`failed to decode output from exec.d file at path '${file}': ${(e as Error).message.split("\n")[0]}`);
  }
  for (const [k, v] of Object.entries(vars)) env.set(k, v);
}
