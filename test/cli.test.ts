import { beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../src/cli/main.ts";
import { VERSION } from "../src/ground/version.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const LAYOUTS = fileURLToPath(new URL("../../shared/fixtures/external/layouts/", import.meta.url));

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { sink: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

describe("dispatch in process", () => {
  test("-version prints the version", async () => {
    const c = capture();
    expect(await main("lifecycle", ["-version"], {}, c.sink)).toBe(0);
    expect(c.out).toEqual([VERSION]);
  });
  test("the command comes from argv0's basename or from the first argument", async () => {
    const a = capture();
    expect(await main("/cnb/lifecycle/inspect", ["-oci-dir", LAYOUTS, "imgutil-busybox"], {}, a.sink)).toBe(0);
    const b = capture();
    expect(await main("/cnb/lifecycle/lifecycle", ["inspect", "-oci-dir", LAYOUTS, "imgutil-busybox"], {}, b.sink)).toBe(0);
    expect(a.out).toEqual(b.out);
    expect(a.out.join("\n")).toContain("sha256:f75f3d1a317fc82c793d567de94fc8df2bece37acd5f2bd364a0d91a0d1f3dab");
  });
  test("env gives the layout dir when the flag is absent", async () => {
    const c = capture();
    expect(await main("inspect", ["imgutil-busybox-sparse"], { CNB_OCI_PATH: LAYOUTS }, c.sink)).toBe(0);
    expect(c.out.join("\n")).toContain("1 missing on disk: sparse image");
  });
  test("an unknown flag prints the usage and exits 2", async () => {
    const c = capture();
    expect(await main("inspect", ["-no-such-flag"], {}, c.sink)).toBe(2);
    expect(c.err[0]).toBe("flag provided but not defined: -no-such-flag");
    expect(c.err[1]).toContain("Usage: inspect");
  });
  test("an unknown command exits 2", async () => {
    const c = capture();
    expect(await main("lifecycle", ["frobnicate"], {}, c.sink)).toBe(2);
    expect(c.err[0]).toContain('unknown command "frobnicate"');
  });
  test("a missing image names the path the RFC's rule looked at", async () => {
    const c = capture();
    expect(await main("inspect", ["-oci-dir", LAYOUTS, "cnb/bad-run-image"], {}, c.sink)).toBe(1);
    expect(c.err).toEqual([`ERROR: the image could not be found at path: ${path.join(LAYOUTS, "cnb/bad-run-image")}`]);
  });
  test("an invalid reference is quoted", async () => {
    const c = capture();
    expect(await main("inspect", ["-oci-dir", LAYOUTS, "MyApp"], {}, c.sink)).toBe(1);
    expect(c.err[0]).toContain('"MyApp"');
  });
});

describe("the compiled binary", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bin-"));
  const bin = path.join(dir, "lifecycle");
  beforeAll(() => {
    const r = Bun.spawnSync(
      [process.execPath, "build", "--compile", path.join(ROOT, "src/main.ts"), path.join(ROOT, "src/layer/worker.ts"), "--outfile", bin],
      { stderr: "pipe", stdout: "pipe" },
    );
    if (r.exitCode !== 0) throw new Error(`bun build --compile failed: ${r.stderr.toString()}`);
    fs.symlinkSync("lifecycle", path.join(dir, "inspect"));
  }, 120_000);

  test("-version", () => {
    const r = Bun.spawnSync([bin, "-version"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString().trim()).toBe(VERSION);
  });
  test("through a symlink, argv0 selects the command", () => {
    const viaLink = Bun.spawnSync([path.join(dir, "inspect"), "-oci-dir", LAYOUTS, "lifecycle-busybox"]);
    const viaArg = Bun.spawnSync([bin, "inspect", "-oci-dir", LAYOUTS, "lifecycle-busybox"]);
    expect(viaLink.exitCode).toBe(0);
    expect(viaLink.stdout.toString()).toBe(viaArg.stdout.toString());
    expect(viaLink.stdout.toString()).toContain("linux/amd64");
  });
  test("unknown flag: usage on stderr, exit 2", () => {
    const r = Bun.spawnSync([path.join(dir, "inspect"), "-x"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.toString()).toContain("flag provided but not defined: -x");
    expect(r.stderr.toString()).toContain("Usage: inspect");
  });
});
