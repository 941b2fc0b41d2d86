/**
 * The phases' logger: levels debug < info < warn < error (`-log-level`, `CNB_LOG_LEVEL`). Info and debug go to
 * stdout, warnings and errors to stderr, as the platform spec says. Errors are prefixed `ERROR: `.
 */

/** Log levels in increasing order. */
export const LEVELS = ["debug", "info", "warn", "error"] as const;
/** A log level. */
export type Level = (typeof LEVELS)[number];

/** Where log lines go; replaceable for in-process use (the creator, tests). */
export interface Sink {
  out(line: string): void;
  err(line: string): void;
}

const processSink: Sink = {
  out: (l) => process.stdout.write(l + "\n"),
  err: (l) => process.stderr.write(l + "\n"),
};

/** A leveled logger. */
export class Logger {
  constructor(public level: Level = "info", readonly sink: Sink = processSink) {}

  /** Parses a level name; throws on an unknown one. */
  static parseLevel(s: string): Level {
    const l = s.toLowerCase();
    if ((LEVELS as readonly string[]).includes(l)) return l as Level;
    throw new Error(`invalid log level "${s}": expected one of ${LEVELS.join(", ")}`);
  }

  private on(l: Level): boolean {
    return LEVELS.indexOf(l) >= LEVELS.indexOf(this.level);
  }
  debug(msg: string): void {
    if (this.on("debug")) this.sink.out(msg);
  }
  info(msg: string): void {
    if (this.on("info")) this.sink.out(msg);
  }
  warn(msg: string): void {
    if (this.on("warn")) this.sink.err(`Warning: ${msg}`);
  }
  error(msg: string): void {
    this.sink.err(`ERROR: ${msg}`);
  }
}

/** A logger at the level `CNB_LOG_LEVEL` names (info when unset; an unknown level is reported and ignored). */
export function loggerFromEnv(env: Record<string, string | undefined>, sink?: Sink): Logger {
  const log = new Logger("info", sink);
  try {
    log.level = Logger.parseLevel(env.CNB_LOG_LEVEL || "info");
  } catch (e) {
    log.warn((e as Error).message);
  }
  return log;
}
