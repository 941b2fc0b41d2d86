/**
 * The detector (spec digest §4.2, §6): expands the order (system buildpacks, composite buildpacks, optional
 * elements), runs `bin/detect` once per buildpack, picks the first group that passes and resolves its build plan,
 * then writes group.toml and plan.toml.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ExitCode, PhaseError } from "../ground/errors.ts";
import type { Logger } from "../ground/log.ts";
import { checkBuildpackApi, compareApi } from "../ground/api.ts";
import type { AnalyzedFile, GroupElement, GroupFile, PlanFile, SystemFile } from "../platform/files.ts";
import { readToml, TomlFileError, writeToml } from "../platform/toml.ts";
import { readAnalyzedIfExists, readSystem } from "../platform/readers.ts";
import { baseBuildEnv } from "../buildpack/buildenv.ts";
import { buildpackApiAtLeast, type BuildpackDescriptor, BuildpackStore, DescriptorError, type OrderGroup, parseOrder } from "../buildpack/descriptor.ts";
import { type DetectInputs, type DetectOutput, emptyPlan, runDetect } from "../buildpack/detect.ts";
import { type Detected, elString, resolveGroup } from "../buildpack/resolve.ts";
import { type ResolvedTarget, resolveTarget, targetEnv, targetMatches } from "../buildpack/target.ts";

/** Everything the detector needs, resolved (paths absolute or relative to the cwd). */
export interface DetectOptions {
  appDir: string;
  buildpacksDir: string;
  /** Operator env lives in `<buildConfigDir>/env`; undefined for none. */
  buildConfigDir?: string;
  platformDir: string;
  /** order.toml. */
  orderPath: string;
  /** system.toml; read on Platform API ≥ 0.15; a missing file means no system buildpacks. */
  systemPath?: string;
  /** analyzed.toml, for the run image's target; a missing file only warns. */
  analyzedPath?: string;
  /** Where to write group.toml; not written when undefined. */
  groupPath?: string;
  /** Where to write plan.toml; not written when undefined. */
  planPath?: string;
  /** The Platform API in force (`platformApi(env)`). */
  platformApi: string;
  /** `CNB_EXEC_ENV`; default `production`. */
  execEnv?: string;
  /** The lifecycle's environment: the base of the buildpacks' env (filtered, §7.2). Never mutated. */
  env: Record<string, string | undefined>;
  /** Parent of the temporary plan directories (default: the OS temp dir). */
  tmpDir?: string;
  /** The build container's os-release, read when the run image has no distro (default `/etc/os-release`). */
  osReleasePath?: string;
}

/** The chosen group and its plan, as written to group.toml and plan.toml. */
export interface DetectResult {
  group: GroupFile;
  plan: PlanFile;
}

type GroupOutcome = { ok: true; group: GroupElement[]; entries: PlanFile["entries"] } | { ok: false; reason: "failed" | "buildpack" };

interface MemEntry {
  level: "debug" | "info";
  msg: string;
}

const MAX_DEPTH = 64;

/** Adds system.toml's pre/post buildpacks to every group, skipping IDs the group already has (§5, Platform 0.15). */
export function mergeSystem(order: OrderGroup[], system: SystemFile | undefined): OrderGroup[] {
  const pre = system?.system?.pre?.buildpacks ?? [];
  const post = system?.system?.post?.buildpacks ?? [];
  if (pre.length === 0 && post.length === 0) return order;
  const norm = (e: GroupElement): GroupElement => (e.optional ? { id: e.id, version: e.version, optional: true } : { id: e.id, version: e.version });
  return order.map((g) => {
    const has = (e: GroupElement) => g.group.some((x) => x.id === e.id);
    return { group: [...pre.filter((e) => !has(e)).map(norm), ...g.group, ...post.filter((e) => !has(e)).map(norm)] };
  });
}

/** A run-image target in the reference's JSON form (for messages). */
function targetJson(t: ResolvedTarget): string {
  return JSON.stringify({ os: t.os, arch: t.arch, "arch-variant": t.archVariant || undefined, distro: t.distro });
}

/** A buildpack target in the reference's JSON form (for messages). */
function descriptorTargetJson(t: BuildpackDescriptor["targets"][number]): unknown {
  return { os: t.os ?? "", arch: t.arch ?? "", "arch-variant": t.archVariant || undefined, distros: t.distros?.length ? t.distros : undefined };
}

