/**
 * Deciding whether a detected group passes and resolving its build plan (spec digest §6), as the reference's
 * detect resolver does: the per-buildpack results, then plan trials over the `requires`/`provides` options.
 * Pure: it gets the `bin/detect` outputs and logs through a callback.
 */
import type { GroupElement, PlanEntry, Require } from "../platform/files.ts";
import type { BuildPlan, DetectOutput, PlanSections } from "./detect.ts";

/** Where resolver messages go (the detector buffers them). */
export type ResolveLog = (level: "debug" | "info", msg: string) => void;

/** One element of the group being resolved and its detect outcome. */
export interface Detected {
  el: GroupElement;
  out: DetectOutput;
}

/** A group that passed (elements in order, `optional` dropped) with its plan, or why it did not. */
export type ResolveResult = { ok: true; group: GroupElement[]; entries: PlanEntry[] } | { ok: false; reason: "failed" | "buildpack" };

/** `id@version`. */
export function elString(el: GroupElement): string {
  return `${el.id}@${el.version}`;
}

interface Option {
  el: GroupElement;
  sections: PlanSections;
}

interface Dep {
  providers: GroupElement[];
  requires: Require[];
  earlyRequires: GroupElement[];
  extraProvides: GroupElement[];
}

/** The options of a passing element: its top-level sections, then each `or`; only the last keeps `optional`. */
function options(el: GroupElement, plan: BuildPlan): Option[] {
  const all = [{ requires: plan.requires, provides: plan.provides }, ...plan.or];
  return all.map((sections, i) => ({ el: { ...el, optional: !!el.optional && i === plan.or.length }, sections }));
}

function depMap(trial: Option[]): Map<string, Dep> {
  const m = new Map<string, Dep>();
  const get = (name: string) => {
    let d = m.get(name);
    if (!d) m.set(name, d = { providers: [], requires: [], earlyRequires: [], extraProvides: [] });
    return d;
  };
  for (const o of trial) {
    for (const p of o.sections.provides) get(p.name).extraProvides.push(o.el);
    for (const r of o.sections.requires) {
      const d = get(r.name);
      d.providers.push(...d.extraProvides);
      d.extraProvides = [];
      if (d.providers.length === 0) d.earlyRequires.push(o.el);
      else d.requires.push(r);
    }
  }
  return m;
}

function runTrial(n: number, trialIn: Option[], log: ResolveLog): { deps: Map<string, Dep>; trial: Option[] } | undefined {
  log("debug", `Resolving plan... (try #${n})`);
  let trial = trialIn;
  let deps = depMap(trial);
  const remove = (el: GroupElement) => {
    trial = trial.filter((o) => !(o.el.id === el.id && o.el.version === el.version));
  };
  for (let retry = true; retry;) {
    retry = false;
    deps = depMap(trial);
    for (const [name, d] of deps) {
      for (const el of d.earlyRequires) {
        retry = true;
        if (!el.optional) {
          log("debug", `fail: ${elString(el)} requires ${name}`);
          return undefined;
        }
        log("debug", `skip: ${elString(el)} requires ${name}`);
        remove(el);
      }
    }
    for (const [name, d] of deps) {
      for (const el of d.extraProvides) {
        retry = true;
        if (!el.optional) {
          log("debug", `fail: ${elString(el)} provides unused ${name}`);
          return undefined;
        }
        log("debug", `skip: ${elString(el)} provides unused ${name}`);
        remove(el);
      }
    }
  }
  if (trial.length === 0) {
    log("debug", "fail: no viable buildpacks in group");
    return undefined;
  }
  return { deps, trial };
}

/**
 * Tries every combination of options depth-first, left to right; the first trial that resolves wins.
 */
function runTrials(results: { el: GroupElement; plan: BuildPlan }[], log: ResolveLog): { deps: Map<string, Dep>; trial: Option[] } | undefined {
  let n = 0;
  const from = (i: number, prefix: Option[]): { deps: Map<string, Dep>; trial: Option[] } | undefined => {
    if (i === results.length) return runTrial(++n, prefix, log);
    for (const o of options(results[i].el, results[i].plan)) {
      const r = from(i + 1, [...prefix, o]);
      if (r) return r;
    }
    return undefined;
  };
  return from(0, []);
}

function stripOutput(s: string): string {
  return s.endsWith("\n") ? s.slice(0, -1) : s;
}

/**
 * Resolves one group from its detect outcomes: logs each output and the results, requires every non-optional
 * element to pass and at least one to pass, then runs the plan trials.
 *
 * @example resolveGroup([{ el: { id: "a", version: "1" }, out: { code: 0, output: "", plan: emptyPlan() } }], () => {})
 */
export function resolveGroup(done: Detected[], log: ResolveLog): ResolveResult {
  for (const { el, out } of done) {
    const level = out.code === 0 || out.code === 100 ? "debug" : "info";
    if (out.output.length > 0) {
      log(level, `======== Output: ${elString(el)} ========`);
      for (const line of stripOutput(out.output).split("\n")) log(level, line);
    }
    if (out.error) {
      log(level, `======== Error: ${elString(el)} ========`);
      log(level, out.error);
    }
  }
  log("debug", "======== Results ========");
  const passed: { el: GroupElement; plan: BuildPlan }[] = [];
  let detected = true;
  let anyPassed = false;
  let buildpackErr = false;
  for (const { el, out } of done) {
    if (out.code === 0) {
      log("debug", `pass: ${elString(el)}`);
      passed.push({ el, plan: out.plan });
      anyPassed = true;
    } else if (out.code === 100) {
      log("debug", `${el.optional ? "skip" : "fail"}: ${elString(el)}`);
      detected &&= !!el.optional;
    } else {
      log("info", out.code === -1 ? `err:  ${elString(el)}` : `err:  ${elString(el)} (${out.code})`);
      buildpackErr = true;
      detected &&= !!el.optional;
    }
  }
  if (!detected) return { ok: false, reason: buildpackErr ? "buildpack" : "failed" };
  if (!anyPassed) {
    log("debug", "fail: no viable buildpacks in group");
    return { ok: false, reason: "failed" };
  }
  const r = runTrials(passed, log);
  if (!r) return { ok: false, reason: "failed" };
  if (done.length !== r.trial.length) log("info", `${r.trial.length} of ${done.length} buildpacks participating`);
  const width = Math.max(...r.trial.map((o) => o.el.id.length));
  for (const o of r.trial) log("info", `${o.el.id.padEnd(width)} ${o.el.version}`);
  const group = r.trial.map((o) => {
    const g: GroupElement = { id: o.el.id, version: o.el.version };
    if (o.el.api !== undefined) g.api = o.el.api;
    if (o.el.homepage) g.homepage = o.el.homepage;
    return g;
  });
  const entries: PlanEntry[] = [...r.deps.values()].map((d) => ({
    providers: d.providers.map((p) => ({ id: p.id, version: p.version })),
    requires: d.requires,
  }));
  return { ok: true, group, entries };
}
