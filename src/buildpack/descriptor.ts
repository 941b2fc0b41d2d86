/**
 * Buildpack descriptors (`buildpack.toml`, spec digest §5) and the store they are looked up in:
 * `<buildpacks>/<id with / → _>/<version>/buildpack.toml`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { GroupElement } from "../platform/files.ts";
import { escapeID } from "../platform/files.ts";
import { readToml, TomlFileError } from "../platform/toml.ts";

/** A target a buildpack declares (`[[targets]]`), or one inferred for it. Empty fields match anything. */
export interface BuildpackTarget {
  os?: string;
  arch?: string;
  /** `arch-variant` (reference) or `variant` (spec); both are read. */
  archVariant?: string;
  distros?: { name?: string; version?: string }[];
}

/** An `[[order]]` of a composite buildpack or of order.toml. */
export interface OrderGroup {
  group: GroupElement[];
}

/** What the lifecycle needs from one buildpack.toml. */
export interface BuildpackDescriptor {
  /** Buildpack API (`api`). */
  api: string;
  id: string;
  version: string;
  name?: string;
  homepage?: string;
  /** `clear-env`: the buildpack does not get the platform's user env. */
  clearEnv: boolean;
  /** `sbom-formats`: media types of the SBOM files it may write. */
  sbomFormats: string[];
  /** `exec-env` (either `exec-env = [..]` or `[[buildpack.exec-env]] name = ..`); empty means every environment. */
  execEnv: string[];
  /** Declared targets, or the ones inferred from legacy stacks or from `bin/build` (§5). */
  targets: BuildpackTarget[];
  /** `[[order]]` of a composite buildpack; undefined for a component buildpack. */
  order?: OrderGroup[];
  /** The directory holding buildpack.toml (absolute). */
  rootDir: string;
  /** The descriptor file. */
  file: string;
}

/** A buildpack.toml that is missing or malformed. */
export class DescriptorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DescriptorError";
  }
}

function str(v: unknown, what: string, file: string, required = false): string | undefined {
  if (v === undefined) {
    if (required) throw new DescriptorError(`${file}: ${what} is required`);
    return undefined;
  }
  if (typeof v !== "string") throw new DescriptorError(`${file}: ${what} must be a string`);
  return v;
}

function table(v: unknown): Record<string, unknown> {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function list(v: unknown, what: string, file: string): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new DescriptorError(`${file}: ${what} must be an array`);
  return v;
}

/**
 * Parses the `[[order]]` tables of order.toml or of a composite buildpack.toml into groups of elements.
 *
 * @example parseOrder(readToml("/cnb/order.toml").order, "/cnb/order.toml")
 */
export function parseOrder(raw: unknown, file: string): OrderGroup[] {
  return list(raw, "order", file).map((g, i) => ({
    group: list(table(g).group, `order[${i}].group`, file).map((e, j) => {
      const t = table(e);
      const where = `order[${i}].group[${j}]`;
      const el: GroupElement = { id: str(t.id, `${where}.id`, file, true) as string, version: str(t.version, `${where}.version`, file) ?? "" };
      if (t.optional !== undefined) {
        if (typeof t.optional !== "boolean") throw new DescriptorError(`${file}: ${where}.optional must be a boolean`);
        if (t.optional) el.optional = true;
      }
      return el;
    }),
  }));
}

function parseTargets(raw: unknown, file: string): BuildpackTarget[] {
  return list(raw, "targets", file).map((x, i) => {
    const t = table(x);
    const where = `targets[${i}]`;
    return {
      os: str(t.os, `${where}.os`, file),
      arch: str(t.arch, `${where}.arch`, file),
      archVariant: str(t["arch-variant"], `${where}.arch-variant`, file) ?? str(t.variant, `${where}.variant`, file),
      distros: list(t.distros, `${where}.distros`, file).map((d, j) => ({
        name: str(table(d).name, `${where}.distros[${j}].name`, file),
        version: str(table(d).version, `${where}.distros[${j}].version`, file),
      })),
    };
  });
}

function parseExecEnv(raw: unknown, file: string): string[] {
  return list(raw, "buildpack.exec-env", file).map((x, i) => {
    if (typeof x === "string") return x;
    const name = table(x).name;
    if (typeof name !== "string") throw new DescriptorError(`${file}: buildpack.exec-env[${i}] must be a string or a table with a name`);
    return name;
  });
}

