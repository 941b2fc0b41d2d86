/** Running the phases in process, and the real tools, from tests. */
import { spawnSync } from "node:child_process";
import { main } from "../../src/cli/main.ts";

/** Runs `/cnb/lifecycle/<phase> args…` in process with `env`; resolves to its exit code and output. */
export async function run(phase: string, args: string[], env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(`/cnb/lifecycle/${phase}`, args, env, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** Runs a real tool (skopeo, umoci, …) and returns its stdout; a missing tool or a failure throws, saying which. */
export function tool(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.error) throw new Error(`${cmd} is not installed (CI installs it in .ci/run): ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}
