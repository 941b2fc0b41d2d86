/**
 * Builds the standalone executable `dist/lifecycle` with `bun build --compile` and lays out `dist/cnb/lifecycle/`
 * as a builder image expects it: the binary, one symlink per working phase, `lifecycle.toml`, and the launcher
 * that the exporter puts into app images: the small static Rust program of `launcher/` (DESIGN §9), built offline
 * with Debian's toolchain. Where that toolchain is missing, `launcher` stays a symlink to the multi-call binary,
 * whose TypeScript launcher (`src/launch/`) is kept for this fallback only; this script says so.
 * Run with `bun build.ts`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { installLauncher } from "./launcher/build-launcher.ts";
import { phaseNames } from "./src/cli/main.ts";
import { BUILDPACK_APIS, PLATFORM_APIS, VERSION } from "./src/ground/version.ts";

const root = path.dirname(new URL(import.meta.url).pathname);
const dist = path.join(root, "dist");
const outfile = path.join(dist, "lifecycle");
fs.mkdirSync(dist, { recursive: true });

// The layer workers' script is a second entry point: in the executable it lives at /$bunfs/root/layer/worker.js.
const entries = [path.join(root, "src/main.ts"), path.join(root, "src/layer/worker.ts")];
const proc = Bun.spawnSync(["bun", "build", "--compile", "--minify-syntax", ...entries, "--outfile", outfile], {
  stdio: ["ignore", "inherit", "inherit"],
  env: { ...process.env, PATH: `${path.join(root, "node_modules/.bin")}:${process.env.PATH}` },
});
if (proc.exitCode !== 0) {
  console.error(`bun build --compile failed with exit code ${proc.exitCode}`);
  process.exit(1);
}

const cnb = path.join(dist, "cnb", "lifecycle");
fs.rmSync(path.join(dist, "cnb"), { recursive: true, force: true });
fs.mkdirSync(cnb, { recursive: true });
fs.copyFileSync(outfile, path.join(cnb, "lifecycle"));
fs.chmodSync(path.join(cnb, "lifecycle"), 0o755);
for (const phase of phaseNames().filter((p) => p !== "launcher")) fs.symlinkSync("lifecycle", path.join(cnb, phase));

// The in-image launcher; cargo's target directory stays in dist/ so an unchanged launcher is not compiled again.
const launcher = installLauncher(cnb, { targetDir: path.join(dist, "launcher-build") });
(launcher.rust ? console.log : console.warn)(launcher.message);

const list = (xs: string[]) => `[${xs.map((x) => JSON.stringify(x)).join(", ")}]`;
const toml = [
  "[apis.buildpack]",
  "  deprecated = []",
  `  supported = ${list(BUILDPACK_APIS)}`,
  "[apis.platform]",
  "  deprecated = []",
  `  supported = ${list(PLATFORM_APIS)}`,
  ...(PLATFORM_APIS.length && BUILDPACK_APIS.length
    ? ["[api]", `  platform = ${JSON.stringify(PLATFORM_APIS[0])}`, `  buildpack = ${JSON.stringify(BUILDPACK_APIS[0])}`]
    : []),
  "[lifecycle]",
  `  version = ${JSON.stringify(VERSION)}`,
  "",
].join("\n");
fs.writeFileSync(path.join(dist, "cnb", "lifecycle.toml"), toml);
fs.writeFileSync(path.join(cnb, "lifecycle.toml"), toml);
console.log(
  `built ${outfile} (${(fs.statSync(outfile).size / 1e6).toFixed(1)} MB) and ${path.relative(root, cnb)}/ with phases: ${
    phaseNames().join(", ") || "(none yet)"
  }`,
);
