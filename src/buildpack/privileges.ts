/**
 * The detector and the builder never run buildpacks as root (spec digest §1). A platform that really means to
 * (a rootless container whose uid 0 is unprivileged, a test harness) opts in with `CNB_LIFECYCLE_ALLOW_ROOT=true`.
 */
import { ExitCode, PhaseError } from "../cli/exit.ts";
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