class Detection {
  private readonly runs = new Map<string, Promise<DetectOutput>>();
  readonly mem: MemEntry[] = [];
  private readonly inputs: DetectInputs;

  constructor(
    private readonly opts: DetectOptions,
    private readonly store: BuildpackStore,
    private readonly target: ResolvedTarget,
    private readonly execEnv: string,
  ) {
    this.inputs = {
      appDir: opts.appDir,
      platformDir: opts.platformDir,
      buildConfigDir: opts.buildConfigDir,
      baseEnv: baseBuildEnv(opts.env),
      targetEnv: targetEnv(target),
      execEnv,
      tmpDir: opts.tmpDir,
    };
  }

  private log(level: "debug" | "info", msg: string): void {
    this.mem.push({ level, msg });
  }

  lookup(el: GroupElement): BuildpackDescriptor {
    let d: BuildpackDescriptor;
    try {
      d = this.store.lookup(el.id, el.version);
    } catch (e) {
      if (e instanceof DescriptorError) throw new PhaseError(ExitCode.detectOther, `failed to detect: ${e.message}`);
      throw e;
    }
    checkBuildpackApi(elString(el), d.api);
    return d;
  }

  async detectOrder(order: OrderGroup[], done: GroupElement[], next: GroupElement[], optional: boolean, depth: number): Promise<GroupOutcome> {
    if (depth > MAX_DEPTH) throw new PhaseError(ExitCode.detectOther, "failed to detect: composite buildpacks nested too deeply (a cycle?)");
    let buildpackErr = false;
    for (const g of order) {
      const r = await this.detectGroup([...g.group, ...next], done, depth);
      if (r.ok) return r;
      if (r.reason === "buildpack") buildpackErr = true;
    }
    if (optional) return this.detectGroup(next, done, depth);
    return { ok: false, reason: buildpackErr ? "buildpack" : "failed" };
  }

  async detectGroup(group: GroupElement[], doneIn: GroupElement[], depth: number): Promise<GroupOutcome> {
    const done = [...doneIn];
    for (let i = 0; i < group.length; i++) {
      const el = group[i];
      if (done.some((d) => d.id === el.id)) continue;
      const d = this.lookup(el);
      if (d.order) return this.detectOrder(d.order, done, group.slice(i + 1), !!el.optional, depth + 1);
      const key = elString(el);
      const full: GroupElement = { id: el.id, version: el.version, api: d.api };
      if (d.homepage) full.homepage = d.homepage;
      if (el.optional) full.optional = true;

      if (compareApi(this.opts.platformApi, "0.12") >= 0 && d.targets.length > 0 && !d.targets.some((t) => targetMatches(this.target, t))) {
        if (el.optional) {
          this.log("debug", `Skipping optional ${key}: no target matches the run image`);
          continue;
        }
        done.push(full);
        const msg = `unable to satisfy target os/arch constraints; run image: ${targetJson(this.target)}, buildpack: ${
          JSON.stringify(d.targets.map(descriptorTargetJson))
        }`;
        this.runs.set(key, Promise.resolve({ code: -1, output: "", error: msg, plan: emptyPlan() }));
        continue;
      }

      if (compareApi(this.opts.platformApi, "0.15") >= 0 && this.execEnv !== "" && buildpackApiAtLeast(d.api, "0.12") && d.execEnv.length > 0) {
        if (!d.execEnv.includes("*") && !d.execEnv.includes(this.execEnv)) {
          this.log("debug", `Skipping ${key} due to execution environment mismatch; current: ${this.execEnv}, buildpack supports: ${d.execEnv.join(", ")}`);
          continue;
        }
      }

      done.push(full);
      if (!this.runs.has(key)) this.runs.set(key, runDetect(d, this.inputs));
    }
    const detected: Detected[] = [];
    for (const el of done) {
      const out = await this.runs.get(elString(el));
      if (!out) throw new PhaseError(ExitCode.detectOther, `failed to detect: missing detection of ${elString(el)}`);
      detected.push({ el, out });
    }
    return resolveGroup(detected, (level, msg) => this.log(level, msg));
  }
}

