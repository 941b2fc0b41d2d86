/** Exit codes of the platform spec, and the error type that carries one. */

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
