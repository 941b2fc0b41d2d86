/** Running the phases in process, and the real tools, from tests. */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../../src/cli/main.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
let compiled: string | undefined;

/**
 * The lifecycle compiled from this checkout (once per test run) into a world-readable temporary directory, so
 * that a build user who cannot reach the checkout (a private clone directory) can run it.
 */
export function compiledLifecycle(): string {
  if (compiled && fs.existsSync(compiled)) return compiled;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifecycle-bin-"));
  fs.chmodSync(dir, 0o755);
  const bin = path.join(dir, "lifecycle");
  const c = spawnSync(process.execPath, ["build", "--compile", path.join(ROOT, "src/main.ts"), path.join(ROOT, "src/layer/worker.ts"), "--outfile", bin], {
    encoding: "utf8",
  });
  if (c.status !== 0) throw new Error(`bun build --compile failed: ${c.stderr}`);
  compiled = bin;
  return bin;
}

/**
 * Runs `/cnb/lifecycle/<phase> args…` in process with `env`, through the dispatcher as the binary does; resolves
 * to its exit code and output (joined, and as lines).
 */
export async function run(
  phase: string,
  args: string[],
  env: Record<string, string | undefined>,
): Promise<{ code: number; out: string; err: string; outLines: string[]; errLines: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(`/cnb/lifecycle/${phase}`, args, env, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join("\n"), err: err.join("\n"), outLines: out, errLines: err };
}

/** Runs a real tool (skopeo, umoci, …) and returns its stdout; a missing tool or a failure throws, saying which. */
export function tool(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.error) throw new Error(`${cmd} is not installed (CI installs it in .ci/run): ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}
