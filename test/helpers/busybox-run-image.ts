/**
 * A real run image for end-to-end tests (DESIGN §7): busybox-static with its applet links, the host's glibc files
 * that a glibc binary (the launcher) needs, /etc/passwd with the build user, written as a one-layer OCI layout.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { gzipSync } from "fflate";
import { LayoutWriter } from "../../src/image/layout-write.ts";
import { MediaType } from "../../src/image/types.ts";
import { tmpDir } from "./images.ts";

const BUSYBOX = "/bin/busybox";
const APPLETS = ["sh", "ash", "echo", "cat", "ls", "env", "printf", "sleep", "kill", "id", "pwd", "test", "true", "false", "mkdir", "readlink", "grep", "sed", "tr", "wc", "head", "tail"];

/** Why a busybox run image cannot be built here, or undefined when it can. */
export function busyboxMissing(): string | undefined {
  if (!fs.existsSync(BUSYBOX)) return "busybox-static is not installed (apt-get install busybox-static)";
  const file = spawnSync("file", ["-L", BUSYBOX]).stdout?.toString() ?? "";
  if (file && !/statically linked|static-pie/.test(file)) return `${BUSYBOX} is not statically linked (install busybox-static)`;
  return undefined;
}

/** The host's dynamic loader and the libraries `binary` needs (from ldd). */
function glibcFiles(binary: string): string[] {
  const out = spawnSync("ldd", [binary]).stdout?.toString() ?? "";
  const files = new Set<string>();
  for (const line of out.split("\n")) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) files.add(m[1]);
  }
  return [...files];
}

/** Copies `src` to `<root><src>`, recreating a symlink chain as symlinks. */
function copyInto(root: string, src: string): void {
  const dest = path.join(root, src);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const st = fs.lstatSync(src);
  if (st.isSymbolicLink()) {
    const target = fs.readlinkSync(src);
    if (!fs.existsSync(dest)) fs.symlinkSync(target, dest);
    copyInto(root, path.resolve(path.dirname(src), target));
  } else if (!fs.existsSync(dest)) {
    fs.copyFileSync(src, dest);
    fs.chmodSync(dest, st.mode & 0o7777);
  }
}

/**
 * Writes the run image to `<ociDir>/<repo>` with ref.name `tag`; `glibcFor` names a binary whose libraries are
 * copied in (the launcher). Resolves to the manifest digest.
 */
export async function makeBusyboxRunImage(ociDir: string, repo: string, tag: string, glibcFor: string, user = { uid: 1000, gid: 1000 }): Promise<string> {
  const rootfs = tmpDir("rootfs-");
  fs.mkdirSync(path.join(rootfs, "bin"), { recursive: true });
  fs.copyFileSync(BUSYBOX, path.join(rootfs, "bin", "busybox"));
  fs.chmodSync(path.join(rootfs, "bin", "busybox"), 0o755);
  for (const a of APPLETS) fs.symlinkSync("busybox", path.join(rootfs, "bin", a));
  for (const f of glibcFiles(glibcFor)) copyInto(rootfs, f);
  fs.mkdirSync(path.join(rootfs, "etc"), { recursive: true });
  fs.writeFileSync(path.join(rootfs, "etc", "passwd"), `root:x:0:0:root:/root:/bin/sh\ncnb:x:${user.uid}:${user.gid}::/home/cnb:/bin/sh\n`);
  fs.writeFileSync(path.join(rootfs, "etc", "group"), `root:x:0:\ncnb:x:${user.gid}:\n`);
  fs.writeFileSync(path.join(rootfs, "etc", "os-release"), 'ID=busybox\nVERSION_ID="1.35"\n');
  for (const d of ["tmp", "proc", "dev", "home/cnb"]) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
  fs.chmodSync(path.join(rootfs, "tmp"), 0o1777);

  const tar = spawnSync("tar", ["--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=1980-01-01 00:00:01Z", "-C", rootfs, "-cf", "-", "."], { maxBuffer: 1 << 30 });
  if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr}`);
  const tarBytes = new Uint8Array(tar.stdout);
  const gz = gzipSync(tarBytes, { level: 1, mtime: 0 });
  const sha = (b: Uint8Array) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
  const w = LayoutWriter.open(path.join(ociDir, repo));
  const tmp = w.tempBlobPath();
  fs.writeFileSync(tmp, gz);
  w.commitBlob(tmp, sha(gz));
  const config = {
    architecture: "amd64",
    os: "linux",
    config: {
      Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      User: `${user.uid}:${user.gid}`,
      Labels: { "io.buildpacks.base.id": "io.buildpacks.stacks.busybox", "io.buildpacks.base.distro.name": "busybox", "io.buildpacks.base.distro.version": "1.35" },
    },
    rootfs: { type: "layers", diff_ids: [sha(tarBytes)] },
    history: [{ created: "1980-01-01T00:00:01Z", created_by: "busybox-static and the host's glibc" }],
  };
  const cfg = await w.writeBlob(new TextEncoder().encode(JSON.stringify(config)), MediaType.ociConfig);
  const manifest = { schemaVersion: 2, mediaType: MediaType.ociManifest, config: cfg, layers: [{ mediaType: MediaType.ociLayerGzip, digest: sha(gz), size: gz.length }] };
  const m = await w.writeBlob(new TextEncoder().encode(JSON.stringify(manifest)), MediaType.ociManifest);
  await w.addToIndex(m, [tag]);
  fs.rmSync(rootfs, { recursive: true, force: true });
  return m.digest;
}
