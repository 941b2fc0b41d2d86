/**
 * The builder (spec digest §4.4, §7): runs each group buildpack's `bin/build` in order with its filtered
 * Buildpack Plan, carries `build=true` layers' env to later buildpacks, collects processes, labels, slices and
 * SBOMs, and writes `<layers>/config/metadata.toml`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ExitCode, PhaseError } from "../ground/errors.ts";
import type { Logger } from "../ground/log.ts";
import { checkBuildpackApi, compareApi } from "../ground/api.ts";
import type { AnalyzedFile, BuildMetadataFile, GroupFile, PlanFile, ProcessEntry, Require } from "../platform/files.ts";
import { escapeID } from "../platform/files.ts";
import { TomlFileError, writeToml } from "../platform/toml.ts";
import { readAnalyzedIfExists, readGroup, readPlan } from "../platform/readers.ts";
import { type BomEntry, BuildpackFailure, type BuildProcess, runBuild, type SbomFile, sbomTargetName } from "../buildpack/build.ts";
import { baseBuildEnv } from "../buildpack/buildenv.ts";
import { BuildpackStore, DescriptorError } from "../buildpack/descriptor.ts";
import { resolveTarget, targetEnv } from "../buildpack/target.ts";

/** Everything the builder needs, resolved. */
export interface BuildOptions {
  appDir: string;
  buildpacksDir: string;
  buildConfigDir?: string;
  layersDir: string;
  platformDir: string;
  /** group.toml; ignored when `group` is given. */
  groupPath?: string;
  group?: GroupFile;
  /** plan.toml; ignored when `plan` is given. */
  planPath?: string;
  plan?: PlanFile;
  /** analyzed.toml for the target env vars; a missing file only warns. Ignored when `analyzed` is given. */
  analyzedPath?: string;
  analyzed?: AnalyzedFile;
  platformApi: string;
  /** `CNB_EXEC_ENV`; default `production`. */
  execEnv?: string;
  /** The lifecycle's environment: the base of the buildpacks' env (filtered, §7.2). Never mutated. */
  env: Record<string, string | undefined>;
  /** Parent of the temporary plan directories (default: the OS temp dir). */
  tmpDir?: string;
  /** The build container's os-release, read when the run image has no distro (default `/etc/os-release`). */
  osReleasePath?: string;
  /** Receives each line the buildpacks print (stdout and stderr); default: the logger's stdout sink. */
  output?: (line: string) => void;
}

/** The path of metadata.toml under a layers dir. */
export function metadataPath(layersDir: string): string {
  return path.join(layersDir, "config", "metadata.toml");
}

/** Splits a byte stream into lines for a line sink. */
class LineWriter {
  private buf = "";
  private readonly dec = new TextDecoder();
  constructor(private readonly sink: (line: string) => void) {}
  write = (chunk: Uint8Array): void => {
    this.buf += this.dec.decode(chunk, { stream: true });
    let i: number;
    while ((i = this.buf.indexOf("\n")) >= 0) {
      this.sink(this.buf.slice(0, i));
      this.buf = this.buf.slice(i + 1);
    }
  };
  flush(): void {
    this.buf += this.dec.decode();
    if (this.buf.length > 0) this.sink(this.buf);
    this.buf = "";
  }
}

/** Processes by type; a later one replaces an earlier one; the default is the last `default = true` (ref). */
class ProcessMap {
  readonly byType = new Map<string, BuildProcess>();
  defaultType = "";

  add(list: BuildProcess[], log: Logger): void {
    for (const p of list) {
      if (p.default) this.defaultType = p.type;
      else if (p.type === this.defaultType) {
        this.defaultType = "";
        log.warn(`redefining the following default process type with a process not marked as default: ${p.type}`);
      }
      this.byType.set(p.type, p);
    }
  }

