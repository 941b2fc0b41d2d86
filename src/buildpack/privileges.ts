/**
 * Privileges: the detector and the builder never run buildpacks as root; the root-capable phases (analyzer,
 * restorer, exporter, creator) hand their directories to the build user and drop to it.
 *
 * The detector and the builder never run buildpacks as root (spec digest §1). A platform that really means to
 * (a rootless container whose uid 0 is unprivileged, a test harness) opts in with `CNB_LIFECYCLE_ALLOW_ROOT=true`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ExitCode, PhaseError } from "../cli/exit.ts";
import type { Logger } from "../cli/log.ts";
import { parseBool } from "../cli/flags.ts";

/** The environment variable that allows the detector and builder to run as uid 0. */
export const ALLOW_ROOT_ENV = "CNB_LIFECYCLE_ALLOW_ROOT";

/**
 * Throws exit 1 when running as root without the opt-in.
 *
 * @example refuseRoot("detect", process.env) // throws as root unless CNB_LIFECYCLE_ALLOW_ROOT=true
 */
export function refuseRoot(verb: string, env: Record<string, string | undefined>, uid: number | undefined = process.getuid?.()): void {
  if (uid !== 0) return;
  if (parseBool(env[ALLOW_ROOT_ENV] ?? "") === true) return;
  throw new PhaseError(
    ExitCode.failed,
    `failed to ${verb}: refusing to run as root (uid 0): buildpacks must run unprivileged; run this phase as the build user (CNB_USER_ID), or set ${ALLOW_ROOT_ENV}=true to allow root`,
  );
}

/** Makes `dir` (recursively) owned by the build user unless it is already writable by them. */
export function chownTree(dir: string, uid: number, gid: number): void {
  if (!fs.existsSync(dir)) return;
  const walk = (p: string) => {
    const st = fs.lstatSync(p);
    if (st.uid !== uid || st.gid !== gid) fs.lchownSync(p, uid, gid);
    if (st.isDirectory()) for (const n of fs.readdirSync(p)) walk(path.join(p, n));
  };
  walk(dir);
}

/**
 * As root: makes `dirs` the build user's and drops to `uid`/`gid` (setgroups, setgid, setuid). Nothing when not
 * root or when the build user is root. Returns whether privileges were dropped.
 */
export function dropPrivileges(uid: number, gid: number, dirs: string[], log: Logger): boolean {
  if (process.getuid?.() !== 0 || uid === 0) return false;
  for (const d of dirs) chownTree(d, uid, gid);
  if (typeof process.setgid !== "function" || typeof process.setuid !== "function") {
    throw new PhaseError(ExitCode.failed, "cannot drop privileges to the build user on this runtime (no setuid)");
  }
  process.setgroups?.([gid]);
  process.setgid(gid);
  process.setuid(uid);
  log.debug(`Running as ${uid}:${gid}`);
  return true;
}
