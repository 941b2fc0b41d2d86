/**
 * A builder image's root filesystem on disk, for replaying how platforms (kpack, Tekton) run the lifecycle with
 * their exact command lines: `/cnb/lifecycle` (the compiled binary, its phase links and the launcher),
 * `/cnb/buildpacks`, `/cnb/order.toml`, `/cnb/stack.toml` or `/cnb/run.toml`, busybox for the buildpacks' shell,
 * the C libraries the binary needs, the platform's directories owned by the build user. Phases run in it through
 * chroot as that user, in their own mount and PID namespace with a /proc (root only).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { APPLETS, BUSYBOX, copyInto, glibcFiles } from "../../fixtures/run-image.ts";
import { buildLauncher } from "../../launcher/build-launcher.ts";
import { compiledLifecycle } from "./run.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** A builder root. */
export interface BuilderRoot {
  dir: string;
  user: { uid: number; gid: number };
  /** Runs `argv` in the root as the build user with exactly `env` (and a PATH), cwd `cwd` inside it. */
  run(argv: string[], env: Record<string, string>, cwd?: string): { code: number | null; out: string; err: string };
  /** A path inside the root as seen from outside. */
  at(p: string): string;
}

/** Makes a builder root in `dir` (created) with the given order and stack.toml/run.toml contents. */
export function makeBuilderRoot(dir: string, o: { order: string; stackToml?: string; runToml?: string; user?: { uid: number; gid: number } }): BuilderRoot {
  const user = o.user ?? { uid: 1000, gid: 1000 };
  const at = (p: string) => path.join(dir, p);
  const bin = compiledLifecycle();
  const lc = at("cnb/lifecycle");
  fs.mkdirSync(lc, { recursive: true });
  fs.copyFileSync(bin, path.join(lc, "lifecycle"));
  fs.chmodSync(path.join(lc, "lifecycle"), 0o755);
  for (const phase of ["analyzer", "detector", "restorer", "builder", "exporter", "creator", "rebaser"]) fs.symlinkSync("lifecycle", path.join(lc, phase));
  const launcher = buildLauncher({ targetDir: path.join(ROOT, "dist", "launcher-build"), quiet: true });
  if ("file" in launcher) fs.copyFileSync(launcher.file, path.join(lc, "launcher"));
  else fs.symlinkSync("lifecycle", path.join(lc, "launcher"));
  fs.chmodSync(path.join(lc, "launcher"), 0o755);
  fs.cpSync(path.join(ROOT, "fixtures", "buildpacks"), at("cnb/buildpacks"), { recursive: true });
  fs.writeFileSync(at("cnb/order.toml"), o.order);
  if (o.stackToml !== undefined) fs.writeFileSync(at("cnb/stack.toml"), o.stackToml);
  if (o.runToml !== undefined) fs.writeFileSync(at("cnb/run.toml"), o.runToml);
  fs.mkdirSync(at("bin"), { recursive: true });
  fs.copyFileSync(BUSYBOX, at("bin/busybox"));
  fs.chmodSync(at("bin/busybox"), 0o755);
  for (const a of APPLETS) fs.symlinkSync("busybox", at(`bin/${a}`));
  for (const f of glibcFiles(bin)) copyInto(dir, f);
  fs.mkdirSync(at("etc"), { recursive: true });
  fs.writeFileSync(at("etc/passwd"), `root:x:0:0:root:/root:/bin/sh\ncnb:x:${user.uid}:${user.gid}::/home/cnb:/bin/sh\n`);
  fs.writeFileSync(at("etc/group"), `root:x:0:\ncnb:x:${user.gid}:\n`);
  fs.writeFileSync(at("etc/os-release"), 'ID=busybox\nVERSION_ID="1.35"\n');
  for (const d of ["proc", "dev", "tmp", "platform/env"]) fs.mkdirSync(at(d), { recursive: true });
  fs.chmodSync(at("tmp"), 0o1777);
  for (const [name, minor] of [["null", 3], ["zero", 5], ["urandom", 9]] as const) {
    spawnSync("mknod", ["-m", "666", at(`dev/${name}`), "c", "1", String(minor)]);
  }
  // The platform's volumes, the build user's (kpack and Tekton prepare them so).
  for (const d of ["layers", "workspace", "builder/home", "var/report", "cache", "tekton/home", "kaniko"]) {
    fs.mkdirSync(at(d), { recursive: true });
    fs.chownSync(at(d), user.uid, user.gid);
  }
  fs.chmodSync(dir, 0o755);
  return {
    dir,
    user,
    at,
    run(argv, env, cwd = "/") {
      const vars = Object.entries({ PATH: "/cnb/lifecycle:/bin", ...env }).map(([k, v]) => `${k}=${v}`);
      const r = spawnSync(
        "unshare",
        [
          "-m",
          "-p",
          "-f",
          `--mount-proc=${at("proc")}`,
          "chroot",
          `--userspec=${user.uid}:${user.gid}`,
          dir,
          "/bin/sh",
          "-c",
          'cd "$0" && exec /bin/env -i "$@"',
          cwd,
          ...vars,
          ...argv,
        ],
        { encoding: "utf8" },
      );
      return { code: r.status, out: r.stdout, err: r.stderr };
    },
  };
}