  /**
   * The processes for metadata.toml, sorted by type. Before Platform API 0.10 `command` is one string: the first
   * entry, the others going in front of the args, as the reference writes it.
   */
  list(platformApi: string): ProcessEntry[] {
    const stringCommand = compareApi(platformApi, "0.10") < 0;
    return [...this.byType.keys()]
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      .map((t) => {
        const p = this.byType.get(t)!;
        const args = stringCommand ? [...p.command.slice(1), ...(p.args ?? [])] : p.args;
        const e: ProcessEntry = { type: p.type, command: stringCommand ? p.command[0] : p.command };
        if (args && args.length > 0) e.args = args;
        e.direct = p.direct;
        e["buildpack-id"] = p.buildpackId;
        if (p.workingDir) e["working-dir"] = p.workingDir;
        if (p.execEnv && p.execEnv.length > 0) e["exec-env"] = p.execEnv;
        return e;
      });
  }
}

/** Go's encoding/json output (HTML characters escaped, trailing newline), for the legacy BOM files. */
function goJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (x instanceof Date ? x.toISOString() : x)).replace(
    /[<>&\u2028\u2029]/g,
    (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"),
  ) + "\n";
}

/** `sbom.legacy.json`: the legacy BOM entries as the reference encodes them (`null` when there are none). */
function legacyBom(entries: BomEntry[]): string {
  if (entries.length === 0) return "null\n";
  const sortKeys = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sortKeys);
    if (x && typeof x === "object" && !(x instanceof Date)) {
      return Object.fromEntries(Object.keys(x as object).sort().map((k) => [k, sortKeys((x as Record<string, unknown>)[k])]));
    }
    return x;
  };
  return goJson(
    entries.map((e) => ({
      name: e.name,
      metadata: e.metadata === undefined ? null : sortKeys(e.metadata),
      buildpack: { id: e.buildpack.id, version: e.buildpack.version },
    })),
  );
}

function copySboms(layersDir: string, files: SbomFile[]): void {
  for (const f of files) {
    const dir = path.join(layersDir, "sbom", f.type, escapeID(f.buildpackId), f.layerName);
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(f.path, path.join(dir, sbomTargetName(f.path)));
  }
}

/** The Buildpack Plan of buildpack `id`: the requires of every entry it is a provider of. */
export function planFor(plan: PlanFile, id: string): { entries: Require[] } {
  const out: Require[] = [];
  for (const e of plan.entries ?? []) {
    if ((e.providers ?? []).some((p) => p.id === id && !p.extension)) out.push(...(e.requires ?? []));
  }
  return { entries: out };
}

/** The plan without the entries that have a require named in `met`. */
export function filterPlan(plan: PlanFile, met: string[]): PlanFile {
  return { entries: (plan.entries ?? []).filter((e) => !(e.requires ?? []).some((r) => met.includes(r.name))) };
}

function readInput<T>(file: string | undefined, what: string, read: (file: string, what: string) => T): T {
  if (!file) throw new PhaseError(ExitCode.failed, `failed to build: no ${what} given`);
  try {
    return read(file, what);
  } catch (e) {
    if (e instanceof TomlFileError) throw new PhaseError(ExitCode.failed, `failed to build: ${e.message}`);
    throw e;
  }
}

/**
 * Runs the build. Resolves to the build metadata, also written to `<layers>/config/metadata.toml`. Throws
 * PhaseError 51 (a `bin/build` failed), 52 (other build errors), 12 (unsupported Buildpack API in the group)
 * or 1 (unreadable group or plan).
 *
 * @example const md = await build({ appDir, buildpacksDir, layersDir, platformDir, groupPath, planPath, platformApi: "0.15", env: process.env }, log)
 */
