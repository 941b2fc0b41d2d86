/**
 * The TypeScript launcher (src/launch/, src/phase/launcher.ts), kept only as the fallback for a machine without the
 * Rust toolchain (build.ts then links dist/cnb/lifecycle/launcher to the multi-call binary) and for the sources
 * under Deno: the checks of what only it has (the child-process mode for runtimes without FFI, Deno's dlopen)
 * and of its pure helpers. Its behaviour as a launcher is tested in launcher.test.ts, against the Rust launcher
 * or, without the toolchain, against this one.
 */
import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { Logger } from "../src/ground/log.ts";
import { PhaseError } from "../src/ground/errors.ts";
import { newLaunchEnv } from "../src/launch/env.ts";
import { parseExecDOutput } from "../src/launch/execd.ts";
import type { LaunchMetadata } from "../src/launch/metadata.ts";
import { selectProcess } from "../src/launch/process.ts";
import { bashArgv, bashTail } from "../src/launch/shell.ts";
import { isProcessInvocation, prepareLaunch } from "../src/phase/launcher.ts";
import { launcherCommand } from "../src/cli/commands/launcher.ts";
import { APP, BASE_ENV, buildImage, FIRST, killQuietly, readUntil, run, shown, T } from "./helpers/launch-image.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const ENTRY = path.join(ROOT, "src/cli/launcher-entry.ts");
const PROC = path.join(T, "fallback", "cnb", "process");
const proc = (type: string) => path.join(PROC, type);
/** The fallback run from the sources by Bun; `asType` gives it the argv0 of a process type. */
const FROM_SOURCES = [process.execPath, ENTRY];
const asType = (type: string, env: Record<string, string> = {}) => ({ ...env, LIFECYCLE_LAUNCHER_ARGV0: proc(type) });

buildImage();
fs.mkdirSync(PROC, { recursive: true });
fs.symlinkSync("/bin/true", proc("web"));

describe("the child-process fallback (no execve)", () => {
  test("warns, passes the exit code on and forwards SIGTERM", async () => {
    const r = run(FROM_SOURCES, asType("exit7", { LIFECYCLE_LAUNCHER_EXEC: "spawn" }));
    expect(r.code).toBe(7);
    expect(r.err).toContain("forwarding signals");

    const child = Bun.spawn(FROM_SOURCES, { env: { ...BASE_ENV, ...asType("sig", { LIFECYCLE_LAUNCHER_EXEC: "spawn" }) }, stdout: "pipe", stderr: "pipe" });
    let appPid = 0;
    try {
      const reader = child.stdout.getReader();
      let text = await readUntil(reader, /ready \d+\n/);
      appPid = Number(/ready (\d+)\n/.exec(text)?.[1]);
      expect(appPid).toBeGreaterThan(0);
      expect(appPid).not.toBe(child.pid);
      process.kill(child.pid, "SIGTERM");
      text = await readUntil(reader, undefined, text);
      expect(await child.exited).toBe(0);
      expect(text).toContain(`got TERM in ${appPid}`);
    } finally {
      killQuietly(child.pid, appPid);
    }
  }, 20_000);
});

