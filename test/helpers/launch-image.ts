/**
 * A fake app image on disk for the launcher tests: `<tmp>/layers` (metadata.toml and buildpack layers of
 * Buildpack APIs 0.7 to 0.12), `<tmp>/workspace`, and helpers to run a launcher against it and read what the
 * `show` program it starts printed. The directory is made once per test process and removed when it exits.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const T = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "launcher-")));
export const LAYERS = path.join(T, "layers");
export const APP = path.join(T, "workspace");
export const FIRST = path.join(LAYERS, "example_first");
export const SECOND = path.join(LAYERS, "example_second");
process.on("exit", () => fs.rmSync(T, { recursive: true, force: true }));

/** Writes a file (making its directory); mode 0755 for scripts. */
export function put(file: string, content: string, exec = false): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content, { mode: exec ? 0o755 : 0o644 });
}

export const SHOW = `#!/bin/sh
printf 'pid=%s\\n' "$$"
printf 'pwd=%s\\n' "$(pwd)"
for a in "$@"; do printf 'arg=%s\\n' "$a"; done
grep SigIgn /proc/self/status | sed 's/^SigIgn:[[:space:]]*/sigign=/'
env | sed 's/^/env:/'
`;

export const METADATA = `buildpack-default-process-type = "web"

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

let built = false;

/** Writes the image (once per process). */
/**
 * An image of older APIs beside it (`<tmp>/legacy`, used with `CNB_LAYERS_DIR`): a Buildpack API 0.7 buildpack's
 * processes (a shell process without `direct`, a direct one) and a command written as a string (Platform API < 0.10),
 * with example/first's layers.
 */
export const LEGACY = path.join(T, "legacy");
export const LEGACY_METADATA = `[[buildpacks]]
  id = "example/first"
  version = "1.0.0"
  api = "0.12"

[[buildpacks]]
  id = "example/old"
  version = "1.0.0"
  api = "0.7"

[[processes]]
  type = "web"
  command = ["show", "fixed"]
  args = ["default"]
  direct = true
  buildpack-id = "example/first"

[[processes]]
  type = "single"
  command = ["show"]
  args = ["d1", "d2"]
  direct = true
  buildpack-id = "example/first"

[[processes]]
  type = "strcmd"
  command = "show"
  args = ["s"]
  direct = true
  buildpack-id = "example/first"

[[processes]]
  type = "legacy-shell"
  command = "echo"
  args = ["order=$PROFILE_ORDER", "type=\${PROFILE_TYPE-none}"]
  buildpack-id = "example/old"

[[processes]]
  type = "legacy-direct"
  command = "show"
  args = ["d"]
  direct = true
  buildpack-id = "example/old"
`;

export function buildImage(): void {
  if (built) return;
  built = true;
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
  put(path.join(a, "profile.d", "legacy-shell", "l.sh"), `export PROFILE_TYPE="legacy"\n`);
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
  // the image of older APIs
  put(path.join(LEGACY, "config", "metadata.toml"), LEGACY_METADATA);
  fs.symlinkSync(FIRST, path.join(LEGACY, "example_first"));
  // an image whose buildpack API is not supported
  put(path.join(T, "badapi", "config", "metadata.toml"), `[[buildpacks]]\n  id = "old/bp"\n  version = "1"\n  api = "0.6"\n`);
}

export const BASE_ENV: Record<string, string> = {
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

export interface Run {
  code: number;
  out: string;
  err: string;
}

export function run(cmd: string[], env: Record<string, string | undefined> = {}): Run {
  const full = Object.fromEntries(Object.entries({ ...BASE_ENV, ...env }).filter((e): e is [string, string] => e[1] !== undefined));
  const r = Bun.spawnSync(cmd, { env: full, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

/** Parses what `show` printed. */
export function shown(out: string) {
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
export async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, pattern?: RegExp, sofar = ""): Promise<string> {
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
export function killQuietly(...pids: number[]): void {
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
