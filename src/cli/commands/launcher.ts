/**
 * `launcher [--] [<command> [<args>...]]` in the multi-call binary: the TypeScript launcher (phase/launcher.ts),
 * which app images carry only where the static Rust launcher could not be built (see launcher/). It takes no
 * flags: the dispatcher hands it the raw arguments as `flags.positionals`, and argv0.
 */
import { ExitCode } from "../../ground/errors.ts";
import type { Command } from "../command.ts";
import { runLauncher } from "../../phase/launcher.ts";

/** The launcher command. */
export const launcherCommand: Command & { rawArgs: true } = {
  name: "launcher",
  phase: true,
  rawArgs: true,
  failure: { code: ExitCode.launch, prefix: "failed to launch: " },
  synopsis: "[--] [<command> [<args>...]]",
  flags: [],
  run({ flags, log, env, argv0 }): Promise<number> {
    return runLauncher({ argv0: argv0 ?? "launcher", args: flags.positionals, env, log });
  },
};
