/**
 * Running one buildpack's `bin/build` (spec digest §4.4, §7) and reading what it left in its layers directory:
 * `<layer>.toml` files (with `.ignore` renaming), the build env changes of `build=true` layers, build.toml,
 * launch.toml and SBOM files.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "smol-toml";
import type { Require } from "../platform/files.ts";
import { escapeID, processTypeProblem } from "../platform/files.ts";
import { writeToml } from "../platform/toml.ts";
import type { BuildpackDescriptor } from "./descriptor.ts";
import { buildpackApiAtLeast } from "./descriptor.ts";
import { Env, addRootDirs, applyEnvDir } from "./env.ts";
import { withOverrides } from "./buildenv.ts";
import { runProcess } from "./spawn.ts";

/** The Buildpack Plan given to one buildpack (`$CNB_BP_PLAN_PATH`). */
export interface BuildpackPlan {
  entries: Require[];
}

/** A process from launch.toml, with `default` and the buildpack that declared it. */
export interface BuildProcess {
  type: string;
  command: string[];
  args?: string[];
  default: boolean;
  buildpackId: string;
  workingDir?: string;
  execEnv?: string[];
}

/** Which image part an SBOM file belongs to. */
export type SbomLayerType = "launch" | "build" | "cache";

/** An SBOM file a buildpack wrote, and where it is to be copied. */
export interface SbomFile {
  buildpackId: string;
  /** Empty for `launch.sbom.*`/`build.sbom.*`. */
  layerName: string;
  type: SbomLayerType;
  path: string;
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

/** What one buildpack's build produced. */
export interface BuildOutputs {
  /** Names of its plan entries it met (all but build.toml's `unmet`). */
  metRequires: string[];
  processes: BuildProcess[];
  labels: { key: string; value: string }[];
  slices: { paths: string[] }[];
  sbomFiles: SbomFile[];
  buildBom: BomEntry[];
  launchBom: BomEntry[];
  /** Layer name → types, for every `<layer>.toml`. */
  layers: Map<string, LayerTypes>;
}

/** What `bin/build` runs with. */
export interface BuildInputs {
  appDir: string;
  layersDir: string;
  platformDir: string;
  buildConfigDir?: string;
  /**
   * The build env so far: the filtered base env plus earlier buildpacks' `build=true` layers. This buildpack's
   * `build=true` layers are applied to it after its build.
   */
  env: Env;
  targetEnv: Record<string, string>;
  execEnv: string;
  plan: BuildpackPlan;
  /** Receives the buildpack's stdout and stderr. */
  onOutput: (chunk: Uint8Array) => void;
  tmpDir?: string;
}

/** `bin/build` exited non-zero (exit 51). */
export class BuildpackFailure extends Error {
  constructor(
    readonly buildpack: string,
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
    this.name = "BuildpackFailure";
  }
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

const SBOM_EXT: Record<string, string> = {
  "sbom.cdx.json": "application/vnd.cyclonedx+json",
  "sbom.spdx.json": "application/spdx+json",
  "sbom.syft.json": "application/vnd.syft+json",
};

/** The media type of an SBOM file by its name, or undefined for an unsupported one. */
export function sbomMediaType(file: string): string | undefined {
  const name = path.basename(file);
  for (const [ext, mt] of Object.entries(SBOM_EXT)) if (name.endsWith("." + ext)) return mt;
  return undefined;
}

/** The file name an SBOM file gets in `<layers>/sbom/...` (`sbom.cdx.json`, …). */
export function sbomTargetName(file: string): string {
  const name = path.basename(file);
  for (const ext of Object.keys(SBOM_EXT)) if (name.endsWith("." + ext)) return ext;
  throw new Error(`unsupported SBOM format: '${file}'`);
}

function findSbomFiles(bpLayersDir: string, d: BuildpackDescriptor, layers: Map<string, LayerTypes>): SbomFile[] {
  const files: SbomFile[] = [];
  const names = fs
    .readdirSync(bpLayersDir)
    .filter((n) => /^[^/]*\.sbom\.[^/]*\.json$/.test(n))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const n of names) {
    const p = path.join(bpLayersDir, n);
    const layerName = n.split(".")[0];
    if (layerName === "launch" || layerName === "build") {
      files.push({ buildpackId: d.id, layerName: "", type: layerName, path: p });
      continue;
    }
    const t = layers.get(layerName);
    if (!t) continue;
    files.push({ buildpackId: d.id, layerName, type: t.launch ? "launch" : "build", path: p });
    if (t.cache) files.push({ buildpackId: d.id, layerName, type: "cache", path: p });
  }
  const declared = d.sbomFormats.map((f) => f.split(";")[0].trim().toLowerCase());
  for (const f of files) {
    const mt = sbomMediaType(f.path);
    if (!mt) throw new Error(`unsupported SBOM file format: '${f.path}'`);
    if (!declared.includes(mt)) {
      throw new Error(`validating SBOM file '${f.path}' for buildpack: '${d.id}@${d.version}': undeclared SBOM media type: '${mt}'`);
    }
  }
  return files;
}

function readLaunchToml(file: string, d: BuildpackDescriptor): { processes: BuildProcess[]; labels: BuildOutputs["labels"]; slices: BuildOutputs["slices"]; bom: BomEntry[] } {
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
    if (p.direct !== undefined) throw new Error("process.direct is not supported on this buildpack version");
    if (typeof p.command === "string") throw new Error(`${where}.command must be an array of strings on Buildpack API ${d.api} (a string command is for Buildpack API < 0.9)`);
    const command = strings(p.command, `${where}.command`);
    if (command.length === 0) throw new Error(`${where}.command must not be empty`);
    if (p.default !== undefined && typeof p.default !== "boolean") throw new Error(`${where}.default must be a boolean`);
    if (p.default) defaults++;
    const proc: BuildProcess = { type: p.type, command, default: p.default === true, buildpackId: d.id };
    if (p.args !== undefined) proc.args = strings(p.args, `${where}.args`);
    if (p["working-dir"] !== undefined) {
      if (typeof p["working-dir"] !== "string") throw new Error(`${where}.working-dir must be a string`);
      if (p["working-dir"] !== "") proc.workingDir = p["working-dir"];
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

/**
 * The environment of `bin/build`: the build env so far, user env unless `clear-env`, build-config env, then the
 * lifecycle's variables (§7.2).
 */
export function buildEnv(d: BuildpackDescriptor, inputs: BuildInputs, bpLayersDir: string, planPath: string): Record<string, string> {
  const env = withOverrides(inputs.env, d.clearEnv ? undefined : inputs.platformDir, inputs.buildConfigDir).toRecord();
  env.CNB_BUILDPACK_DIR = d.rootDir;
  env.CNB_PLATFORM_DIR = inputs.platformDir;
  env.CNB_BP_PLAN_PATH = planPath;
  env.CNB_LAYERS_DIR = bpLayersDir;
  Object.assign(env, inputs.targetEnv);
  if (buildpackApiAtLeast(d.api, "0.12") && inputs.execEnv) env.CNB_EXEC_ENV = inputs.execEnv;
  return env;
}

/**
 * Runs one buildpack's build and reads its outputs. Throws BuildpackFailure when `bin/build` fails, Error for
 * anything else (bad layer metadata, undeclared SBOM types, unmet names not in the plan, …).
 *
 * @example const out = await runBuild(descriptor, { appDir, layersDir, platformDir, env, targetEnv, execEnv, plan, onOutput })
 */
export async function runBuild(d: BuildpackDescriptor, inputs: BuildInputs): Promise<BuildOutputs> {
  const bpLayersDir = path.join(inputs.layersDir, escapeID(d.id));
  fs.mkdirSync(bpLayersDir, { recursive: true });
  const planDir = fs.mkdtempSync(path.join(inputs.tmpDir ?? os.tmpdir(), `${escapeID(d.id)}-`));
  try {
    const childPlanDir = path.join(planDir, escapeID(d.id));
    fs.mkdirSync(childPlanDir, { recursive: true });
    const planPath = path.join(childPlanDir, "plan.toml");
    writeToml(planPath, inputs.plan);

    const bin = path.join(d.rootDir, "bin", "build");
    const res = await runProcess(bin, [bpLayersDir, inputs.platformDir, planPath], {
      cwd: inputs.appDir,
      env: buildEnv(d, inputs, bpLayersDir, planPath),
      onOutput: inputs.onOutput,
    });
    const name = `${d.id}@${d.version}`;
    if (res.error) throw new BuildpackFailure(name, -1, `buildpack ${name}: cannot run ${bin}: ${res.error.message}`);
    if (res.code !== 0) {
      throw new BuildpackFailure(name, res.code, res.signal ? `buildpack ${name}: bin/build was killed by signal ${res.signal}` : `buildpack ${name}: bin/build exit status ${res.code}`);
    }
    return readBuildOutputs(d, inputs, bpLayersDir);
  } finally {
    fs.rmSync(planDir, { recursive: true, force: true });
  }
}

/** After `bin/build`: layer types and `.ignore` renaming, the build env update, build.toml, SBOMs, launch.toml. */
function readBuildOutputs(d: BuildpackDescriptor, inputs: BuildInputs, bpLayersDir: string): BuildOutputs {
  const layers = new Map<string, LayerTypes>();
  const names = layerNames(bpLayersDir);
  for (const n of names) {
    const layerPath = path.join(bpLayersDir, n);
    let types: LayerTypes;
    try {
      types = readLayerToml(layerPath + ".toml").types;
    } catch (e) {
      throw new Error(`failed to process buildpack layer: failed to decode layer metadata file: ${(e as Error).message}`);
    }
    if (!types.launch && !types.build && !types.cache && fs.existsSync(layerPath)) {
      fs.rmSync(layerPath + ".ignore", { recursive: true, force: true });
      fs.renameSync(layerPath, layerPath + ".ignore");
    }
    layers.set(n, types);
  }
  for (const n of names) {
    if (!layers.get(n)!.build) continue;
    const layerPath = path.join(bpLayersDir, n);
    addRootDirs(inputs.env, layerPath, "build");
    applyEnvDir(inputs.env, path.join(layerPath, "env"), "override");
    applyEnvDir(inputs.env, path.join(layerPath, "env.build"), "override");
  }

  const bp = { id: d.id, version: d.version };
  const buildFile = path.join(bpLayersDir, "build.toml");
  let buildBom: BomEntry[] = [];
  let unmet: string[] = [];
  if (fs.existsSync(buildFile)) {
    const raw = parseFile(buildFile);
    buildBom = bomEntries(raw.bom, buildFile, bp);
    const u = raw.unmet ?? [];
    if (!Array.isArray(u)) throw new Error(`${buildFile}: unmet must be an array of tables`);
    unmet = u.map((x) => {
      const name = isTable(x) ? x.name : undefined;
      if (typeof name !== "string" || name === "") throw new Error("unmet.name is required");
      if (!inputs.plan.entries.some((e) => e.name === name)) throw new Error(`unmet.name '${name}' must match a requested dependency`);
      return name;
    });
  }
  const metRequires = inputs.plan.entries.filter((e) => !unmet.includes(e.name)).map((e) => e.name);
  const sbomFiles = findSbomFiles(bpLayersDir, d, layers);

  const out: BuildOutputs = { metRequires, processes: [], labels: [], slices: [], sbomFiles, buildBom, launchBom: [], layers };
  const launchFile = path.join(bpLayersDir, "launch.toml");
  if (fs.existsSync(launchFile)) {
    const l = readLaunchToml(launchFile, d);
    out.processes = l.processes;
    out.labels = l.labels;
    out.slices = l.slices;
    out.launchBom = l.bom;
  }
  return out;
}
