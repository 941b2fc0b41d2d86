/** Go for the oracles of test/oracle/: found on the machine, and a program of test/oracle/ built with it. */
import * as fs from "node:fs";
import * as path from "node:path";

/** `go` on PATH, else the newest /usr/lib/go-*\/bin/go; TAR_ORACLE_GO=<path> picks one, TAR_ORACLE_GO=none disables it. */
export function findGo(): string | undefined {
  const forced = process.env.TAR_ORACLE_GO;
  if (forced) return forced === "none" ? undefined : forced;
  const onPath = Bun.which("go");
  if (onPath) return onPath;
  let dirs: string[] = [];
  try {
    dirs = fs.readdirSync("/usr/lib").filter((d) => /^go-\d/.test(d));
  } catch {
    return undefined;
  }
  dirs.sort((a, b) => b.localeCompare(a, "en", { numeric: true }));
  for (const d of dirs) {
    const go = `/usr/lib/${d}/bin/go`;
    if (fs.existsSync(go)) return go;
  }
  return undefined;
}

/** Builds `src` (a Go file) into `dir`: the binary, or undefined without Go, or the build error. */
export function buildGo(src: string, dir: string): { bin?: string; error?: string } {
  const go = findGo();
  if (!go) return {};
  const env: Record<string, string | undefined> = { ...process.env, GOTOOLCHAIN: "local", GOFLAGS: "" };
  if (!env.GOCACHE && !env.HOME && !env.XDG_CACHE_HOME) env.GOCACHE = path.join(dir, "gocache");
  const bin = path.join(dir, path.basename(src, ".go"));
  const r = Bun.spawnSync([go, "build", "-o", bin, src], { cwd: path.dirname(src), env, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) return { error: `${go} build ${src} failed: ${r.stderr.toString()}` };
  return { bin };
}
