/**
 * The environment given to `bin/detect` and `bin/build` (spec digest §7.2): a filtered copy of the lifecycle's own
 * environment, plus the platform's user env and the operator's build-config env. The env-file rules themselves are
 * in `env.ts`.
 */
import * as path from "node:path";
import { applyEnvDir, applyPlatformEnv, Env, PATH_VARS } from "./env.ts";

/** Variables of the lifecycle's environment that buildpacks get, besides the path variables. */
export const BUILD_ENV_ALLOWLIST = ["CNB_STACK_ID", "HOSTNAME", "HOME", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"];

/**
 * The base build environment: only the allow-listed variables and the POSIX path variables of `env`.
 *
 * @example baseBuildEnv({ PATH: "/usr/bin", CNB_REGISTRY_AUTH: "secret" }).toRecord() // { PATH: "/usr/bin" }
 */
export function baseBuildEnv(env: Record<string, string | undefined>): Env {
  const keep = new Set([...BUILD_ENV_ALLOWLIST, ...PATH_VARS]);
  const init: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && keep.has(k)) init[k] = v;
  return new Env(init);
}

/**
 * A copy of `base` with the platform's user env (skipped when `platformDir` is undefined, for `clear-env`
 * buildpacks) and then the build-config env (files without suffix mean default) applied.
 */
export function withOverrides(base: Env, platformDir: string | undefined, buildConfigDir: string | undefined): Env {
  const env = new Env(base.toRecord());
  if (platformDir) applyPlatformEnv(env, platformDir);
  if (buildConfigDir) applyEnvDir(env, path.join(buildConfigDir, "env"), "default");
  return env;
}
