/** `detector [flags]`: its flags, resolved into the detector's inputs (phase/detector.ts). */
import { ExitCode } from "../../ground/errors.ts";
import { platformApi } from "../../ground/api.ts";
import type { FlagReader } from "../../ground/flags.ts";
import { refuseRoot } from "../../buildpack/privileges.ts";
import type { Command } from "../command.ts";
import { flagsNamed } from "../flag-catalog.ts";
import { noPositionals } from "../resolve.ts";
import { detect, type DetectOptions } from "../../phase/detector.ts";

/** The flags of the directories the detector and builder share (and the creator). */
export const BUILD_DIRS = ["layers", "app", "buildpacks", "build-config>=0.11", "group", "plan", "platform", "analyzed", "no-color"];

/** The inputs every buildpack-running phase takes, from the flags. */
export function buildDirsOf(f: FlagReader, env: Record<string, string | undefined>, platformApiVersion: string) {
  return {
    appDir: f.path("app"),
    buildpacksDir: f.path("buildpacks"),
    buildConfigDir: f.path("build-config"),
    platformDir: f.path("platform"),
    platformApi: platformApiVersion,
    execEnv: env.CNB_EXEC_ENV || "production",
    env,
  };
}

/** The detector's inputs, from the flags (shared with the creator). */
export function detectInputsOf(f: FlagReader, env: Record<string, string | undefined>, api: string): DetectOptions {
  return {
    ...buildDirsOf(f, env, api),
    orderPath: f.path("order"),
    systemPath: f.path("system"),
    analyzedPath: f.path("analyzed"),
    groupPath: f.path("group"),
    planPath: f.path("plan"),
  };
}

/** The detector command. Refuses to run as root unless `CNB_LIFECYCLE_ALLOW_ROOT=true`. */
export const detectorCommand: Command = {
  name: "detector",
  verb: "detect",
  phase: true,
  failure: { code: ExitCode.detectOther, prefix: "failed to detect: " },
  synopsis: "[flags]",
  flags: flagsNamed(
    ...BUILD_DIRS.map((n) => (n === "analyzed" ? "analyzed>=0.10" : n)),
    "order",
    "system>=0.15",
    "run>=0.12",
    "extensions>=0.10",
    "generated>=0.10",
  ),
  async run({ flags: f, log, env }) {
    const api = platformApi(env);
    noPositionals(f);
    refuseRoot("detect", env);
    await detect(detectInputsOf(f, env, api), log);
    return ExitCode.ok;
  },
};
