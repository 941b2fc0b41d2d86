/**
 * The files a buildpack writes in its layers directory, read and checked (spec digest §5): `<layer>.toml`
 * (layer content metadata), launch.toml (processes, labels, slices, legacy BOM) and build.toml (unmet, legacy BOM).
 * Errors name the file and the field.
 */
import * as fs from "node:fs";
import { parse } from "smol-toml";
import { processTypeProblem } from "../platform/files.ts";
import type { BuildpackDescriptor } from "./descriptor.ts";

/** A process from launch.toml, with `default` and the buildpack that declared it. */
export interface BuildProcess {
  type: string;
  command: string[];
  args?: string[];
  default: boolean;
  /** Exec the command directly (true), or as a bash script with the profile scripts (Buildpack API < 0.9 only). */
  direct: boolean;
  buildpackId: string;
  workingDir?: string;
  execEnv?: string[];
}

/** The types of one layer, as its `<layer>.toml` says. */
export interface LayerTypes {
  launch: boolean;
  build: boolean;
  cache: boolean;
}

/** A legacy BOM entry (`bom` of launch.toml or build.toml), with the buildpack it came from. */
export interface BomEntry {
  name: string;
  metadata?: Record<string, unknown>;
  buildpack: { id: string; version: string };
}

/** What launch.toml holds. */
export interface LaunchToml {
  processes: BuildProcess[];
  labels: { key: string; value: string }[];
  slices: { paths: string[] }[];
  bom: BomEntry[];
}

/** Layer names that are not layers: the buildpack's own output files. */
const NOT_LAYERS = new Set(["launch", "build", "store"]);

function isTable(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date);
}

