/** Exit codes of the platform spec, the error type that carries one, and how errors become exit codes. */
import type { Logger } from "./log.ts";

/** The lifecycle's exit codes (platform spec, "Exit codes"). */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  invalidArgs: 3,
  platformApi: 11,
  buildpackApi: 12,
  detectNoGroup: 20,
  detectBuildpackError: 21,
  detectOther: 22,
  analyze: 32,
  restore: 42,
  buildpackFailed: 51,
  build: 52,
  export: 62,
  rebase: 72,
  launch: 82,
} as const;

/** An error that ends a phase with a given exit code; the message is printed as `ERROR: <message>`. */
export class PhaseError extends Error {
  constructor(readonly code: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PhaseError";
  }
}

/**
 * Runs `fn`, printing an error as `ERROR: <message>` and turning it into an exit code: a PhaseError's own, else
 * `fallback` (with `prefix` before the message).
 */
export async function reportErrors(log: Logger, fn: () => Promise<number>, fallback: number = ExitCode.failed, prefix = ""): Promise<number> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof PhaseError) {
      log.error(e.message);
      return e.code;
    }
    log.error(`${prefix}${(e as Error).message ?? String(e)}`);
    // A stack trace helps only with a bug (a JavaScript error type); the lifecycle's own errors say all there is.
    if (isProgrammingError(e) && (e as Error).stack) log.debug((e as Error).stack as string);
    return fallback;
  }
}

/** Whether an error is one of JavaScript's own (a bug in the lifecycle rather than bad input). */
export function isProgrammingError(e: unknown): boolean {
  return e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError || e instanceof SyntaxError;
}
