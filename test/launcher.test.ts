/**
 * The launcher against a fake app image on disk: `<tmp>/layers` (metadata.toml and buildpack layers),
 * `<tmp>/workspace`, `<tmp>/cnb/process/<type>` symlinks to a compiled launcher. The binary is compiled once from
 * src/launch/entry.ts; every check runs it as a real process.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { Logger } from "../src/cli/log.ts";
import { PhaseError } from "../src/cli/exit.ts";
import { newLaunchEnv } from "../src/launch/env.ts";
import { parseExecDOutput } from "../src/launch/execd.ts";
import type { LaunchMetadata } from "../src/launch/metadata.ts";
import { selectProcess } from "../src/launch/process.ts";
import { bashArgv, bashTail } from "../src/launch/shell.ts";
import { isProcessInvocation, launcherCommand, prepareLaunch } from "../src/phase/launcher.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const T = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "launcher-")));
const LAYERS = path.join(T, "layers");
const APP = path.join(T, "workspace");
const PROC = path.join(T, "cnb", "process");
const BIN = path.join(T, "launcher");
const FIRST = path.join(LAYERS, "example_first");
const SECOND = path.join(LAYERS, "example_second");

/** Writes a file (making its directory); mode 0755 for scripts. */
function put(file: string, content: string, exec = false): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content, { mode: exec ? 0o755 : 0o644 });
}

const SHOW = `#!/bin/sh
printf 'pid=%s\\n' "$$"
printf 'pwd=%s\\n' "$(pwd)"
for a in "$@"; do printf 'arg=%s\\n' "$a"; done
grep SigIgn /proc/self/status | sed 's/^SigIgn:[[:space:]]*/sigign=/'
env | sed 's/^/env:/'
`;

const METADATA = `buildpack-default-process-type = "web"

[[buildpacks]]
  id = "example/first"
  version = "1.0.0"
  api = "0.12"

[[buildpacks]]
  id = "example/missing"
  version = "1.0.0"
  api = "0.11"

[[buildpacks]]
  id = "example/second"
  version = "1.0.0"
  api = "0.10"

[[processes]]
  type = "web"
  command = ["show", "fixed"]
  args = ["default"]
  direct = true
  buildpack-id = "example/first"
  working-dir = "${APP}/sub"

[[processes]]
  type = "single"
  command = ["show"]
  args = ["d1", "d2"]
  direct = true
  buildpack-id = "example/second"

[[processes]]
  type = "exit7"
  command = ["sh", "-c", "exit 7"]
  direct = true
  buildpack-id = "example/first"

[[processes]]
  type = "failing"
  command = ["show"]
  direct = true
  buildpack-id = "example/first"

[[processes]]
  type = "badtoml"
  command = ["show"]
  direct = true
  buildpack-id = "example/first"

[[processes]]
  type = "testonly"
  command = ["show"]
  direct = true
  buildpack-id = "example/first"
  exec-env = ["test"]

[[processes]]
  type = "sig"
  command = ["${APP}/sig.sh"]
  direct = true
  buildpack-id = "example/first"

[[processes]]
  type = "shelly"
  command = ["echo \\"type=$PROFILE_TYPE order=$PROFILE_ORDER greeting=$GREETING\\""]
  direct = false
  buildpack-id = "example/first"
`;