function parseFile(file: string): Record<string, unknown> {
  const text = fs.readFileSync(file, "utf8");
  try {
    return parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file} is not valid TOML: ${(e as Error).message.split("\n")[0]}`);
  }
}

function strings(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) throw new Error(`${what} must be an array of strings`);
  return v as string[];
}

/**
 * Reads a `<layer>.toml`: the types from `[types]` (missing = all false). Top-level `launch`/`build`/`cache`
 * keys are rejected, as the reference does.
 */
export function readLayerToml(file: string): { types: LayerTypes; metadata?: Record<string, unknown> } {
  const raw = parseFile(file);
  if ("launch" in raw || "build" in raw || "cache" in raw) throw new Error(`the launch, cache and build flags should be in the types table of ${file}`);
  const t = isTable(raw.types) ? raw.types : {};
  const flag = (k: string) => {
    const v = t[k];
    if (v !== undefined && typeof v !== "boolean") throw new Error(`types.${k} in ${file} must be a boolean`);
    return v === true;
  };
  return { types: { launch: flag("launch"), build: flag("build"), cache: flag("cache") }, metadata: isTable(raw.metadata) ? raw.metadata : undefined };
}

/** The `<layer>.toml` files of a buildpack's layers dir as layer names, in the reference's order (by file name). */
export function layerNames(bpLayersDir: string): string[] {
  let ents: fs.Dirent[];
  try {
    ents = fs.readdirSync(bpLayersDir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  return ents
    .filter((e) => !e.isDirectory() && e.name.endsWith(".toml"))
    .map((e) => e.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((n) => n.slice(0, -".toml".length))
    .filter((n) => !NOT_LAYERS.has(n));
}

function bomEntries(raw: unknown, where: string, bp: { id: string; version: string }): BomEntry[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new Error(`${where}: bom must be an array of tables`);
  return raw.map((e, i) => {
    if (!isTable(e) || typeof e.name !== "string") throw new Error(`${where}: bom[${i}].name must be a string`);
    if (e.version !== undefined && e.version !== "") {
      throw new Error(`bom entry '${e.name}' has a top level version which is not allowed. The buildpack should instead set metadata.version`);
    }
    const out: BomEntry = { name: e.name, buildpack: { id: bp.id, version: bp.version } };
    if (isTable(e.metadata)) out.metadata = e.metadata;
    return out;
  });
}

/** Compares two `X.Y` API versions. */
function apiBefore(api: string, than: string): boolean {
  const [a, b] = api.split(".").map(Number);
  const [c, e] = than.split(".").map(Number);
  return a < c || (a === c && b < e);
}

/**
 * Reads launch.toml as the buildpack's API defines it: before Buildpack API 0.9 `command` is one string and
 * `direct` may be set (unset: false, a shell process); from 0.9 `command` is an array and every process is direct
 * (a `direct` key is an error). Before 0.8 there is no `working-dir`: it is dropped, with a warning.
 */
export function readLaunchToml(file: string, d: Pick<BuildpackDescriptor, "id" | "version" | "api">, warn: (message: string) => void = () => {}): LaunchToml {
  const legacy = apiBefore(d.api, "0.9");
  const raw = parseFile(file);
  const procs = raw.processes ?? [];
  if (!Array.isArray(procs)) throw new Error(`${file}: processes must be an array of tables`);
  let defaults = 0;
  const processes = procs.map((p, i): BuildProcess => {
    const where = `${file}: processes[${i}]`;
    if (!isTable(p)) throw new Error(`${where} must be a table`);
    if (typeof p.type !== "string" || p.type === "") throw new Error(`${where}.type must be a non-empty string`);
    const problem = processTypeProblem(p.type);
    if (problem) throw new Error(`${where}: ${problem}`);
    let command: string[];
    let direct = true;
    if (legacy) {
      if (typeof p.command !== "string") {
        throw new Error(`${where}.command must be a string on Buildpack API ${d.api} (an array is for Buildpack API 0.9 and later)`);
      }
      command = [p.command];
      if (p.direct !== undefined && typeof p.direct !== "boolean") throw new Error(`${where}.direct must be a boolean`);
      direct = p.direct === true;
    } else {
      if (p.direct !== undefined) throw new Error("process.direct is not supported on this buildpack version");
      if (typeof p.command === "string") {
        throw new Error(`${where}.command must be an array of strings on Buildpack API ${d.api} (a string command is for Buildpack API < 0.9)`);
      }
      command = strings(p.command, `${where}.command`);
    }
    if (command.length === 0 || command[0] === "") throw new Error(`${where}.command must not be empty`);
    if (p.default !== undefined && typeof p.default !== "boolean") throw new Error(`${where}.default must be a boolean`);
    if (p.default) defaults++;
    const proc: BuildProcess = { type: p.type, command, default: p.default === true, direct, buildpackId: d.id };
    if (p.args !== undefined) proc.args = strings(p.args, `${where}.args`);
    if (p["working-dir"] !== undefined) {
      if (typeof p["working-dir"] !== "string") throw new Error(`${where}.working-dir must be a string`);
      if (p["working-dir"] !== "" && apiBefore(d.api, "0.8")) {
        warn(`process working directory isn't supported in this buildpack api version. Ignoring working directory for process '${p.type}'`);
      } else if (p["working-dir"] !== "") proc.workingDir = p["working-dir"];
    }
    if (p["exec-env"] !== undefined) proc.execEnv = strings(p["exec-env"], `${where}.exec-env`);
    return proc;
  });
  if (defaults > 1) throw new Error("multiple default process types aren't allowed");
  const labelsRaw = raw.labels ?? [];
  if (!Array.isArray(labelsRaw)) throw new Error(`${file}: labels must be an array of tables`);
  const labels = labelsRaw.map((l, i) => {
    if (!isTable(l) || typeof l.key !== "string" || typeof (l.value ?? "") !== "string") throw new Error(`${file}: labels[${i}] needs string key and value`);
    return { key: l.key, value: (l.value as string | undefined) ?? "" };
  });
  const slicesRaw = raw.slices ?? [];
  if (!Array.isArray(slicesRaw)) throw new Error(`${file}: slices must be an array of tables`);
  const slices = slicesRaw.map((s, i) => ({ paths: isTable(s) && s.paths !== undefined ? strings(s.paths, `${file}: slices[${i}].paths`) : [] }));
  return { processes, labels, slices, bom: bomEntries(raw.bom, file, d) };
}

/** Reads build.toml: its legacy BOM and the names of its `[[unmet]]` entries. */
export function readBuildToml(file: string, bp: { id: string; version: string }): { bom: BomEntry[]; unmet: string[] } {
  const raw = parseFile(file);
  const u = raw.unmet ?? [];
  if (!Array.isArray(u)) throw new Error(`${file}: unmet must be an array of tables`);
  const unmet = u.map((x) => {
    const name = isTable(x) ? x.name : undefined;
    if (typeof name !== "string" || name === "") throw new Error("unmet.name is required");
    return name;
  });
  return { bom: bomEntries(raw.bom, file, bp), unmet };
}
