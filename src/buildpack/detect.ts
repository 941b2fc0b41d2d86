/**
 * Running one buildpack's `bin/detect` (spec digest §6, §7.2) and reading the Build Plan it writes.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "smol-toml";
import type { Require } from "../platform/files.ts";
import type { BuildpackDescriptor } from "./descriptor.ts";
import { buildpackApiAtLeast } from "./descriptor.ts";
import type { Env } from "./env.ts";
import { withOverrides } from "./buildenv.ts";
import { runProcess } from "./spawn.ts";

/** Exit code of `bin/detect` that means "pass". */
export const DETECT_PASS = 0;
/** Exit code of `bin/detect` that means "fail" (not applicable). */
export const DETECT_FAIL = 100;

/** One `{requires, provides}` set of a Build Plan. */
export interface PlanSections {
  requires: Require[];
  provides: { name: string }[];
}

/** A Build Plan as `bin/detect` writes it: the top-level sections and the `[[or]]` alternatives. */
export interface BuildPlan extends PlanSections {
  or: PlanSections[];
}

/** The outcome of one `bin/detect`. */
export interface DetectOutput {
  /** 0 pass, 100 fail, anything else an error; -1 when it could not run or its plan was invalid. */
  code: number;
  /** stdout and stderr, as they came. */
  output: string;
  /** A lifecycle-side error (could not run, bad plan, target mismatch). */
  error?: string;
  /** The plan, for a pass. */
  plan: BuildPlan;
}

/** What `bin/detect` runs with. */
export interface DetectInputs {
  appDir: string;
  platformDir: string;
  buildConfigDir?: string;
  /** The base build env (§7.2, already filtered). */
  baseEnv: Env;
  /** `CNB_TARGET_*` variables. */
  targetEnv: Record<string, string>;
  /** `CNB_EXEC_ENV` (given to Buildpack API ≥ 0.12 when non-empty). */
  execEnv: string;
  /** Where the temporary plan directory goes (default: the OS temp dir). */
  tmpDir?: string;
}

/** An empty Build Plan. */
export function emptyPlan(): BuildPlan {
  return { requires: [], provides: [], or: [] };
}

function sections(raw: Record<string, unknown>, where: string): PlanSections {
  const reqs = raw.requires ?? [];
  const provs = raw.provides ?? [];
  if (!Array.isArray(reqs)) throw new Error(`${where}requires must be an array of tables`);
  if (!Array.isArray(provs)) throw new Error(`${where}provides must be an array of tables`);
  return {
    requires: reqs.map((r, i) => {
      const t = r as Record<string, unknown>;
      if (!t || typeof t !== "object" || typeof t.name !== "string") throw new Error(`${where}requires[${i}].name must be a string`);
      const out: Require & { version?: unknown } = { name: t.name };
      if (t.version !== undefined) out.version = t.version;
      if (t.metadata !== undefined) {
        if (!t.metadata || typeof t.metadata !== "object" || Array.isArray(t.metadata)) throw new Error(`${where}requires[${i}].metadata must be a table`);
        out.metadata = t.metadata as Record<string, unknown>;
      }
      return out;
    }),
    provides: provs.map((p, i) => {
      const t = p as Record<string, unknown>;
      if (!t || typeof t !== "object" || typeof t.name !== "string") throw new Error(`${where}provides[${i}].name must be a string`);
      return { name: t.name };
    }),
  };
}

/**
 * Parses a Build Plan (TOML text). Throws on a malformed plan and on a top-level `requires.version`, which the
 * reference rejects.
 *
 * @example parseBuildPlan('[[requires]]\nname = "node"\n', "example/node").requires[0].name // "node"
 */
