/**
 * The dispatcher: the phase is the basename of argv[0] (`/cnb/lifecycle/analyzer`) or the first argument
 * (`lifecycle analyzer …`, `lifecycle analyze …`); `lifecycle -version` prints the version. It parses the flags,
 * reads the tuning variables once, and runs the command; it holds no phase logic.
 */
import * as path from "node:path";
import { platformApi } from "../ground/api.ts";
import { ExitCode, PhaseError, reportErrors } from "../ground/errors.ts";
import { FlagReader, HelpRequested, parseFlags, UsageError, usageText } from "../ground/flags.ts";
import { Logger, loggerFromEnv, type Sink } from "../ground/log.ts";
import { VERSION } from "../ground/version.ts";
import { removeTempsOnSignals } from "../fsutil/atomic.ts";
import { type BuildUser, type DropPlan, dropPrivileges } from "../buildpack/privileges.ts";
import { signalChildren } from "../buildpack/spawn.ts";
import { setHashBackend } from "../hash/sha256.ts";
import { isProcessInvocation } from "../phase/launcher.ts";
import type { Command } from "./command.ts";
import { type Tuning, tuningFrom } from "./tuning.ts";
import { analyzerCommand } from "./commands/analyzer.ts";
import { builderCommand } from "./commands/builder.ts";
import { creatorCommand } from "./commands/creator.ts";
import { detectorCommand } from "./commands/detector.ts";
import { exporterCommand } from "./commands/exporter.ts";
import { gcCommand } from "./commands/gc.ts";
import { inspectCommand } from "./commands/inspect.ts";
import { launcherCommand } from "./commands/launcher.ts";
import { rebaserCommand } from "./commands/rebaser.ts";
import { restorerCommand } from "./commands/restorer.ts";

/** Every command of the binary. */
export const COMMANDS: Command[] = [
  analyzerCommand,
  detectorCommand,
  restorerCommand,
  builderCommand,
  exporterCommand,
  creatorCommand,
  rebaserCommand,
  launcherCommand,
  inspectCommand,
  gcCommand,
];

/** The names that get a symlink in `/cnb/lifecycle`. */
export function phaseNames(): string[] {
  return COMMANDS.filter((c) => c.phase).map((c) => c.name);
}

function findCommand(name: string): Command | undefined {
  const n = name.replace(/\.exe$/, "");
  return COMMANDS.find((c) => c.name === n || c.verb === n);
}

/** The top-level usage. */
export function topUsage(): string {
  const names = COMMANDS.map((c) => c.name).join(", ");
  return `Usage: lifecycle <command> [flags] [args]\n       lifecycle -version\n\nCommands: ${names}\n`;
}

/**
 * Runs the binary as invoked; resolves to the process exit code. With `ownProcess`, the command may drop
 * privileges and SIGTERM/SIGINT remove its temporary files.
 *
 * @example await main("/cnb/lifecycle/analyzer", ["-oci", "-run-image", "cnb/run", "app"], env)
 */
export async function main(
  argv0: string,
  args: string[],
  env: Record<string, string | undefined>,
  sink?: Sink,
  opts: { ownProcess?: boolean } = {},
): Promise<number> {
  const out = sink ?? { out: (l: string) => process.stdout.write(l + "\n"), err: (l: string) => process.stderr.write(l + "\n") };
  // `/cnb/process/<type>` is a link to the launcher: the process type is argv0's basename.
  let cmd = isProcessInvocation(argv0, env) ? launcherCommand : findCommand(path.basename(argv0));
  let rest = args;
  if (!cmd) {
    const first = args[0];
    if (first === "-version" || first === "--version" || first === "version") {
      out.out(VERSION);
      return 0;
    }
    if (first === undefined || first === "-h" || first === "-help" || first === "--help" || first === "help") {
      (first === undefined ? out.err : out.out)(topUsage());
      return first === undefined ? ExitCode.usage : 0;
    }
    cmd = findCommand(first);
    if (!cmd) {
      out.err(`ERROR: unknown command "${first}"`);
      out.err(topUsage());
      return ExitCode.usage;
    }
    rest = args.slice(1);
  }
  const command = cmd;
  if (command.rawArgs) {
    const log = loggerFromEnv(env, out);
    const flags = new FlagReader({ values: {}, positionals: rest, given: new Set(), warnings: [] });
    return reportErrors(log, () => command.run({ flags, log, env, tuning: tuningFrom({}), argv0 }), command.failure?.code, command.failure?.prefix);
  }
  if (opts.ownProcess) {
    removeTempsOnSignals((sig) => {
      signalChildren(sig as NodeJS.Signals);
      out.err(`ERROR: ${command.name} stopped by ${sig}; its temporary files were removed`);
    });
  }
  if (rest[0] === "-version" || rest[0] === "--version") {
    out.out(VERSION);
    return 0;
  }
  const log = new Logger("info", out);
  // The Platform API comes first (exit 11): which flags exist depends on it.
  let api: string | undefined;
  if (command.phase) {
    try {
      api = platformApi(env);
    } catch (e) {
      out.err(`ERROR: ${(e as Error).message}`);
      return e instanceof PhaseError ? e.code : ExitCode.platformApi;
    }
  }
  let parsed;
  try {
    parsed = parseFlags(command.flags, rest, env, api);
  } catch (e) {
    if (e instanceof HelpRequested) {
      out.out(usageText(command.name, command.synopsis, command.flags, api));
      return 0;
    }
    if (e instanceof UsageError) {
      out.err(e.message);
      out.err(usageText(command.name, command.synopsis, command.flags, api));
      return ExitCode.usage;
    }
    throw e;
  }
  try {
    log.level = Logger.parseLevel(String(parsed.values["log-level"] ?? "info"));
  } catch (e) {
    log.error((e as Error).message);
    return ExitCode.invalidArgs;
  }
  for (const w of parsed.warnings) log.warn(w);
  let tuning: Tuning;
  try {
    tuning = tuningFrom(env);
  } catch (e) {
    log.error((e as Error).message);
    return ExitCode.invalidArgs;
  }
  setHashBackend(tuning.hash);
  const privileges = opts.ownProcess ? { drop: async (user: BuildUser, plan: DropPlan) => void (await dropPrivileges(user, plan, log)) } : undefined;
  return reportErrors(log, () => command.run({ flags: new FlagReader(parsed), log, env, tuning, privileges }), command.failure?.code, command.failure?.prefix);
}
