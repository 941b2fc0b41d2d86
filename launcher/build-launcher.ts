/**
 * Builds the in-image launcher (this folder, Rust) offline with Debian's toolchain: `/usr/bin/cargo` and
 * `/usr/bin/rustc` (never a rustup toolchain earlier on PATH), the crates Debian packages under
 * `/usr/share/cargo/registry` (see `.cargo/config.toml`), a static binary for the host triple, and path prefixes
 * remapped so that a build in another directory gives the same bytes. Used by `build.ts`, the launcher tests and
 * `reproducible.ts`.
 *
 * @example const r = buildLauncher({ targetDir: "dist/launcher-build" }); if ("file" in r) console.log(r.file)
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/** This folder: Cargo.toml, .cargo/config.toml, src/. */
export const LAUNCHER_SOURCE = path.dirname(fileURLToPath(import.meta.url));

/** Debian's packages that the build needs, for messages and `.ci/run`. */
export const LAUNCHER_PACKAGES = ["rustc", "cargo", "librust-toml-dev", "librust-libc-dev", "libc6-dev"];

const CARGO = "/usr/bin/cargo";
const RUSTC = "/usr/bin/rustc";
const REGISTRY = "/usr/share/cargo/registry";
/** Crates of Cargo.toml (and what they pull in) that must be in Debian's registry. */
const CRATES = ["toml-0.5", "serde-1", "libc-0.2"];

/** Debian's Rust toolchain, found. */
export interface Toolchain {
  cargo: string;
  rustc: string;
  /** The host triple, the explicit `--target` (so `+crt-static` does not reach build scripts). */
  target: string;
}

/** What is missing for building the launcher, or the toolchain. */
export function findToolchain(): Toolchain | { missing: string } {
  for (const tool of [CARGO, RUSTC]) {
    if (!fs.existsSync(tool)) return { missing: `${tool} not found` };
  }
  let crates: string[] = [];
  try {
    crates = fs.readdirSync(REGISTRY);
  } catch {
    return { missing: `${REGISTRY} (Debian's packaged crates) not found` };
  }
  for (const c of CRATES) {
    if (!crates.some((n) => n.startsWith(`${c}.`) || n === c)) return { missing: `the crate ${c} is not in ${REGISTRY}` };
  }
  const vv = spawnSync(RUSTC, ["-vV"], { encoding: "utf8" });
  const target = /^host: (\S+)$/m.exec(vv.stdout ?? "")?.[1];
  if (vv.status !== 0 || !target) return { missing: `${RUSTC} -vV failed: ${vv.stderr ?? vv.error}` };
  const libcA = [`/usr/lib/${target.replace("-unknown-", "-")}/libc.a`, "/usr/lib/libc.a"];
  if (!libcA.some((f) => fs.existsSync(f))) return { missing: `a static C library (libc.a, libc6-dev) for ${target} not found` };
  return { cargo: CARGO, rustc: RUSTC, target };
}

/** The built launcher, or why it could not be built for want of the toolchain. */
export type BuildResult = { file: string; target: string } | { missing: string };

/**
 * Builds the launcher with cargo into `targetDir` (cargo's own cache: an unchanged source is not compiled again)
 * and returns the binary's path. A missing toolchain is a result (`missing`); a failing build throws.
 *
 * @example buildLauncher({ targetDir: "/tmp/t", sourceDir: "/tmp/copy-of-launcher" })
 */
export function buildLauncher(o: { targetDir: string; sourceDir?: string; quiet?: boolean }): BuildResult {
  const tc = findToolchain();
  if ("missing" in tc) return tc;
  const source = path.resolve(o.sourceDir ?? LAUNCHER_SOURCE);
  const targetDir = path.resolve(o.targetDir);
  const cargoHome = path.join(targetDir, "cargo-home");
  fs.mkdirSync(cargoHome, { recursive: true });
  const rustflags = [
    "-C",
    "target-feature=+crt-static",
    `--remap-path-prefix=${source}=/launcher`,
    `--remap-path-prefix=${targetDir}=/target`,
  ].join(" ");
  const r = spawnSync(
    tc.cargo,
    [
      "build",
      "--release",
      "--offline",
      "--target",
      tc.target,
      "--manifest-path",
      path.join(source, "Cargo.toml"),
      "--target-dir",
      targetDir,
      ...(o.quiet ? ["--quiet"] : []),
    ],
    {
      // cargo reads .cargo/config.toml from its working directory up.
      cwd: source,
      stdio: ["ignore", "inherit", o.quiet ? "pipe" : "inherit"],
      encoding: "utf8",
      // A clean environment: Debian's tools first, no rustup or user cargo settings.
      env: { PATH: "/usr/bin:/bin", HOME: cargoHome, CARGO_HOME: cargoHome, RUSTC: tc.rustc, RUSTFLAGS: rustflags, CARGO_TERM_COLOR: "never", LANG: "C.UTF-8" },
    },
  );
  if (r.status !== 0) throw new Error(`cargo build of the launcher failed (exit ${r.status ?? r.signal}):\n${r.stderr ?? ""}`);
  return { file: path.join(targetDir, tc.target, "release", "launcher"), target: tc.target };
}

/**
 * Puts the in-image launcher into a `cnb/lifecycle` directory as `launcher`: the Rust binary (a file), or, where
 * its toolchain is missing, a symlink to the multi-call binary `multiCall` beside it (whose TypeScript launcher
 * then goes into app images). Returns which, and a line saying so for the build's output.
 *
 * @example const r = installLauncher("dist/cnb/lifecycle", { targetDir: "dist/launcher-build" }); console.log(r.message)
 */
export function installLauncher(lifecycleDir: string, o: { targetDir: string; multiCall?: string; quiet?: boolean }): { rust: boolean; message: string } {
  const out = path.join(lifecycleDir, "launcher");
  const multiCall = o.multiCall ?? "lifecycle";
  const built = buildLauncher({ targetDir: o.targetDir, quiet: o.quiet });
  fs.rmSync(out, { force: true });
  if ("file" in built) {
    fs.copyFileSync(built.file, out);
    fs.chmodSync(out, 0o755);
    return { rust: true, message: `launcher: the static Rust launcher for ${built.target} (${(fs.statSync(out).size / 1e6).toFixed(2)} MB)` };
  }
  fs.symlinkSync(multiCall, out);
  let size = "";
  try {
    size = ` (${(fs.statSync(path.join(lifecycleDir, multiCall)).size / 1e6).toFixed(0)} MB)`;
  } catch {
    // the multi-call binary is not there yet
  }
  return {
    rust: false,
    message: `WARNING: the launcher's Rust toolchain is missing (${built.missing}): launcher is a link to the multi-call binary ` +
      `${multiCall}${size} instead, and every app image carries that. Install the toolchain with: apt-get install ${LAUNCHER_PACKAGES.join(" ")}`,
  };
}
