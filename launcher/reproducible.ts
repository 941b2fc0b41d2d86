/**
 * The launcher's reproducibility check (run by .ci/run): builds it twice from copies of its sources in two clean
 * directories of different names (each with its own cargo target directory), then compares the two binaries'
 * SHA-256, the launcher layers the exporter makes of them (diffID and compressed digest) and, when given, a third
 * binary (`dist/cnb/lifecycle/launcher` from build.ts in the checkout). Prints one `ok:`/`FAILED:` line per check
 * and exits 1 on any failure; without the toolchain it says so and checks nothing.
 * Usage: bun launcher/reproducible.ts [<launcher binary to compare>]
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { launcherLayer } from "../src/layer/launcher-cache.ts";
import { LayerPool } from "../src/layer/pool.ts";
import { buildLauncher, LAUNCHER_SOURCE } from "./build-launcher.ts";

const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");
let failed = 0;
function check(name: string, ok: boolean, detail: string): void {
  if (!ok) failed++;
  console.log(`${ok ? "ok" : "FAILED"}: ${name}${ok ? "" : `: ${detail}`}`);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "launcher-repro-"));
try {
  const builds: { file: string; sha: string; diffID: string; digest: string }[] = [];
  for (const name of ["first", "second-build-elsewhere"]) {
    const src = path.join(work, name, "src");
    fs.mkdirSync(src, { recursive: true });
    for (const entry of ["Cargo.toml", ".cargo", "src"]) fs.cpSync(path.join(LAUNCHER_SOURCE, entry), path.join(src, entry), { recursive: true });
    const r = buildLauncher({ sourceDir: src, targetDir: path.join(work, name, "target"), quiet: true });
    if ("missing" in r) {
      console.log(`the launcher's Rust toolchain is missing (${r.missing}): nothing to check`);
      process.exit(0);
    }
    const layer = await launcherLayer(r.file, path.join(work, name, "layer-cache"), new LayerPool(1));
    builds.push({ file: r.file, sha: sha256(r.file), diffID: layer.diffID, digest: layer.digest });
    console.log(`${r.file}: ${fs.statSync(r.file).size} bytes, sha256 ${builds.at(-1)?.sha}, layer ${layer.digest}`);
  }
  const [a, b] = builds;
  check("launcher: two clean builds in different directories give the same bytes", a.sha === b.sha, `${a.sha} != ${b.sha}`);
  check(
    "launcher: the same launcher layer (diffID and digest) from both builds",
    a.diffID === b.diffID && a.digest === b.digest,
    `${a.diffID} ${a.digest} != ${b.diffID} ${b.digest}`,
  );
  const other = process.argv[2];
  if (other) check(`launcher: ${other} has the same bytes`, fs.existsSync(other) && sha256(other) === a.sha, fs.existsSync(other) ? sha256(other) : "missing");
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