describe("under Deno, from the sources", () => {
  test("execs the app in place through Deno.dlopen", async () => {
    const deno = path.join(ROOT, "node_modules", ".bin", "deno");
    const child = Bun.spawn([deno, "run", "-A", ENTRY, "u1"], {
      cwd: ROOT,
      env: { ...BASE_ENV, LIFECYCLE_LAUNCHER_ARGV0: proc("web"), DENO_NO_UPDATE_CHECK: "1" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
    expect(err).toBe("");
    expect(await child.exited).toBe(0);
    const s = shown(out);
    expect(s.pid).toBe(child.pid);
    expect(s.args).toEqual(["fixed", "u1"]);
    expect(s.env.CHAIN).toBe("a+aweb+b");
    expect(s.env.LIFECYCLE_LAUNCHER_ARGV0).toBeUndefined();
  }, 60_000);
});

describe("in process", () => {
  const md: LaunchMetadata = {
    buildpacks: [
      { id: "a", api: "0.12" },
      { id: "b", api: "0.8" },
    ],
    processes: [
      { type: "web", command: ["srv", "--fixed"], args: ["--port", "80"], direct: true, buildpackId: "a" },
      { type: "one", command: ["srv"], args: ["d"], direct: true, buildpackId: "a" },
      { type: "old", command: ["srv"], args: ["d"], direct: true, buildpackId: "b" },
      { type: "orphan", command: ["srv"], args: [], direct: true, buildpackId: "gone" },
      { type: "prod", command: ["srv"], args: [], direct: true, buildpackId: "a", execEnv: ["production", "staging"] },
      { type: "any", command: ["srv"], args: [], direct: true, buildpackId: "a", execEnv: ["*"] },
    ],
  };
  const sel = (argv0: string, args: string[], execEnv = "production", platformApi = "0.15") => selectProcess(md, { argv0, args, execEnv, platformApi });

  test("selection and user args", () => {
    expect(sel("/cnb/process/web", [])).toMatchObject({ type: "web", command: ["srv"], args: ["--fixed", "--port", "80"] });
    expect(sel("/cnb/process/web", ["x"])).toMatchObject({ command: ["srv"], args: ["--fixed", "x"] });
    expect(sel("web", ["x"]).type).toBe("web");
    expect(sel("/cnb/process/one", ["x", "y"]).args).toEqual(["x", "y"]);
    expect(sel("/cnb/process/old", ["x"]).args).toEqual(["d", "x"]); // Buildpack API < 0.9 appends
    expect(() => sel("/cnb/process/orphan", ["x"])).toThrow("failed to find buildpack");
    expect(sel("/cnb/lifecycle/launcher", ["--", "ls", "-l"])).toEqual({ type: "", command: ["ls"], args: ["-l"], direct: true });
    expect(sel("/cnb/lifecycle/launcher", ["ls -l", "x"])).toEqual({ type: "", command: ["ls -l"], args: ["x"], direct: false });
    expect(sel("/cnb/lifecycle/launcher", ["web"]).direct).toBe(false); // a first arg is a command, not a type
  });

  test("errors exit 82", () => {
    for (const f of [() => sel("/cnb/lifecycle/launcher", []), () => sel("launcher", ["--"]), () => sel("/cnb/process/prod", [], "test")]) {
      try {
        f();
        throw new Error("no error");
      } catch (e) {
        expect(e).toBeInstanceOf(PhaseError);
        expect((e as PhaseError).code).toBe(82);
      }
    }
  });

  test("exec-env filtering", () => {
    expect(sel("/cnb/process/prod", [], "staging").type).toBe("prod");
    expect(sel("/cnb/process/any", [], "whatever").type).toBe("any");
    expect(sel("/cnb/process/prod", [], "test", "0.14").type).toBe("prod");
  });

  test("the starting env", () => {
    const e = newLaunchEnv({ PATH: "/cnb/process:/a:/cnb/lifecycle:/b", CNB_APP_DIR: "x", CNB_EXEC_ENV: "test", CNB_PLATFORM_API: "0.15", FOO: "bar" });
    expect(e.toRecord()).toEqual({ PATH: "/a:/b", CNB_EXEC_ENV: "test", FOO: "bar" });
  });

  test("bash conventions", () => {
    expect(bashTail(0)).toBe(`exec bash -c "$@"`);
    expect(bashTail(2)).toBe(`exec bash -c '"$(eval echo \\"$0\\")" "$(eval echo \\"\${1}\\")" "$(eval echo \\"\${2}\\")"' "\${@:1}"`);
    expect(bashArgv({ profiles: ["/l/it's.sh"], workingDir: "/w", caller: "/cnb/lifecycle/launcher", command: "cmd", args: ["a"] }).slice(0, 3)).toEqual([
      "bash",
      "-c",
      `source '/l/it'\\''s.sh'\ncd '/w'\n${bashTail(1)}`,
    ]);
  });

  test("exec.d output parsing", () => {
    expect(parseExecDOutput(`A = "1"\nB = "x y"\n`)).toEqual({ A: "1", B: "x y" });
    expect(parseExecDOutput("")).toEqual({});
    expect(() => parseExecDOutput("A = 1")).toThrow("not a string");
  });

  test("isProcessInvocation", () => {
    expect(isProcessInvocation("/cnb/process/web", {})).toBe(true);
    expect(isProcessInvocation("/cnb/lifecycle/launcher", {})).toBe(false);
    expect(isProcessInvocation(proc("web"), {}, PROC)).toBe(true);
    expect(isProcessInvocation("web", { PATH: `/usr/bin:${PROC}` }, PROC)).toBe(true);
    expect(isProcessInvocation("sh", { PATH: `/usr/bin:/bin:${PROC}` }, PROC)).toBe(false);
    expect(isProcessInvocation("lifecycle", { PATH: "/usr/bin" }, PROC)).toBe(false);
  });

  test("prepareLaunch resolves the executable and the working dir without executing", async () => {
    const log = new Logger("error", { out: () => {}, err: () => {} });
    const p = await prepareLaunch({ argv0: "/cnb/process/single", args: ["z"], env: { ...BASE_ENV }, log });
    expect(p.spec.file).toBe(path.join(FIRST, "aaa/bin/show"));
    expect(p.spec.argv).toEqual(["show", "z"]);
    expect(p.spec.cwd).toBe(APP);
    expect(p.env.get("CHAIN")).toBe("a+b");
    expect(launcherCommand.rawArgs).toBe(true);
    expect(launcherCommand.flags).toEqual([]);
  });
});