function readInput<T>(file: string, what: string, read: (file: string, what: string) => T = readToml<T>): T {
  try {
    return read(file, what);
  } catch (e) {
    if (e instanceof TomlFileError) throw new PhaseError(ExitCode.failed, `failed to initialize detector: ${e.message}`);
    throw e;
  }
}

/**
 * Runs detection. Resolves to the chosen group and plan (also written to `groupPath`/`planPath` when given);
 * throws PhaseError 20 (no group passed), 21 (no group passed and a `bin/detect` errored), 22 (other detect
 * errors), 12 (unsupported Buildpack API) or 1 (unreadable inputs).
 *
 * @example const { group, plan } = await detect({ appDir, buildpacksDir, platformDir, orderPath, platformApi: "0.15", env: process.env }, log)
 */
export async function detect(opts: DetectOptions, log: Logger): Promise<DetectResult> {
  const orderRaw = readInput<Record<string, unknown>>(opts.orderPath, "order");
  let order: OrderGroup[];
  try {
    order = parseOrder(orderRaw.order, opts.orderPath);
  } catch (e) {
    throw new PhaseError(ExitCode.failed, `failed to initialize detector: ${(e as Error).message}`);
  }
  if (Array.isArray(orderRaw["order-extensions"]) && orderRaw["order-extensions"].length > 0) {
    log.warn("image extensions are not supported by this lifecycle; ignoring order-extensions (the build runs as if no extension passed detection)");
  }
  if (compareApi(opts.platformApi, "0.15") >= 0 && opts.systemPath && fs.existsSync(opts.systemPath)) {
    order = mergeSystem(order, readInput(opts.systemPath, "system", readSystem));
  }
  let analyzed: AnalyzedFile = {};
  if (opts.analyzedPath) {
    const a = readInput(opts.analyzedPath, "analyzed metadata", readAnalyzedIfExists);
    if (a) analyzed = a;
    else log.warn(`No analyzed metadata found at path "${opts.analyzedPath}"`);
  }
  const store = new BuildpackStore(opts.buildpacksDir);
  for (const g of order) {
    for (const el of g.group) {
      let d: BuildpackDescriptor;
      try {
        d = store.lookup(el.id, el.version);
      } catch (e) {
        if (e instanceof DescriptorError) throw new PhaseError(ExitCode.failed, `failed to initialize detector: ${e.message}`);
        throw e;
      }
      checkBuildpackApi(elString(el), d.api);
    }
  }

  const target = resolveTarget(analyzed["run-image"]?.target, opts.osReleasePath);
  const det = new Detection(opts, store, target, opts.execEnv ?? "production");
  let outcome: GroupOutcome | undefined;
  let err: unknown;
  try {
    outcome = await det.detectOrder(order, [], [], false, 0);
  } catch (e) {
    err = e;
  }
  const failed = err !== undefined || !outcome?.ok;
  for (const e of det.mem) {
    if (failed || e.level === "info") log.info(e.msg);
    else log.debug(e.msg);
  }
  if (err !== undefined) {
    if (err instanceof PhaseError) throw err;
    throw new PhaseError(ExitCode.detectOther, `failed to detect: ${(err as Error).message}`, { cause: err });
  }
  if (!outcome!.ok) {
    log.error("No buildpack groups passed detection.");
    if (outcome!.reason === "buildpack") throw new PhaseError(ExitCode.detectBuildpackError, "failed to detect: buildpack(s) failed with err");
    log.error("Please check that you are running against the correct path.");
    throw new PhaseError(ExitCode.detectNoGroup, "failed to detect: no buildpacks participating");
  }
  const result: DetectResult = { group: { group: outcome!.group }, plan: { entries: outcome!.entries } };
  try {
    if (opts.groupPath) {
      fs.mkdirSync(path.dirname(opts.groupPath), { recursive: true });
      writeToml(opts.groupPath, result.group);
    }
    if (opts.planPath) {
      fs.mkdirSync(path.dirname(opts.planPath), { recursive: true });
      writeToml(opts.planPath, result.plan);
    }
  } catch (e) {
    throw new PhaseError(ExitCode.detectOther, `failed to detect: writing results: ${(e as Error).message}`, { cause: e });
  }
  return result;
}
