/**
 * A standalone entry for the launcher alone (`bun build --compile src/launch/entry.ts`, or
 * `deno run -A src/launch/entry.ts`). argv0 selects the process type as for `/cnb/process/<type>`. Under a runtime
 * whose argv0 is the runtime itself (`deno run`, `bun run`), `LIFECYCLE_LAUNCHER_ARGV0` stands in for it, and
 * `LIFECYCLE_LAUNCHER_EXEC=spawn` forces the child-process fallback; both are removed from the app's env.
 */
import { launcherMain } from "../phase/launcher.ts";

const env: Record<string, string | undefined> = { ...process.env };
const argv0 = env.LIFECYCLE_LAUNCHER_ARGV0 || process.argv0 || process.argv[0];
const mode = env.LIFECYCLE_LAUNCHER_EXEC === "spawn" ? "spawn" : "auto";
delete env.LIFECYCLE_LAUNCHER_ARGV0;
delete env.LIFECYCLE_LAUNCHER_EXEC;

const code = await launcherMain(argv0, process.argv.slice(2), env, undefined, mode);
await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
process.exit(code);
