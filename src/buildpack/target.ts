/**
 * Target data for detect and build (spec digest §5, §6, §7.2): the run image's target from analyzed.toml, filled in
 * from the build container's `/etc/os-release` when it has no distro, matched against a buildpack's targets and
 * turned into `CNB_TARGET_*` variables.
 */
import * as fs from "node:fs";
import type { Target } from "../platform/files.ts";
import type { BuildpackTarget } from "./descriptor.ts";

/** A run-image target with every field resolved to a string (empty = unknown). */
export interface ResolvedTarget {
  os: string;
  arch: string;
  archVariant: string;
  distro?: { name: string; version: string };
}

/** Go's GOARCH for the running process, which the reference uses when the run image names no architecture. */
export function hostArch(): string {
  const map: Record<string, string> = {
    x64: "amd64",
    ia32: "386",
    arm64: "arm64",
    arm: "arm",
    ppc64: "ppc64le",
    s390x: "s390x",
    riscv64: "riscv64",
    loong64: "loong64",
    mips: "mips",
    mipsel: "mipsle",
  };
  return map[process.arch] ?? process.arch;
}

/** `ID` and `VERSION_ID` of an os-release file; undefined when it cannot be read or names neither. */
export function readOsRelease(file: string): { name: string; version: string } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const vals: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^\s*([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2].trim();
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    vals[m[1]] = v;
  }
  const name = vals.ID ?? "";
  const version = vals.VERSION_ID ?? "";
  return name || version ? { name, version } : undefined;
}

/**
 * The run-image target as analyzed.toml gives it, completed as the reference does when it has no distro:
 * OS `linux` and the host's architecture when empty, and the distro from the os-release file.
 *
 * @example resolveTarget({ os: "linux", arch: "amd64", distro: { name: "ubuntu", version: "22.04" } })
 */
export function resolveTarget(t: (Target & { variant?: string }) | undefined, osReleasePath = "/etc/os-release", arch = hostArch()): ResolvedTarget {
  const out: ResolvedTarget = { os: t?.os ?? "", arch: t?.arch ?? "", archVariant: t?.["arch-variant"] ?? t?.variant ?? "" };
  if (t?.distro) {
    out.distro = { name: t.distro.name ?? "", version: t.distro.version ?? "" };
    return out;
  }
  if (!out.os) out.os = "linux";
  if (!out.arch) out.arch = arch;
  const rel = readOsRelease(osReleasePath);
  if (rel) out.distro = rel;
  return out;
}

function matches(a: string | undefined, b: string | undefined): boolean {
  return !a || !b || a === b;
}

/**
 * Whether a buildpack target accepts the run image's target: os, arch and variant equal or empty on either side;
 * if the buildpack lists distros, one must match name and version (empty meaning any).
 */
export function targetMatches(base: ResolvedTarget, t: BuildpackTarget): boolean {
  if (!matches(base.os, t.os) || !matches(base.arch, t.arch) || !matches(base.archVariant, t.archVariant)) return false;
  if (!t.distros || t.distros.length === 0) return true;
  if (!base.distro) return false;
  return t.distros.some((d) => matches(base.distro!.name, d.name) && matches(base.distro!.version, d.version));
}

/** The `CNB_TARGET_*` variables for a target (the optional ones only when non-empty). */
export function targetEnv(t: ResolvedTarget): Record<string, string> {
  const env: Record<string, string> = { CNB_TARGET_OS: t.os, CNB_TARGET_ARCH: t.arch };
  if (t.archVariant) env.CNB_TARGET_ARCH_VARIANT = t.archVariant;
  if (t.distro?.name) env.CNB_TARGET_DISTRO_NAME = t.distro.name;
  if (t.distro?.version) env.CNB_TARGET_DISTRO_VERSION = t.distro.version;
  return env;
}
