/**
 * A standalone entry for the launcher alone (`bun build --compile src/cli/launcher-entry.ts`, or
 * `deno run -A src/cli/launcher-entry.ts`). argv0 selects the process type as for `/cnb/process/<type>`. Under a runtime
 * whose argv0 is the runtime itself (`deno run`, `bun run`), `LIFECYCLE_LAUNCHER_ARGV0` stands in for it, and
 * `LIFECYCLE_LAUNCHER_EXEC=spawn` forces the child-process fallback; both are removed from the app's env.
 */
import { ExitCode, reportErrors } from "../ground/errors.ts";
import { loggerFromEnv } from "../ground/log.ts";
import { runLauncher } from "../phase/launcher.ts";

const env: Record<string, string | undefined> = { ...process.env };
const argv0 = env.LIFECYCLE_LAUNCHER_ARGV0 || process.argv0 || process.argv[0];
const mode = env.LIFECYCLE_LAUNCHER_EXEC === "spawn" ? "spawn" : "auto";
delete env.LIFECYCLE_LAUNCHER_ARGV0;
delete env.LIFECYCLE_LAUNCHER_EXEC;

const log = loggerFromEnv(env);
const code = await reportErrors(log, () => runLauncher({ argv0, args: process.argv.slice(2), env, log, exec: mode }), ExitCode.launch, "failed to launch: ");
await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
process.exit(code);
