/** The Platform API gate: `CNB_PLATFORM_API` must name a version this lifecycle implements (exit 11 otherwise). */
import { ExitCode, PhaseError } from "./errors.ts";

/** Platform API versions the phases implement, oldest first. */
export const SUPPORTED_PLATFORM_APIS = ["0.7", "0.8", "0.9", "0.10", "0.11", "0.12", "0.13", "0.14", "0.15"];
/** The newest Platform API: what an unset `CNB_PLATFORM_API` means. */
export const LATEST_PLATFORM_API = SUPPORTED_PLATFORM_APIS[SUPPORTED_PLATFORM_APIS.length - 1];
/** Buildpack API versions the phases implement, oldest first. */
export const SUPPORTED_BUILDPACK_APIS = ["0.7", "0.8", "0.9", "0.10", "0.11", "0.12"];

/** Compares two `X.Y` API versions. */
export function compareApi(a: string, b: string): number {
  const [am, an] = a.split(".").map(Number);
  const [bm, bn] = b.split(".").map(Number);
  return am - bm || an - bn;
}

/**
 * The Platform API in force: `CNB_PLATFORM_API`, or the newest supported when unset. Throws exit 11 for an
 * unsupported one.
 */
export function platformApi(env: Record<string, string | undefined>): string {
  const v = env.CNB_PLATFORM_API;
  if (v === undefined || v === "") return SUPPORTED_PLATFORM_APIS[SUPPORTED_PLATFORM_APIS.length - 1];
  if (!SUPPORTED_PLATFORM_APIS.includes(v)) {
    throw new PhaseError(
      ExitCode.platformApi,
      `platform API version "${v}" is incompatible with the lifecycle (supported: ${SUPPORTED_PLATFORM_APIS.join(", ")})`,
    );
  }
  return v;
}

/** Throws exit 12 when a buildpack's API is not supported. */
export function checkBuildpackApi(id: string, api: string | undefined): void {
  if (!api || !SUPPORTED_BUILDPACK_APIS.includes(api)) {
    throw new PhaseError(
      ExitCode.buildpackApi,
      `buildpack API version "${api ?? ""}" of ${id} is incompatible with the lifecycle (supported: ${SUPPORTED_BUILDPACK_APIS.join(", ")})`,
    );
  }
}
