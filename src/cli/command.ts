/** The shape every phase and tool command of the multi-call binary has. */
import type { FlagReader, FlagSpec } from "../ground/flags.ts";
import type { Logger } from "../ground/log.ts";
import type { Tuning } from "./tuning.ts";
import type { BuildUser, DropPlan } from "../buildpack/privileges.ts";

/** What a command receives. */
export interface CommandContext {
  /** The resolved flags and the positional arguments (for a `rawArgs` command: the arguments untouched). */
  flags: FlagReader;
  log: Logger;
  env: Record<string, string | undefined>;
  /** The tuning variables, read once from `env`. */
  tuning: Tuning;
  /** argv[0] as invoked (the launcher selects a process type by its basename). */
  argv0?: string;
  /**
   * Present when the command runs as its own process (not in-process, as in tests): root-capable phases call
   * `drop` to prepare the directories the build user writes and become that user.
   */
  privileges?: { drop(user: BuildUser, plan: DropPlan): Promise<void> };
}

/** A phase (`analyzer`, …) or a tool command (`inspect`) of the binary. */
export interface Command {
  name: string;
  /** The verb that selects it as `lifecycle <verb>` besides its name (`analyze` for `analyzer`). */
  verb?: string;
  /** Whether it is a phase (gets a symlink in `/cnb/lifecycle`). */
  phase: boolean;
  synopsis: string;
  flags: FlagSpec[];
  /** No flag parsing: `run` gets the arguments untouched as `ctx.flags.positionals` (the launcher). */
  rawArgs?: boolean;
  /** The exit code and message prefix of a failure that carries no code of its own (`failed to analyze: `). */
  failure?: { code: number; prefix: string };
  /** Runs the command; resolves to the exit code. Throws PhaseError for a failure with a code. */
  run(ctx: CommandContext): Promise<number>;
}