export async function build(opts: BuildOptions, log: Logger): Promise<BuildMetadataFile> {
  const group = opts.group ?? readInput(opts.groupPath, "group", readGroup);
  let plan: PlanFile = opts.plan ?? readInput(opts.planPath, "plan", readPlan);
  if (!Array.isArray(group.group)) throw new PhaseError(ExitCode.failed, "failed to build: group.toml has no [[group]]");
  for (const bp of group.group) checkBuildpackApi(`${bp.id}@${bp.version}`, bp.api);
  let analyzed: AnalyzedFile = opts.analyzed ?? {};
  if (!opts.analyzed && opts.analyzedPath) {
    try {
      const a = readAnalyzedIfExists(opts.analyzedPath, "analyzed metadata");
      if (a) analyzed = a;
      else log.warn(`No analyzed metadata found at path "${opts.analyzedPath}"`);
    } catch (e) {
      throw new PhaseError(ExitCode.failed, `failed to build: ${(e as Error).message}`);
    }
  }
  const target = targetEnv(resolveTarget(analyzed["run-image"]?.target, opts.osReleasePath));
  const execEnv = opts.execEnv ?? "production";
  const env = baseBuildEnv(opts.env);
  const store = new BuildpackStore(opts.buildpacksDir);
  const out = new LineWriter(opts.output ?? ((l) => log.sink.out(l)));

  const procs = new ProcessMap();
  const labels: { key: string; value: string }[] = [];
  const slices: { paths: string[] }[] = [];
  const sboms: SbomFile[] = [];
  const launchBom: BomEntry[] = [];
  const buildBom: BomEntry[] = [];

  try {
    fs.rmSync(path.join(opts.layersDir, "sbom"), { recursive: true, force: true });
    for (const bp of group.group) {
      log.debug(`Running build for buildpack ${bp.id}@${bp.version}`);
      const d = store.lookup(bp.id, bp.version);
      let r;
      try {
        r = await runBuild(d, {
          appDir: opts.appDir,
          layersDir: opts.layersDir,
          platformDir: opts.platformDir,
          buildConfigDir: opts.buildConfigDir,
          env,
          targetEnv: target,
          execEnv,
          plan: planFor(plan, bp.id),
          onOutput: out.write,
          warn: (m) => log.warn(m),
          tmpDir: opts.tmpDir,
        });
      } finally {
        out.flush();
      }
      plan = filterPlan(plan, r.metRequires);
      procs.add(r.processes, log);
      labels.push(...r.labels);
      slices.push(...r.slices);
      sboms.push(...r.sbomFiles);
      launchBom.push(...r.launchBom);
      buildBom.push(...r.buildBom);
      log.debug(`Finished running build for buildpack ${bp.id}@${bp.version}`);
    }

    // SBOM files are copied from Platform API 0.8; the legacy BOM goes to sbom.legacy.json from 0.9, before that
    // into metadata.toml (and so into the build label).
    if (compareApi(opts.platformApi, "0.8") >= 0) {
      log.debug("Copying SBOM files");
      copySboms(opts.layersDir, sboms);
    }
    if (compareApi(opts.platformApi, "0.9") >= 0) {
      for (const [kind, entries] of [["launch", launchBom], ["build", buildBom]] as const) {
        const dir = path.join(opts.layersDir, "sbom", kind);
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, "sbom.legacy.json"), legacyBom(entries));
      }
    }

    const md: BuildMetadataFile = {
      buildpacks: group.group.map((g) => {
        const e: BuildMetadataFile["buildpacks"][number] = { id: g.id, version: g.version };
        if (g.api) e.api = g.api;
        if (g.homepage) e.homepage = g.homepage;
        return e;
      }),
      processes: procs.list(opts.platformApi),
    };
    if (compareApi(opts.platformApi, "0.9") < 0 && launchBom.length > 0) md.bom = launchBom;
    if (procs.defaultType) md["buildpack-default-process-type"] = procs.defaultType;
    if (labels.length > 0) md.labels = labels;
    if (slices.length > 0) md.slices = slices;
    const file = metadataPath(opts.layersDir);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    writeToml(file, md);
    return md;
  } catch (e) {
    if (e instanceof PhaseError) throw e;
    if (e instanceof BuildpackFailure) throw new PhaseError(ExitCode.buildpackFailed, `failed to build: ${e.message}`, { cause: e });
    if (e instanceof DescriptorError) throw new PhaseError(ExitCode.build, `failed to build: ${e.message}`, { cause: e });
    throw new PhaseError(ExitCode.build, `failed to build: ${(e as Error).message}`, { cause: e });
  }
}
