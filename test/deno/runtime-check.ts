/**
 * Run by CI with Bun after `bun build.ts`: the same sources under `deno run` and as the compiled binary.
 *  1. detector, builder and launcher from the sources under Deno on the fixtures, checking what they write and run;
 *  2. creator with the compiled binary, then with the sources under Deno, on the same inputs and paths: the app
 *     image's manifest digest must be the same, and the same again on a second (rebuild) run. The layers are
 *     compressed with fflate (CNB_LIFECYCLE_DEFLATE=fflate), whose bytes are the same on every runtime; the
 *     default engine, the runtime's native zlib, gives each runtime its own bytes (only the diffIDs agree), which
 *     is checked too.
 * Prints one "ok:"/"FAILED:" line per check and exits non-zero if any failed.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { makeRunImage } from "../helpers/images.ts";

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const DENO = path.join(ROOT, "node_modules/.bin/deno");
const BIN = path.join(ROOT, "dist/lifecycle");
let failed = 0;
function check(name: string, ok: boolean, detail = ""): void {
  console.log(`${ok ? "ok" : "FAILED"}: ${name}${ok || !detail ? "" : `\n${detail}`}`);
  if (!ok) failed++;
}
function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", CNB_LIFECYCLE_ALLOW_ROOT: "true", ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const deno = (args: string[], env: Record<string, string> = {}) => run(DENO, ["run", "-A", "--quiet", path.join(ROOT, "src/main.ts"), ...args], env);

const work = fs.mkdtempSync(path.join(os.tmpdir(), "runtime-check-"));
fs.chmodSync(work, 0o755);
const oci = path.join(work, "oci");
const layers = path.join(work, "layers");
const app = path.join(work, "workspace");
const platform = path.join(work, "platform");
for (const d of [oci, layers, platform]) fs.mkdirSync(d, { recursive: true });
fs.cpSync(path.join(ROOT, "fixtures/app"), app, { recursive: true });
await makeRunImage(oci, "cnb/run", "v1");
const common = ["-layers", layers, "-app", app, "-buildpacks", path.join(ROOT, "fixtures/buildpacks"), "-platform", platform];

// 1. detector, builder, launcher under Deno.
const order = path.join(ROOT, "fixtures/order/hello.toml");
const det = deno(["detector", ...common, "-order", order]);
check(
  "deno: detector writes group.toml",
  det.code === 0 && /id = "test\/hello"/.test(fs.existsSync(path.join(layers, "group.toml")) ? fs.readFileSync(path.join(layers, "group.toml"), "utf8") : ""),
  det.out + det.err,
);
const bld = deno(["builder", ...common]);
const md = path.join(layers, "config/metadata.toml");
check(
  "deno: builder runs the buildpack and writes metadata.toml",
  bld.code === 0 && bld.out.includes("---> Hello buildpack") && fs.existsSync(md) &&
    fs.readFileSync(md, "utf8").includes('buildpack-default-process-type = "web"'),
  bld.out + bld.err,
);
const launch = run(DENO, ["run", "-A", "--quiet", path.join(ROOT, "src/cli/launcher-entry.ts"), "extra"], {
  LIFECYCLE_LAUNCHER_ARGV0: "/cnb/process/worker",
  CNB_LAYERS_DIR: layers,
  CNB_APP_DIR: app,
  PATH: "/usr/bin:/bin",
});
check(
  "deno: launcher runs the worker process with its env and args",
  launch.code === 0 && launch.out.includes("hello from the launcher") && launch.out.includes("GREETING=hi") && launch.out.includes("args: worker extra"),
  launch.out + launch.err,
);

// 2. creator: compiled binary vs Deno, same inputs, same paths.
const cache = path.join(work, "cache");
function create(runner: "binary" | "deno", deflate = "fflate") {
  for (const d of [layers, cache]) {
    fs.rmSync(d, { recursive: true, force: true });
    fs.mkdirSync(d, { recursive: true });
  }
  fs.rmSync(path.join(oci, "app"), { recursive: true, force: true });
  const args = [
    "creator",
    "-oci",
    "-oci-dir",
    oci,
    "-run-image",
    "cnb/run:v1",
    ...common,
    "-order",
    order,
    "-cache-dir",
    cache,
    "-launcher",
    BIN,
    "-uid",
    "0",
    "-gid",
    "0",
    "app",
  ];
  const digests: string[] = [];
  for (let i = 0; i < 2; i++) {
    const env = { CNB_LIFECYCLE_DEFLATE: deflate };
    const r = runner === "binary" ? run(BIN, args, env) : deno(args, env);
    const d = /\*\*\* Digest: (sha256:\w+)/.exec(r.out)?.[1];
    if (r.code !== 0 || !d) {
      check(`${runner}: creator (CNB_LIFECYCLE_DEFLATE=${deflate})`, false, r.out + r.err);
      return [];
    }
    digests.push(d);
  }
  return digests;
}

/** The diffIDs of the app image's config (the uncompressed layers), whatever the compressed bytes. */
function diffIDs(): string[] {
  const index = JSON.parse(fs.readFileSync(path.join(oci, "app", "index.json"), "utf8"));
  const blob = (d: string) => JSON.parse(fs.readFileSync(path.join(oci, "app", "blobs", ...d.split(":")), "utf8"));
  return blob(blob(index.manifests[0].digest).config.digest).rootfs.diff_ids;
}
const binZlib = create("binary", "zlib");
const binZlibDiffIDs = diffIDs();
const denZlib = create("deno", "zlib");
check("creator with the default engine (zlib): a rebuild gives the same digest (binary)", binZlib.length === 2 && binZlib[0] === binZlib[1], binZlib.join(" "));
check("creator with the default engine (zlib): a rebuild gives the same digest (deno)", denZlib.length === 2 && denZlib[0] === denZlib[1], denZlib.join(" "));
check("creator with the default engine (zlib): the binary and Deno give the same diffIDs", JSON.stringify(diffIDs()) === JSON.stringify(binZlibDiffIDs));
const bin = create("binary");
const den = create("deno");
check("creator (fflate): a rebuild gives the same digest (binary)", bin.length === 2 && bin[0] === bin[1], bin.join(" "));
check("creator (fflate): a rebuild gives the same digest (deno)", den.length === 2 && den[0] === den[1], den.join(" "));
check(
  "creator (fflate): the compiled binary and the sources under Deno give the same digest",
  bin.length > 0 && bin[0] === den[0],
  `binary ${bin[0]} deno ${den[0]}`,
);
fs.rmSync(work, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