/** Compares `X.Y` API versions numerically. */
function apiAtLeast(api: string, min: string): boolean {
  const [a, b] = api.split(".").map(Number);
  const [c, d] = min.split(".").map(Number);
  return a > c || (a === c && b >= d);
}

/** The targets the reference infers when buildpack.toml declares none (§5). */
function inferTargets(api: string, stacks: unknown[], rootDir: string): BuildpackTarget[] {
  const out: BuildpackTarget[] = [];
  for (const s of stacks) {
    const id = table(s).id;
    if (id === "io.buildpacks.stacks.bionic") {
      if (apiAtLeast(api, "0.10") || stacks.length === 1) out.push({ os: "linux", arch: "amd64", distros: [{ name: "ubuntu", version: "18.04" }] });
    } else if (id === "*") {
      out.push({ distros: [] });
    }
  }
  if (out.length > 0) return out;
  let bin: string[] = [];
  try {
    bin = fs.readdirSync(path.join(rootDir, "bin"));
  } catch {
    bin = [];
  }
  if (bin.includes("build")) out.push({ os: "linux", distros: [] });
  if (bin.includes("build.bat") || bin.includes("build.exe")) out.push({ os: "windows", distros: [] });
  return out;
}

/**
 * Reads and checks one buildpack.toml.
 *
 * @example readBuildpackDescriptor("/cnb/buildpacks/example_bash/1.0.0/buildpack.toml").api // "0.12"
 */
export function readBuildpackDescriptor(file: string): BuildpackDescriptor {
  let raw: Record<string, unknown>;
  try {
    raw = readToml<Record<string, unknown>>(file, "buildpack descriptor");
  } catch (e) {
    if (e instanceof TomlFileError) throw new DescriptorError(e.message);
    throw e;
  }
  const rootDir = path.resolve(path.dirname(file));
  const api = str(raw.api, "api", file, true) as string;
  const bp = table(raw.buildpack);
  if (raw.buildpack === undefined) throw new DescriptorError(`${file}: [buildpack] is required`);
  const clearEnv = bp["clear-env"] ?? false;
  if (typeof clearEnv !== "boolean") throw new DescriptorError(`${file}: buildpack.clear-env must be a boolean`);
  const sbomFormats = list(bp["sbom-formats"], "buildpack.sbom-formats", file).map((x) => {
    if (typeof x !== "string") throw new DescriptorError(`${file}: buildpack.sbom-formats must hold strings`);
    return x;
  });
  const order = raw.order === undefined ? undefined : parseOrder(raw.order, file);
  const declared = parseTargets(raw.targets, file);
  return {
    api,
    id: str(bp.id, "buildpack.id", file, true) as string,
    version: str(bp.version, "buildpack.version", file) ?? "",
    name: str(bp.name, "buildpack.name", file),
    homepage: str(bp.homepage, "buildpack.homepage", file),
    clearEnv,
    sbomFormats,
    execEnv: parseExecEnv(bp["exec-env"], file),
    targets: declared.length > 0 ? declared : inferTargets(api, list(raw.stacks, "stacks", file), rootDir),
    order: order && order.length > 0 ? order : undefined,
    rootDir,
    file,
  };
}

/** The directory of buildpack `id@version` inside a buildpacks directory. */
export function buildpackPath(buildpacksDir: string, id: string, version: string): string {
  return path.join(buildpacksDir, escapeID(id), version);
}

/**
 * Looks buildpacks up by ID and version in a buildpacks directory, reading each descriptor once.
 *
 * @example new BuildpackStore("/cnb/buildpacks").lookup("example/bash", "1.0.0").rootDir
 */
export class BuildpackStore {
  private readonly cache = new Map<string, BuildpackDescriptor>();

  constructor(readonly dir: string) {}

  /** The descriptor of `id@version`; throws DescriptorError when it is missing or malformed. */
  lookup(id: string, version: string): BuildpackDescriptor {
    const key = `${id}@${version}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const file = path.join(buildpackPath(this.dir, id, version), "buildpack.toml");
    if (!fs.existsSync(file)) throw new DescriptorError(`buildpack ${key} not found: no ${file}`);
    const d = readBuildpackDescriptor(file);
    this.cache.set(key, d);
    return d;
  }
}

/** Whether a Buildpack API version is at least `min`. */
export function buildpackApiAtLeast(api: string, min: string): boolean {
  return apiAtLeast(api, min);
}
