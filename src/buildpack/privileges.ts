/**
 * Privileges: the detector and the builder never run buildpacks as root; the root-capable phases (analyzer,
 * restorer, exporter, creator, rebaser) make sure the build user can write where the lifecycle itself writes, and
 * drop to that user.
 *
 * Ownership is changed only where the lifecycle owns the data, as the reference lifecycle does: the cache and launch
 * cache volumes (recursively, and only when the build user cannot already write their top directory), directories
 * the lifecycle creates (owned by the build user from the start), and, for a working directory such as `<layers>`
 * that the build user cannot write, that directory alone. Nothing that holds inputs (layers written by buildpacks,
 * run image layouts, a platform's files) is rewritten: their owners, modes and setuid/setgid bits stay as they are.
 *
 * The detector and the builder never run buildpacks as root (spec digest §1). A platform that really means to
 * (a rootless container whose uid 0 is unprivileged, a test harness) opts in with `CNB_LIFECYCLE_ALLOW_ROOT=true`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ExitCode, PhaseError } from "../ground/errors.ts";
import type { Logger } from "../ground/log.ts";
import { parseBool } from "../ground/flags.ts";

/** The environment variable that allows the detector and builder to run as uid 0. */
export const ALLOW_ROOT_ENV = "CNB_LIFECYCLE_ALLOW_ROOT";

/** A build user. */
export interface BuildUser {
  uid: number;
  gid: number;
}

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

/** Whether `user` may write in a directory with this stat (owner, group-writable with its group, world-writable). */
export function canWrite(user: BuildUser, st: fs.Stats): boolean {
  if (st.uid === user.uid) return true;
  if (st.gid === user.gid && (st.mode & 0o020) !== 0) return true;
  return (st.mode & 0o002) !== 0;
}

/**
 * A lifecycle-owned volume (cache, launch cache): when the build user cannot write its top directory, it and
 * everything under it become the build user's (the reference's EnsureOwner). Nothing when it is missing.
 */
export function ensureVolumeOwner(dir: string, user: BuildUser): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    return;
  }
  if (canWrite(user, st)) return;
  const walk = (p: string) => {
    fs.lchownSync(p, user.uid, user.gid);
    if (fs.lstatSync(p).isDirectory()) { for (const n of fs.readdirSync(p)) walk(path.join(p, n)); }
  };
  walk(dir);
}

/**
 * Creates `dir` and its missing parents; each directory created here belongs to `user`. Pre-existing directories
 * are left as they are. Returns the directories created, outermost first.
 */
export function mkdirOwned(dir: string, user: BuildUser): string[] {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !fs.existsSync(d); d = path.dirname(d)) missing.unshift(d);
  for (const d of missing) {
    fs.mkdirSync(d);
    fs.chownSync(d, user.uid, user.gid);
  }
  return missing;
}

/**
 * A working directory the build user must write in but that holds inputs (`<layers>`): created for the user when
 * missing; when the user cannot write it, the directory itself (never its contents) becomes the user's.
 */
export function ensureWorkDir(dir: string, user: BuildUser): void {
  if (mkdirOwned(dir, user).length > 0) return;
  const st = fs.statSync(dir);
  if (!canWrite(user, st)) fs.chownSync(dir, user.uid, user.gid);
}

/** What a root-capable phase prepares, as root, before it drops to the build user. */
export interface DropPlan {
  /** Lifecycle-owned volumes (cache, launch cache); see ensureVolumeOwner. */
  volumes?: (string | undefined)[];
  /** Working directories holding inputs (`<layers>`); see ensureWorkDir. */
  workDirs?: (string | undefined)[];
  /** Anything else to do as root for the build user (the image store's output directories). */
  prepare?: (user: BuildUser) => Promise<void>;
}

/**
 * As root: prepares the plan's directories for the build user and drops to `uid`/`gid` (setgroups, setgid,
 * setuid). Nothing when not root or when the build user is root. Returns whether privileges were dropped.
 */
export async function dropPrivileges(user: BuildUser, plan: DropPlan, log: Logger): Promise<boolean> {
  if (process.getuid?.() !== 0 || user.uid === 0) return false;
  for (const d of plan.volumes ?? []) if (d) ensureVolumeOwner(d, user);
  for (const d of plan.workDirs ?? []) if (d) ensureWorkDir(d, user);
  await plan.prepare?.(user);
  if (typeof process.setgid !== "function" || typeof process.setuid !== "function") {
    throw new PhaseError(ExitCode.failed, "cannot drop privileges to the build user on this runtime (no setuid)");
  }
  process.setgroups?.([user.gid]);
  process.setgid(user.gid);
  process.setuid(user.uid);
  log.debug(`Running as ${user.uid}:${user.gid}`);
  return true;
}
