/** `builder [flags]`: its flags, resolved into the builder's inputs (phase/builder.ts). */
import { ExitCode } from "../../ground/errors.ts";
import { platformApi } from "../../ground/api.ts";
import { refuseRoot } from "../../buildpack/privileges.ts";
import type { Command } from "../command.ts";
import { flagsNamed } from "../flag-catalog.ts";
import { noPositionals } from "../resolve.ts";
import { BUILD_DIRS, buildDirsOf } from "./detector.ts";
import { build } from "../../phase/builder.ts";

/** The builder command. Refuses to run as root unless `CNB_LIFECYCLE_ALLOW_ROOT=true`. */
export const builderCommand: Command = {
  name: "builder",
  verb: "build",
  phase: true,
  failure: { code: ExitCode.build, prefix: "failed to build: " },
  synopsis: "[flags]",
  flags: flagsNamed(...BUILD_DIRS.map((n) => (n === "analyzed" ? "analyzed>=0.12" : n))),
  async run({ flags: f, log, env }) {
    const api = platformApi(env);
    noPositionals(f);
    refuseRoot("build", env);
    await build({
      ...buildDirsOf(f, env, api),
      layersDir: f.path("layers"),
      groupPath: f.path("group"),
      planPath: f.path("plan"),
      analyzedPath: f.path("analyzed"),
    }, log);
    return ExitCode.ok;
  },
};
