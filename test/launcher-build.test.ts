/**
 * How build.ts puts the launcher into `dist/cnb/lifecycle` (launcher/build-launcher.ts `installLauncher`): the static
 * Rust binary where Debian's toolchain is installed; where it is missing (here: Debian's crates hidden under an
 * empty tmpfs in a private mount namespace, as root), a symlink to the multi-call binary and a warning that says so.
 */
import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { buildLauncher, findToolchain, installLauncher } from "../launcher/build-launcher.ts";
import { tmpDir } from "./helpers/images.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TARGET = path.join(ROOT, "dist", "launcher-build");
const toolchain = findToolchain();
const haveToolchain = !("missing" in toolchain);
const canHide = process.getuid?.() === 0 && spawnSync("unshare", ["-m", "true"]).status === 0;

describe("installLauncher", () => {
  (haveToolchain ? test : test.skip)("with Debian's toolchain: the Rust binary as a file", () => {
    const dir = tmpDir("cnb-lifecycle-");
    const r = installLauncher(dir, { targetDir: TARGET, quiet: true });
    expect(r.rust).toBe(true);
    expect(r.message).toContain("static Rust launcher");
    const out = path.join(dir, "launcher");
    expect(fs.lstatSync(out).isFile()).toBe(true);
    expect(fs.statSync(out).mode & 0o777).toBe(0o755);
    const built = buildLauncher({ targetDir: TARGET, quiet: true });
    expect("file" in built && fs.readFileSync(out).equals(fs.readFileSync(built.file))).toBe(true);
    fs.rmSync(dir, { recursive: true, force: true });
  }, 180_000);

  (canHide ? test : test.skip)("without it: a link to the multi-call binary, and a warning naming what is missing", () => {
    const dir = tmpDir("cnb-lifecycle-");
    fs.writeFileSync(path.join(dir, "lifecycle"), "stand-in for the multi-call binary\n", { mode: 0o755 });
    const script = `import { installLauncher } from ${JSON.stringify(path.join(ROOT, "launcher/build-launcher.ts"))};
console.log(JSON.stringify(installLauncher(${JSON.stringify(dir)}, { targetDir: ${JSON.stringify(path.join(dir, "target"))} })));`;
    const r = spawnSync("unshare", [
      "-m",
      "sh",
      "-c",
      'mkdir -p /usr/share/cargo/registry && mount -t tmpfs none /usr/share/cargo/registry && exec "$0" -e "$1"',
      process.execPath,
      script,
    ], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const result = JSON.parse(r.stdout.trim().split("\n").at(-1) as string);
    expect(result.rust).toBe(false);
    expect(result.message).toContain("the launcher's Rust toolchain is missing (the crate toml-0.5 is not in /usr/share/cargo/registry)");
    expect(result.message).toContain("apt-get install rustc cargo librust-toml-dev");
    expect(fs.readlinkSync(path.join(dir, "launcher"))).toBe("lifecycle");
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);
});
