import { expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { makeBuiltLayers, makeRunImage, tmpDir } from "./helpers/images.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

// Progress of long steps is drawn on stderr only when stderr is a terminal; `script` gives the exporter one.
test("compressing a large layer shows progress on a terminal, and nothing of it in a pipe", async () => {
  const root = tmpDir("progress-");
  const oci = path.join(root, "oci");
  await makeRunImage(oci, "cnb/run", "v1");
  const b = makeBuiltLayers(root);
  // Incompressible, so that the blob itself is large too (the copy below shows progress from 32 MB).
  const big = randomBytes(48 << 20);
  fs.writeFileSync(path.join(b.layers, "test_hello", "hello", "big.bin"), big);
  const env = { ...process.env, CNB_USE_OCI: "true", CNB_OCI_PATH: oci, CNB_LAYERS_DIR: b.layers, CNB_APP_DIR: b.app };
  const main = path.join(ROOT, "src/main.ts");
  expect(spawnSync(process.execPath, [main, "analyzer", "-run-image", "cnb/run:v1", "app"], { env }).status).toBe(0);
  const args = [main, "exporter", "-launcher", b.launcher, "app"];

  const piped = spawnSync(process.execPath, args, { env, encoding: "utf8" });
  expect(piped.status).toBe(0);
  expect(piped.stdout + piped.stderr).not.toContain("Compressing");

  fs.rmSync(path.join(oci, "app"), { recursive: true });
  const cmd = [process.execPath, ...args].map((a) => `'${a}'`).join(" ");
  const tty = spawnSync("script", ["-qec", cmd, "/dev/null"], { env, encoding: "utf8" });
  if (tty.error) throw new Error(`script (bsdutils) is needed: ${tty.error.message}`);
  expect(tty.status).toBe(0);
  expect(tty.stdout).toMatch(/Compressing 'test\/hello:hello': \d+%/);
  expect(tty.stdout).toContain("Adding layer 'test/hello:hello'");

  // Copying a large blob (here, the app image's own layer into a second layout under another name) shows too.
  const copyCmd = [process.execPath, main, "exporter", "-oci-link", "copy", "-launcher", b.launcher, "app", "other/app"].map((a) => `'${a}'`).join(" ");
  fs.rmSync(path.join(oci, "app"), { recursive: true });
  const copied = spawnSync("script", ["-qec", copyCmd, "/dev/null"], { env, encoding: "utf8" });
  expect(copied.status).toBe(0);
  expect(copied.stdout).toMatch(/Copying blob [0-9a-f]{12}: \d+%/);
}, 60_000);
