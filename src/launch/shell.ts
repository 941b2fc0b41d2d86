/**
 * Shell processes (`direct = false`, spec digest §8): one bash that sources the profile scripts, `cd`s to the
 * working directory and execs the command, with the reference launcher's argv conventions:
 * `bash -c '<source lines>; cd <wd>; <tail>' <caller> <command> <args…>`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { LaunchBuildpack } from "./metadata.ts";
import { layerScripts } from "./env.ts";

/** Quotes a string for bash as one word. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * The profile scripts for a process type, in the reference order: per buildpack and layer, `profile.d/*` then
 * `profile.d/<type>/*`; then `<app>/.profile` when it exists and is not a directory.
 */
export function profileScripts(layersDir: string, appDir: string, buildpacks: LaunchBuildpack[], type: string): string[] {
  const out = layerScripts(layersDir, buildpacks, "profile.d", type);
  const appProfile = path.join(appDir, ".profile");
  try {
    if (!fs.statSync(appProfile).isDirectory()) out.push(appProfile);
  } catch {
    // no app profile
  }
  return out;
}

/**
 * The tail that runs the command in a nested bash. Without args the command is a script (`exec bash -c "$@"`);
 * with args every token is re-evaluated with `eval echo`, so `$VAR` expands while word boundaries stay.
 */
export function bashTail(nArgs: number): string {
  if (nArgs === 0) return `exec bash -c "$@"`;
  let tokens = `"$(eval echo \\"$0\\")"`;
  for (let i = 1; i <= nArgs; i++) tokens += ` "$(eval echo \\"\${${i}}\\")"`;
  return `exec bash -c '${tokens}' "\${@:1}"`;
}

/**
 * Builds the bash argv for a shell process.
 *
 * @example bashArgv({ profiles: ["/layers/bp/l/profile.d/a.sh"], workingDir: "/workspace", caller: "/cnb/lifecycle/launcher", command: "echo hi", args: [] })
 */
export function bashArgv(o: { profiles: string[]; workingDir: string; caller: string; command: string; args: string[] }): string[] {
  const lines = o.profiles.map((p) => `source ${shellQuote(p)}`);
  lines.push(`cd ${shellQuote(o.workingDir)}`);
  lines.push(bashTail(o.args.length));
  return ["bash", "-c", lines.join("\n"), o.caller, o.command, ...o.args];
}