export function parseBuildPlan(text: string, id: string): BuildPlan {
  const raw = parse(text) as Record<string, unknown>;
  const top = sections(raw, "");
  const ors = raw.or ?? [];
  if (!Array.isArray(ors)) throw new Error("or must be an array of tables");
  const plan: BuildPlan = { ...top, or: ors.map((o, i) => sections(o as Record<string, unknown>, `or[${i}].`)) };
  for (const s of [plan, ...plan.or]) {
    for (const r of s.requires as (Require & { version?: unknown })[]) {
      if (r.version !== undefined) {
        throw new Error(`buildpack ${id} has a "version" key which is not supported. "metadata.version" should be used instead`);
      }
    }
  }
  return plan;
}

/**
 * The environment of `bin/detect`: base env, user env unless `clear-env`, build-config env, then the lifecycle's
 * variables as the buildpack's API has them: `CNB_BUILDPACK_DIR` always; `CNB_PLATFORM_DIR` and
 * `CNB_BUILD_PLAN_PATH` from Buildpack API 0.8 (before, the positional arguments are the only inputs);
 * `CNB_TARGET_*` from 0.10; `CNB_EXEC_ENV` from 0.12.
 */
export function detectEnv(d: BuildpackDescriptor, inputs: DetectInputs, planPath: string): Record<string, string> {
  const env = withOverrides(inputs.baseEnv, d.clearEnv ? undefined : inputs.platformDir, inputs.buildConfigDir).toRecord();
  env.CNB_BUILDPACK_DIR = d.rootDir;
  if (buildpackApiAtLeast(d.api, "0.8")) {
    env.CNB_PLATFORM_DIR = inputs.platformDir;
    env.CNB_BUILD_PLAN_PATH = planPath;
  }
  if (buildpackApiAtLeast(d.api, "0.10")) Object.assign(env, inputs.targetEnv);
  if (buildpackApiAtLeast(d.api, "0.12") && inputs.execEnv) env.CNB_EXEC_ENV = inputs.execEnv;
  return env;
}

/**
 * Runs `bin/detect` of a component buildpack: cwd the app dir, args `<platform> <plan>`, the plan file
 * pre-created empty in a fresh temp dir. Never throws; problems come back as code -1 with `error`.
 *
 * @example const out = await runDetect(store.lookup("example/bash", "1.0.0"), inputs); out.code === 0
 */
export async function runDetect(d: BuildpackDescriptor, inputs: DetectInputs): Promise<DetectOutput> {
  let planDir: string | undefined;
  const chunks: Uint8Array[] = [];
  const text = () => new TextDecoder().decode(concat(chunks));
  try {
    planDir = fs.mkdtempSync(path.join(inputs.tmpDir ?? os.tmpdir(), "plan."));
    const planPath = path.join(planDir, "plan.toml");
    fs.writeFileSync(planPath, "", { mode: 0o600 });
    const res = await runProcess(path.join(d.rootDir, "bin", "detect"), [inputs.platformDir, planPath], {
      cwd: inputs.appDir,
      env: detectEnv(d, inputs, planPath),
      onOutput: (c) => chunks.push(c),
    });
    if (res.error) return { code: -1, output: text(), error: `running ${path.join(d.rootDir, "bin", "detect")}: ${res.error.message}`, plan: emptyPlan() };
    if (res.code !== DETECT_PASS) {
      return { code: res.code, output: text(), plan: emptyPlan(), error: res.signal ? `killed by signal ${res.signal}` : undefined };
    }
    try {
      return { code: 0, output: text(), plan: parseBuildPlan(fs.readFileSync(planPath, "utf8"), d.id) };
    } catch (e) {
      return { code: -1, output: text(), error: `reading the build plan of ${d.id}@${d.version}: ${(e as Error).message.split("\n")[0]}`, plan: emptyPlan() };
    }
  } catch (e) {
    return { code: -1, output: text(), error: (e as Error).message, plan: emptyPlan() };
  } finally {
    if (planDir) fs.rmSync(planDir, { recursive: true, force: true });
  }
}

/** Joins byte chunks. */
export function concat(chunks: Uint8Array[]): Uint8Array {
  const n = chunks.reduce((a, c) => a + c.length, 0);
  const out = new Uint8Array(n);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
