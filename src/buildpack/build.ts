/**
 * Running one buildpack's `bin/build` (spec digest §4.4, §7) and reading what it left in its layers directory:
 * `<layer>.toml` files (with `.ignore` renaming), the build env changes of `build=true` layers, build.toml,
 * launch.toml and SBOM files.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Require } from "../platform/files.ts";
import { escapeID } from "../platform/files.ts";
import { type BomEntry, type BuildProcess, layerNames, type LayerTypes, readBuildToml, readLaunchToml, readLayerToml } from "./files.ts";

export type { BomEntry, BuildProcess, LayerTypes } from "./files.ts";
import { writeToml } from "../platform/toml.ts";
import type { BuildpackDescriptor } from "./descriptor.ts";
import { buildpackApiAtLeast } from "./descriptor.ts";
import { addRootDirs, applyEnvDir, Env } from "./env.ts";
import { withOverrides } from "./buildenv.ts";
import { runProcess } from "./spawn.ts";

/** The Buildpack Plan given to one buildpack (`$CNB_BP_PLAN_PATH`). */
export interface BuildpackPlan {
  entries: Require[];
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
  /** Receives the warnings about what the buildpack wrote. */
  warn?: (message: string) => void;
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

/**
 * The environment of `bin/build`: the build env so far, user env unless `clear-env`, build-config env, then the
 * lifecycle's variables (§7.2).
 */
export function buildEnv(d: BuildpackDescriptor, inputs: BuildInputs, bpLayersDir: string, planPath: string): Record<string, string> {
  const env = withOverrides(inputs.env, d.clearEnv ? undefined : inputs.platformDir, inputs.buildConfigDir).toRecord();
  env.CNB_BUILDPACK_DIR = d.rootDir;
  // Buildpack API 0.7 has the positional arguments only; 0.8 adds their variables; 0.10 the target's.
  if (buildpackApiAtLeast(d.api, "0.8")) {
    env.CNB_PLATFORM_DIR = inputs.platformDir;
    env.CNB_BP_PLAN_PATH = planPath;
    env.CNB_LAYERS_DIR = bpLayersDir;
  }
  if (buildpackApiAtLeast(d.api, "0.10")) Object.assign(env, inputs.targetEnv);
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
      throw new BuildpackFailure(
        name,
        res.code,
        res.signal ? `buildpack ${name}: bin/build was killed by signal ${res.signal}` : `buildpack ${name}: bin/build exit status ${res.code}`,
      );
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
  const { bom: buildBom, unmet } = fs.existsSync(buildFile) ? readBuildToml(buildFile, bp) : { bom: [], unmet: [] };
  for (const name of unmet) {
    if (!inputs.plan.entries.some((e) => e.name === name)) throw new Error(`unmet.name '${name}' must match a requested dependency`);
  }
  const metRequires = inputs.plan.entries.filter((e) => !unmet.includes(e.name)).map((e) => e.name);
  const sbomFiles = findSbomFiles(bpLayersDir, d, layers);

  const out: BuildOutputs = { metRequires, processes: [], labels: [], slices: [], sbomFiles, buildBom, launchBom: [], layers };
  const launchFile = path.join(bpLayersDir, "launch.toml");
  if (fs.existsSync(launchFile)) {
    const l = readLaunchToml(launchFile, d, inputs.warn);
    out.processes = l.processes;
    out.labels = l.labels;
    out.slices = l.slices;
    out.launchBom = l.bom;
  }
  // The legacy BOM still works for every Buildpack API, with the reference's warning when no SBOM file says it.
  if ((out.launchBom.length || buildBom.length) && sbomFiles.length === 0) {
    inputs.warn?.(
      "BOM table is deprecated in this buildpack api version, though it remains supported for backwards compatibility. Buildpack authors should write BOM information to <layer>.sbom.<ext>, launch.sbom.<ext>, or build.sbom.<ext>.",
    );
  }
  return out;
}