function buildImage(): void {
  put(path.join(LAYERS, "config", "metadata.toml"), METADATA);
  // example/first, layer aaa
  const a = path.join(FIRST, "aaa");
  put(path.join(a, "bin", "show"), SHOW, true);
  fs.mkdirSync(path.join(a, "lib"), { recursive: true });
  put(path.join(a, "env", "GREETING.default"), "hello");
  put(path.join(a, "env", "OVR"), "one");
  put(path.join(a, "env", "FROM_ENV"), "env");
  put(path.join(a, "env.launch", "FROM_ENV.override"), "env.launch");
  put(path.join(a, "env", "PRE.prepend"), "x");
  put(path.join(a, "env", "PRE.delim"), ":");
  put(path.join(a, "env", "LIST.append"), "a");
  put(path.join(a, "env", "BY_EXECD"), "file");
  put(path.join(a, "env.launch", "MODE.default"), "plain");
  put(path.join(a, "env.launch", "web", "MODE"), "web-mode");
  put(path.join(a, "env.launch", "web", "WEB_ONLY"), "yes");
  put(
    path.join(a, "exec.d", "01-a"),
    `#!/bin/sh\necho "execd-a ran"\nprintf 'CHAIN = "a"\\nEXECD_SEEN = "%s"\\nEXECD_PWD = "%s"\\n' "$GREETING" "$(pwd)" >&3\n`,
    true,
  );
  put(path.join(a, "exec.d", "web", "02-web"), `#!/bin/sh\nprintf 'CHAIN = "%s+aweb"\\n' "$CHAIN" >&3\n`, true);
  put(path.join(a, "exec.d", "failing", "boom"), `#!/bin/sh\necho "boom is failing" >&2\nexit 3\n`, true);
  put(path.join(a, "exec.d", "badtoml", "bad"), `#!/bin/sh\necho 'this is = = not toml' >&3\n`, true);
  put(path.join(a, "profile.d", "a.sh"), `export PROFILE_ORDER="a"\n`);
  put(path.join(a, "profile.d", "shelly", "s.sh"), `export PROFILE_TYPE="shelly"\n`);
  // example/first, layer bbb
  const b = path.join(FIRST, "bbb");
  fs.mkdirSync(path.join(b, "bin"), { recursive: true });
  fs.mkdirSync(path.join(b, "lib"), { recursive: true });
  put(path.join(b, "exec.d", "01-b"), `#!/bin/sh\nprintf 'CHAIN = "%s+b"\\nBY_EXECD = "execd"\\n' "$CHAIN" >&3\n`, true);
  put(path.join(b, "profile.d", "b.sh"), `export PROFILE_ORDER="$PROFILE_ORDER b"\n`);
  // example/second, layer zzz
  const z = path.join(SECOND, "zzz");
  fs.mkdirSync(path.join(z, "bin"), { recursive: true });
  put(path.join(z, "env", "GREETING.default"), "ignored");
  put(path.join(z, "env", "OVR.override"), "three");
  put(path.join(z, "env", "PRE.prepend"), "y");
  put(path.join(z, "env", "LIST.append"), "b");
  put(path.join(z, "env", "LIST.delim"), ",");
  put(path.join(SECOND, "not-a-layer.toml"), "[types]\nlaunch = true\n");
  // the app
  fs.mkdirSync(path.join(APP, "sub"), { recursive: true });
  put(path.join(APP, ".profile"), `export PROFILE_ORDER="$PROFILE_ORDER app"\n`);
  put(path.join(APP, "sig.sh"), `#!/bin/sh\ntrap 'echo "got TERM in $$"; exit 0' TERM\necho "ready $$"\nwhile :; do sleep 0.05; done\n`, true);
  // an image whose buildpack API is not supported
  put(path.join(T, "badapi", "config", "metadata.toml"), `[[buildpacks]]\n  id = "old/bp"\n  version = "1"\n  api = "0.6"\n`);
}

const BASE_ENV: Record<string, string> = {
  PATH: "/cnb/process:/usr/local/bin:/usr/bin:/bin:/cnb/lifecycle",
  HOME: T,
  LD_LIBRARY_PATH: "/opt/lib",
  CNB_LAYERS_DIR: LAYERS,
  CNB_APP_DIR: APP,
  CNB_PLATFORM_API: "0.15",
  CNB_DEPRECATION_MODE: "quiet",
  PRE: "base",
  KEEP_ME: "kept",
};

interface Run {
  code: number;
  out: string;
  err: string;
}

