/**
 * Environment building shared by the builder and the launcher (spec digest §7.2–7.3 and §8): the env-file rules
 * of `env/`, `env.build/`, `env.launch/` and the build-config `env/`, the layer root directories added to path
 * variables, and the platform's user env.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** A mutable environment. */
export class Env {
  readonly vars: Map<string, string>;

  constructor(init: Record<string, string | undefined> = {}) {
    this.vars = new Map(Object.entries(init).filter((e): e is [string, string] => e[1] !== undefined));
  }

  get(name: string): string | undefined {
    return this.vars.get(name);
  }
  set(name: string, value: string): void {
    this.vars.set(name, value);
  }
  delete(name: string): void {
    this.vars.delete(name);
  }
  /** Prepends `value` to a path-like variable with `:` (or sets it when empty). */
  prependPath(name: string, value: string): void {
    const cur = this.vars.get(name);
    this.vars.set(name, cur ? `${value}:${cur}` : value);
  }
  /** A plain object for `spawn`/`execve`. */
  toRecord(): Record<string, string> {
    return Object.fromEntries(this.vars);
  }
  /** `NAME=value` strings, sorted by name. */
  toList(): string[] {
    return [...this.vars].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`);
  }
}

/** Path variables that buildpacks and the user extend rather than replace. */
export const PATH_VARS = ["PATH", "LD_LIBRARY_PATH", "LIBRARY_PATH", "CPATH", "PKG_CONFIG_PATH"];

/**
 * Applies the env files of one directory: `NAME` (the default action), `NAME.override`, `NAME.default`,
 * `NAME.prepend`, `NAME.append`, with `NAME.delim` as the delimiter for that name in this directory (none if
 * absent). Files are applied in name order; sub-directories are skipped; symlinks are followed. A missing
 * directory is fine.
 *
 * @example applyEnvDir(env, "/layers/bp/layer/env.launch", "override")
 */
export function applyEnvDir(env: Env, dir: string, defaultAction: "override" | "default"): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir).sort();
  } catch {
    return;
  }
  const files = names.filter((n) => {
    try {
      return fs.statSync(path.join(dir, n)).isFile();
    } catch {
      return false;
    }
  });
  const delims = new Map<string, string>();
  for (const f of files) {
    if (f.endsWith(".delim")) delims.set(f.slice(0, f.indexOf(".")), fs.readFileSync(path.join(dir, f), "utf8"));
  }
  for (const f of files) {
    const dot = f.indexOf(".");
    const name = dot < 0 ? f : f.slice(0, dot);
    const suffix = dot < 0 ? "" : f.slice(dot + 1);
    if (suffix === "delim" || name === "") continue;
    const value = fs.readFileSync(path.join(dir, f), "utf8");
    const action = suffix === "" ? defaultAction : suffix;
    const cur = env.get(name) ?? "";
    const delim = delims.get(name) ?? "";
    switch (action) {
      case "override":
        env.set(name, value);
        break;
      case "default":
        if (cur === "") env.set(name, value);
        break;
      case "prepend":
        env.set(name, cur === "" ? value : value + delim + cur);
        break;
      case "append":
        env.set(name, cur === "" ? value : cur + delim + value);
        break;
      default:
        // Unknown suffixes are ignored, as the reference lifecycle does.
        break;
    }
  }
}

/** Which root directories of a layer extend which variables, for build and for launch. */
const ROOT_DIRS: Record<"build" | "launch", [string, string[]][]> = {
  build: [
    ["bin", ["PATH"]],
    ["lib", ["LD_LIBRARY_PATH", "LIBRARY_PATH"]],
    ["include", ["CPATH"]],
    ["pkgconfig", ["PKG_CONFIG_PATH"]],
  ],
  launch: [
    ["bin", ["PATH"]],
    ["lib", ["LD_LIBRARY_PATH"]],
  ],
};

/** Prepends a layer's root directories (`bin`, `lib`, …) that exist to their path variables. */
export function addRootDirs(env: Env, layerDir: string, kind: "build" | "launch"): void {
  for (const [sub, vars] of ROOT_DIRS[kind]) {
    const p = path.join(layerDir, sub);
    let isDir = false;
    try {
      isDir = fs.statSync(p).isDirectory();
    } catch {
      isDir = false;
    }
    if (isDir) { for (const v of vars) env.prependPath(v, p); }
  }
}

/**
 * Applies the platform's user env (`<platform>/env/<NAME>`, files only): path variables get the value prepended
 * with `:`, other variables are replaced.
 */
export function applyPlatformEnv(env: Env, platformDir: string): void {
  const dir = path.join(platformDir, "env");
  let names: string[];
  try {
    names = fs.readdirSync(dir).sort();
  } catch {
    return;
  }
  for (const n of names) {
    const p = path.join(dir, n);
    try {
      if (!fs.statSync(p).isFile()) continue;
    } catch {
      continue;
    }
    const value = fs.readFileSync(p, "utf8");
    if (PATH_VARS.includes(n)) env.prependPath(n, value);
    else env.set(n, value);
  }
}
