/**
 * The multi-call entry point: the phase is the basename of argv[0] (`/cnb/lifecycle/analyzer`) or the first
 * argument (`lifecycle analyzer …`, `lifecycle analyze …`); `lifecycle -version` prints the version.
 */
import * as path from "node:path";
import type { Command } from "./command.ts";
import { ExitCode, reportErrors } from "../ground/errors.ts";
import { HelpRequested, UsageError, parseFlags, usageText } from "../ground/flags.ts";
import { Logger, type Sink, loggerFromEnv } from "../ground/log.ts";
import { inspectCommand } from "./inspect.ts";
import { gcCommand } from "./gc.ts";
import { analyzerCommand } from "../phase/analyzer.ts";
import { builderCommand } from "../phase/builder.ts";
import { creatorCommand } from "../phase/creator.ts";
import { detectorCommand } from "../phase/detector.ts";
import { exporterCommand } from "../phase/exporter.ts";
import { restorerCommand } from "../phase/restorer.ts";
import { rebaserCommand } from "../phase/rebaser.ts";
import { isProcessInvocation, launcherCommand } from "../phase/launcher.ts";
import { VERSION } from "../ground/version.ts";
import { type Tuning, tuningFrom } from "./tuning.ts";
import { setHashBackend } from "../hash/sha256.ts";
import { removeTempsOnSignals } from "../fsutil/atomic.ts";
import { signalChildren } from "../buildpack/spawn.ts";
import { type BuildUser, type DropPlan, dropPrivileges } from "../buildpack/privileges.ts";

/** Every command of the binary. Phases are added here as they land. */
export const COMMANDS: Command[] = [analyzerCommand, detectorCommand, restorerCommand, builderCommand, exporterCommand, creatorCommand, rebaserCommand, launcherCommand, inspectCommand, gcCommand];

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
 * Runs the binary as invoked; resolves to the process exit code.
 *
 * @example await main("/cnb/lifecycle/analyzer", ["-oci", "-run-image", "cnb/run", "app"], process.env)
 */
export async function main(argv0: string, args: string[], env: Record<string, string | undefined>, sink?: Sink, opts: { ownProcess?: boolean } = {}): Promise<number> {
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
  if (cmd.rawArgs) return await runRaw(cmd, argv0, rest, env, out);
  if (opts.ownProcess) {
    removeTempsOnSignals((sig) => {
      signalChildren(sig as NodeJS.Signals);
      out.err(`ERROR: ${cmd.name} stopped by ${sig}; its temporary files were removed`);
    });
  }
  if (rest[0] === "-version" || rest[0] === "--version") {
    out.out(VERSION);
    return 0;
  }
  const log = new Logger("info", out);
  let parsed;
  try {
    parsed = parseFlags(cmd.flags, rest, env);
  } catch (e) {
    if (e instanceof HelpRequested) {
      out.out(usageText(cmd.name, cmd.synopsis, cmd.flags));
      return 0;
    }
    if (e instanceof UsageError) {
      out.err(e.message);
      out.err(usageText(cmd.name, cmd.synopsis, cmd.flags));
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
  return reportErrors(log, () => cmd.run({ args: parsed, log, env, tuning, privileges }), cmd.failure?.code, cmd.failure?.prefix);
}

/** Runs a command that takes its arguments untouched (the launcher: the app's arguments may look like flags). */
async function runRaw(cmd: Command, argv0: string, args: string[], env: Record<string, string | undefined>, sink: Sink): Promise<number> {
  const log = loggerFromEnv(env, sink);
  return reportErrors(log, () => cmd.run({ args: { values: {}, positionals: args, given: new Set(), warnings: [] }, log, env, tuning: tuningFrom({}), argv0 }));
}