function run(cmd: string[], env: Record<string, string | undefined> = {}): Run {
  const full = Object.fromEntries(Object.entries({ ...BASE_ENV, ...env }).filter((e): e is [string, string] => e[1] !== undefined));
  const r = Bun.spawnSync(cmd, { env: full, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

/** Parses what `show` printed. */
function shown(out: string) {
  const lines = out.split("\n");
  const env: Record<string, string> = {};
  for (const l of lines) {
    if (!l.startsWith("env:")) continue;
    const eq = l.indexOf("=");
    env[l.slice(4, eq)] = l.slice(eq + 1);
  }
  const one = (k: string) => lines.find((l) => l.startsWith(`${k}=`))?.slice(k.length + 1);
  return {
    pid: Number(one("pid")),
    pwd: one("pwd"),
    args: lines.filter((l) => l.startsWith("arg=")).map((l) => l.slice(4)),
    sigign: one("sigign"),
    env,
    lines,
  };
}

/** Reads a child's stdout until `pattern` matches what was read (to the end without a pattern); returns all read. */
async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, pattern?: RegExp, sofar = ""): Promise<string> {
  const dec = new TextDecoder();
  let text = sofar;
  while (!pattern?.test(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += dec.decode(value);
  }
  return text;
}

/** Ends what a failed signal test may leave running (the launcher and the app it started), by PID. */
function killQuietly(...pids: number[]): void {
  for (const pid of pids) {
    if (pid > 0) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
}

const proc = (type: string) => path.join(PROC, type);

beforeAll(() => {
  buildImage();
  const r = Bun.spawnSync([process.execPath, "build", "--compile", path.join(ROOT, "src/launch/entry.ts"), "--outfile", BIN], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`bun build --compile failed: ${r.stderr.toString()}`);
  fs.mkdirSync(PROC, { recursive: true });
  for (const t of ["web", "single", "exit7", "failing", "badtoml", "testonly", "sig", "shelly", "unknown-type"]) fs.symlinkSync(BIN, proc(t));
}, 120_000);

afterAll(() => {
  fs.rmSync(T, { recursive: true, force: true });
});

describe("a process type selected by argv0 (/cnb/process/<type>)", () => {
  test("runs command[0] from a layer's bin with command[1:] and the default args, in the working dir", () => {
    const r = run([proc("web")]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const s = shown(r.out);
    expect(s.args).toEqual(["fixed", "default"]);
    expect(s.pwd).toBe(path.join(APP, "sub"));
  });

  test("the launch environment: root dirs, env-file rules, env.launch/<type>, stripped variables", () => {
    const s = shown(run([proc("web")], { CNB_PROCESS_TYPE: "web" }).out);
    const e = s.env;
    // bin → PATH and lib → LD_LIBRARY_PATH, later buildpacks and layers in front; /cnb dirs removed
    expect(e.PATH).toBe([path.join(SECOND, "zzz/bin"), path.join(FIRST, "bbb/bin"), path.join(FIRST, "aaa/bin"), "/usr/local/bin", "/usr/bin", "/bin"].join(":"));
    expect(e.LD_LIBRARY_PATH).toBe([path.join(FIRST, "bbb/lib"), path.join(FIRST, "aaa/lib"), "/opt/lib"].join(":"));
    expect(e.GREETING).toBe("hello"); // .default: the first buildpack wins
    expect(e.OVR).toBe("three"); // no suffix / .override: the last one wins
    expect(e.FROM_ENV).toBe("env.launch"); // env.launch/ after env/
    expect(e.PRE).toBe("yx:base"); // .prepend with .delim, then without (plain concatenation)
    expect(e.LIST).toBe("a,b"); // .append onto nothing, then with a delim
    expect(e.MODE).toBe("web-mode"); // env.launch/<type>/ file without suffix overrides
    expect(e.WEB_ONLY).toBe("yes");
    expect(e.KEEP_ME).toBe("kept");
    for (const k of ["CNB_LAYERS_DIR", "CNB_APP_DIR", "CNB_PROCESS_TYPE", "CNB_PLATFORM_API", "CNB_DEPRECATION_MODE"]) expect(e[k]).toBeUndefined();
  });

  test("CNB_PROCESS_TYPE only warns", () => {
    const r = run([proc("web")], { CNB_PROCESS_TYPE: "worker" });
    expect(r.code).toBe(0);
    expect(r.err).toContain("CNB_PROCESS_TYPE is not supported");
    expect(r.err).toContain(`'/cnb/process/worker'`);
  });

  test("env.launch/<type> applies only to that type", () => {
    const e = shown(run([proc("single")]).out).env;
    expect(e.MODE).toBe("plain");
    expect(e.WEB_ONLY).toBeUndefined();
  });

  test("exec.d: output before the app, its TOML overrides the env, reference order across layers and types, cwd <app>", () => {
    const r = run([proc("web")]);
    const lines = r.out.split("\n");
    expect(lines[0]).toBe("execd-a ran");
    const e = shown(r.out).env;
    // aaa/exec.d, aaa/exec.d/web, then bbb/exec.d (the reference's per-layer order)
    expect(e.CHAIN).toBe("a+aweb+b");
    expect(e.EXECD_SEEN).toBe("hello"); // exec.d sees the built env
    expect(e.EXECD_PWD).toBe(APP);
    expect(e.BY_EXECD).toBe("execd");
    // without the type dir
    expect(shown(run([proc("single")]).out).env.CHAIN).toBe("a+b");
  });

  test("user args replace the default args; command[1:] is always kept; args may start with '-'", () => {
    expect(shown(run([proc("web"), "u1", "-x", "--"]).out).args).toEqual(["fixed", "u1", "-x", "--"]);
    expect(shown(run([proc("single")]).out).args).toEqual(["d1", "d2"]);
    expect(shown(run([proc("single"), "-only"]).out).args).toEqual(["-only"]);
  });

  test("the app's exit code is the launcher's", () => {
    const r = run([proc("exit7")]);
    expect(r.code).toBe(7);
    expect(r.err).toBe("");
  });

  test("execve: the app has the launcher's PID, and the signal dispositions a plain child gets", async () => {
    const child = Bun.spawn([proc("web")], { env: BASE_ENV, stdout: "pipe", stderr: "pipe" });
    const out = await new Response(child.stdout).text();
    expect(await child.exited).toBe(0);
    const s = shown(out);
    expect(s.pid).toBe(child.pid);
    const plain = Bun.spawnSync(["sh", "-c", "grep SigIgn /proc/self/status"]).stdout.toString().split(/\s+/)[1];
    expect(s.sigign).toBe(plain); // the runtime's ignored SIGPIPE/SIGXFSZ are not passed on
  });

  test("SIGTERM sent to the launcher's PID reaches the app", async () => {
    const child = Bun.spawn([proc("sig")], { env: BASE_ENV, stdout: "pipe", stderr: "pipe" });
    let appPid = 0;
    try {
      const reader = child.stdout.getReader();
      let text = await readUntil(reader, /ready \d+\n/);
      appPid = Number(/ready (\d+)\n/.exec(text)?.[1]);
      expect(appPid).toBe(child.pid);
      process.kill(child.pid, "SIGTERM");
      text = await readUntil(reader, undefined, text);
      expect(await child.exited).toBe(0);
      expect(text).toContain(`got TERM in ${child.pid}`);
    } finally {
      killQuietly(child.pid, appPid);
    }
  }, 20_000);

  test("exec-env (Platform 0.15): an ineligible process fails with 82; eligible in its env; not filtered before 0.15", () => {
    const no = run([proc("testonly")]);
    expect(no.code).toBe(82);
    expect(no.err).toContain(`process type "testonly" is not eligible for execution environment "production"`);
    expect(run([proc("testonly")], { CNB_EXEC_ENV: "test" }).code).toBe(0);
    expect(run([proc("testonly")], { CNB_PLATFORM_API: "0.14" }).code).toBe(0);
  });

  test("a failing exec.d program fails the launch with 82 and is named", () => {
    const r = run([proc("failing")]);
    expect(r.code).toBe(82);
    expect(r.err).toContain("boom is failing");
    expect(r.err).toContain(path.join(FIRST, "aaa/exec.d/failing/boom"));
    expect(r.err).toContain("exited with status 3");
    expect(r.out).not.toContain("pid=");
  });

  test("exec.d output that is not TOML fails the launch with 82 and is named", () => {
    const r = run([proc("badtoml")]);
    expect(r.code).toBe(82);
    expect(r.err).toContain(`failed to decode output from exec.d file at path '${path.join(FIRST, "aaa/exec.d/badtoml/bad")}'`);
  });

  test("a shell process (direct = false) sources profile.d, profile.d/<type> and <app>/.profile", () => {
    const r = run([proc("shelly")]);
    expect(r.code).toBe(0);
    expect(r.out.trim().split("\n").at(-1)).toBe("type=shelly order=a b app greeting=hello");
  });

  test("an argv0 that is no process type is a plain launcher", () => {
    const r = run([proc("unknown-type"), "--", "show", "x"]);
    expect(r.code).toBe(0);
    expect(shown(r.out).args).toEqual(["x"]);
  });
});

describe("the plain launcher (launcher [--] cmd args)", () => {
  test("-- cmd args: direct exec through PATH, in <app>, no profile scripts, same PID", async () => {
    const child = Bun.spawn([BIN, "--", "show", "a b", "-c"], { env: BASE_ENV, stdout: "pipe", stderr: "pipe" });
    const out = await new Response(child.stdout).text();
    expect(await child.exited).toBe(0);
    const s = shown(out);
    expect(s.args).toEqual(["a b", "-c"]);
    expect(s.pwd).toBe(APP);
    expect(s.pid).toBe(child.pid);
    expect(s.env.PROFILE_ORDER).toBeUndefined();
    expect(s.env.WEB_ONLY).toBeUndefined();
  });

  test("cmd as one string: a bash script with profile.d (no type dirs) and .profile, in <app>", () => {
    const r = run([BIN, 'echo "order=$PROFILE_ORDER type=${PROFILE_TYPE-none} pwd=$(pwd)"; exit 5']);
    expect(r.code).toBe(5);
    expect(r.out.trim().split("\n").at(-1)).toBe(`order=a b app type=none pwd=${APP}`);
  });

  test("cmd with args: each token is evaluated by bash, word boundaries kept", () => {
    const r = run([BIN, "printf", "[%s]\\n", "$GREETING", "two words", "$PROFILE_ORDER"]);
    expect(r.code).toBe(0);
    expect(r.out.trim().split("\n").slice(-3)).toEqual(["[hello]", "[two words]", "[a b app]"]);
  });

  test("no command: 82", () => {
    const r = run([BIN]);
    expect(r.code).toBe(82);
    expect(r.err).toContain("a command is required");
  });

  test("a command that is not found: 82 naming it", () => {
    const r = run([BIN, "--", "no-such-command"]);
    expect(r.code).toBe(82);
    expect(r.err).toContain(`"no-such-command"`);
    expect(r.err).toContain("not found");
    const r2 = run([BIN, "--", "./missing.sh"]);
    expect(r2.code).toBe(82);
    expect(r2.err).toContain(`"./missing.sh": no such file or directory`);
  });
});

describe("inputs and API gates", () => {
  test("missing metadata.toml: 82 naming the file", () => {
    const r = run([proc("web")], { CNB_LAYERS_DIR: path.join(T, "nowhere") });
    expect(r.code).toBe(82);
    expect(r.err).toContain(`metadata.toml not found at ${path.join(T, "nowhere", "config", "metadata.toml")}`);
  });
  test("an unsupported buildpack API: 12", () => {
    const r = run([BIN, "--", "true"], { CNB_LAYERS_DIR: path.join(T, "badapi") });
    expect(r.code).toBe(12);
    expect(r.err).toContain(`buildpack API version "0.6" of old/bp`);
  });
  test("an unsupported CNB_PLATFORM_API: 11; unset: the newest supported", () => {
    const r = run([proc("web")], { CNB_PLATFORM_API: "0.3" });
    expect(r.code).toBe(11);
    expect(r.err).toContain(`platform API version "0.3"`);
    expect(run([proc("web")], { CNB_PLATFORM_API: undefined }).code).toBe(0);
  });
  test("a missing app dir: 82", () => {
    const r = run([proc("web")], { CNB_APP_DIR: path.join(T, "no-app") });
    expect(r.code).toBe(82);
    expect(r.err).toContain("change to app directory");
  });
});

describe("the child-process fallback (no execve)", () => {
  test("warns, passes the exit code on and forwards SIGTERM", async () => {
    const r = run([proc("exit7")], { LIFECYCLE_LAUNCHER_EXEC: "spawn" });
    expect(r.code).toBe(7);
    expect(r.err).toContain("forwarding signals");

    const child = Bun.spawn([proc("sig")], { env: { ...BASE_ENV, LIFECYCLE_LAUNCHER_EXEC: "spawn" }, stdout: "pipe", stderr: "pipe" });
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
    const child = Bun.spawn([deno, "run", "-A", path.join(ROOT, "src/launch/entry.ts"), "u1"], {
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
    expect(isProcessInvocation("/cnb/process/web")).toBe(true);
    expect(isProcessInvocation("/cnb/lifecycle/launcher")).toBe(false);
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
