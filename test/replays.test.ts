/**
 * Platforms replayed with their exact command lines (issue 11), against Debian's docker-registry on 127.0.0.1:
 * kpack's build pod (Platform API 0.9, phases as separate containers, a cache image), the Tekton catalog's
 * `buildpacks` task (the creator at 0.9) and its `buildpacks-phases` task (the phases at 0.13, without the
 * extender). Each runs in a builder root (test/helpers/builder-root.ts) through chroot as the build user and builds
 * twice: the second build restores from the cache image, reuses every unchanged layer, uploads nothing to the app
 * image's repository, and gives the same digest. Needs root (chroot); skipped with a message otherwise.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "smol-toml";
import { busyboxMissing } from "../fixtures/run-image.ts";
import { type BuilderRoot, makeBuilderRoot } from "./helpers/builder-root.ts";
import { makeRunImage, tmpDir } from "./helpers/images.ts";
import { startRegistry, type TestRegistry } from "./helpers/registry.ts";
import { tool } from "./helpers/run.ts";

const isRoot = process.getuid?.() === 0;
const missing = !isRoot ? "needs root (chroot, unshare)" : busyboxMissing();
if (missing) console.warn(`replays.test.ts: skipped: ${missing}`);
const maybe = missing ? test.skip : test;

const ORDER = `[[order]]
  [[order.group]]
    id = "test/cache"
    version = "0.0.1"
  [[order.group]]
    id = "test/hello"
    version = "0.0.1"
`;

let reg: TestRegistry;
let RUN: string;
beforeAll(async () => {
  if (missing) return;
  reg = await startRegistry();
  const root = tmpDir("replay-run-");
  const run = await makeRunImage(path.join(root, "oci"), "cnb/run", "bionic", { labels: { "io.buildpacks.stack.id": "io.buildpacks.stacks.test" } });
  RUN = `${reg.host}/run:bionic`;
  tool("skopeo", ["copy", "--insecure-policy", "--dest-tls-verify=false", `oci:${run.layout}:bionic`, `docker://${RUN}`]);
}, 60_000);
afterAll(() => reg?.stop());

/** The requests the registry served while `fn` ran. */
async function requestsDuring(fn: () => void): Promise<string[]> {
  await new Promise((r) => setTimeout(r, 200));
  const before = reg.requests().length;
  fn();
  await new Promise((r) => setTimeout(r, 300));
  return reg.requests().slice(before);
}

/** A phase that must succeed; its output. */
function ok(b: BuilderRoot, argv: string[], env: Record<string, string>, cwd?: string): string {
  const r = b.run(argv, env, cwd);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} exited ${r.code}:\n${r.out}\n${r.err}`);
  return r.out + r.err;
}

/** A manifest's digest in the registry, or undefined when it is not there. */
async function manifestDigest(ref: string): Promise<string | undefined> {
  const rest = ref.slice(reg.host.length + 1);
  const at = rest.includes("@") ? rest.indexOf("@") : rest.lastIndexOf(":");
  const [repo, tag] = [rest.slice(0, at), rest.slice(at + 1)];
  const res = await fetch(`http://${reg.host}/v2/${repo}/manifests/${tag}`, {
    headers: { Accept: "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json" },
  });
  await res.arrayBuffer();
  return res.ok ? res.headers.get("docker-content-digest") ?? undefined : undefined;
}

const report = (b: BuilderRoot, p: string) => parse(fs.readFileSync(b.at(p), "utf8")) as { image: { tags: string[]; digest: string; "manifest-size": number } };

describe("platform replays", () => {
  maybe("kpack's build pod at Platform API 0.9: analyze, detect, restore, build, export as separate containers, with a cache image", async () => {
    const TAG = `${reg.host}/kpack-app:latest`;
    const BTAG = `${reg.host}/kpack-app:b1.20250101.120000`;
    const CACHE_TAG = `${reg.host}/kpack-app-cache:latest`;
    const env = { HOME: "/builder/home", CNB_PLATFORM_API: "0.9", CNB_USER_ID: "1000", CNB_GROUP_ID: "1000", CNB_STACK_ID: "io.buildpacks.stacks.test" };
    const pod = (prev?: { image: string; cache: string }) => {
      // A fresh pod: empty /layers, the source fetched again, project metadata written by kpack's prepare step.
      const b = makeBuilderRoot(tmpDir("kpack-"), { order: ORDER, stackToml: `[run-image]\nimage = "${RUN}"\n` });
      fs.cpSync(path.join(import.meta.dir, "../fixtures/app"), b.at("workspace"), { recursive: true });
      fs.writeFileSync(b.at("layers/project-metadata.toml"), '[source]\ntype = "git"\n[source.version]\ncommit = "0123abc"\n');
      fs.chownSync(b.at("layers/project-metadata.toml"), 1000, 1000);
      const cacheRef = prev?.cache ?? CACHE_TAG;
      const out: Record<string, string> = {};
      out.analyze = ok(b, [
        "/cnb/lifecycle/analyzer",
        "-layers=/layers",
        "-analyzed=/layers/analyzed.toml",
        `-run-image=${RUN}`,
        `-cache-image=${cacheRef}`,
        `-tag=${BTAG}`,
        ...(prev ? [`-previous-image=${prev.image}`] : []),
        TAG,
      ], env);
      out.detect = ok(b, ["/cnb/lifecycle/detector", "-app=/workspace", "-group=/layers/group.toml", "-plan=/layers/plan.toml"], { CNB_PLATFORM_API: "0.9" });
      out.restore = ok(b, [
        "/cnb/lifecycle/restorer",
        "-group=/layers/group.toml",
        "-layers=/layers",
        `-cache-image=${cacheRef}`,
        "-analyzed=/layers/analyzed.toml",
      ], env);
      out.build = ok(b, ["/cnb/lifecycle/builder", "-layers=/layers", "-app=/workspace", "-group=/layers/group.toml", "-plan=/layers/plan.toml"], {
        CNB_PLATFORM_API: "0.9",
        SERVICE_BINDING_ROOT: "/platform/bindings",
      });
      return { b, out };
    };
    const exporter = [
      "/cnb/lifecycle/exporter",
      "-layers=/layers",
      "-app=/workspace",
      "-group=/layers/group.toml",
      "-analyzed=/layers/analyzed.toml",
      "-project-metadata=/layers/project-metadata.toml",
      `-cache-image=${CACHE_TAG}`,
      "-process-type=web",
      "-report=/var/report/report.toml",
      TAG,
      BTAG,
    ];
    const exportEnv = { ...env, CNB_RUN_IMAGE: RUN };

    const first = pod();
    expect(first.out.build).toContain("cache count: 1");
    const e1 = ok(first.b, exporter, exportEnv);
    expect(e1).toContain("Adding cache layer 'test/cache:cached'");
    const r1 = report(first.b, "var/report/report.toml");
    expect(r1.image.tags).toEqual([TAG, BTAG]);
    // The label the way kpack's completion step reads it: runImage with the top layer and reference only (0.9),
    // stack.runImage.image a reference it can parse.
    const inspect = JSON.parse(tool("skopeo", ["inspect", "--tls-verify=false", `docker://${TAG}`]));
    expect(inspect.Digest).toBe(r1.image.digest);
    const md = JSON.parse(inspect.Labels["io.buildpacks.lifecycle.metadata"]);
    expect(Object.keys(md.runImage).sort()).toEqual(["reference", "topLayer"]);
    expect(md.stack.runImage.image).toBe(RUN);
    expect(inspect.Labels["io.buildpacks.stack.id"]).toBe("io.buildpacks.stacks.test");
    const cache1 = await manifestDigest(CACHE_TAG);
    expect(cache1).toBeDefined();

    // The next build: previous image and cache by digest, as kpack records them.
    const second = pod({ image: `${reg.host}/kpack-app@${r1.image.digest}`, cache: `${reg.host}/kpack-app-cache@${cache1}` });
    expect(second.out.restore).toContain("Restoring data for 'test/cache:cached' from cache");
    expect(second.out.build).toContain("cache count: 2");
    let e2 = "";
    const requests = await requestsDuring(() => (e2 = ok(second.b, exporter, exportEnv)));
    expect(e2).toContain("Reusing layer 'test/hello:hello'");
    expect(e2).toContain("Reusing layer 'buildpacksio/lifecycle:launcher'");
    expect(report(second.b, "var/report/report.toml").image.digest).toBe(r1.image.digest);
    // Nothing uploaded for the app image; for the cache only its changed layer and config.
    const uploads = requests.filter((r) => r.startsWith("POST ") && r.includes("/blobs/uploads/"));
    expect(uploads.filter((r) => r.includes("/kpack-app/"))).toEqual([]);
    expect(uploads.filter((r) => r.includes("/kpack-app-cache/")).length).toBe(2);
    // Platform API 0.9: the old cache manifest is deleted once the new one is saved.
    expect(await manifestDigest(`${reg.host}/kpack-app-cache@${cache1}`)).toBeUndefined();
    expect(await manifestDigest(CACHE_TAG)).not.toBe(cache1);
  }, 240_000);

  maybe("the Tekton catalog's buildpacks task: the creator at Platform API 0.9, run image from stack.toml, a cache image", async () => {
    const APP = `${reg.host}/tekton-app:latest`;
    const CACHE = `${reg.host}/tekton-app-cache:latest`;
    const creator = (b: BuilderRoot) =>
      b.run([
        "/cnb/lifecycle/creator",
        "-app=/workspace/source/",
        "-cache-dir=",
        `-cache-image=${CACHE}`,
        "-uid=1000",
        "-gid=1000",
        "-layers=/layers",
        "-platform=/platform",
        "-report=/layers/report.toml",
        "-process-type=web",
        "-skip-restore=false",
        `-previous-image=${APP}`,
        "-run-image=",
        APP,
      ], { CNB_PLATFORM_API: "0.9", DOCKER_CONFIG: "", HOME: "/tekton/home" });
    const task = () => {
      const b = makeBuilderRoot(tmpDir("tekton-"), { order: ORDER, stackToml: `[run-image]\nimage = "${RUN}"\n` });
      fs.cpSync(path.join(import.meta.dir, "../fixtures/app"), b.at("workspace/source"), { recursive: true });
      fs.chownSync(b.at("workspace/source"), 1000, 1000);
      return b;
    };
    const first = task();
    const c1 = creator(first);
    expect(c1.err).toBe("");
    expect(c1.code).toBe(0);
    expect(c1.out).toContain("===> EXPORTING");
    const d1 = report(first, "layers/report.toml").image.digest;
    // The task's results step: the one line with `digest`, its first quoted value.
    const digestLines = fs.readFileSync(first.at("layers/report.toml"), "utf8").split("\n").filter((l) => l.includes("digest"));
    expect(digestLines.map((l) => l.split('"')[1])).toEqual([d1]);

    const second = task();
    let c2 = { code: null as number | null, out: "", err: "" };
    const requests = await requestsDuring(() => (c2 = creator(second)));
    expect(c2.code).toBe(0);
    expect(c2.out).toContain("Restoring data for 'test/cache:cached' from cache");
    expect(c2.out).toContain("cache count: 2");
    expect(c2.out).toContain("Reusing layer 'test/hello:hello'");
    expect(report(second, "layers/report.toml").image.digest).toBe(d1);
    expect(requests.filter((r) => r.startsWith("POST ") && r.includes("/tekton-app/blobs/uploads/"))).toEqual([]);
  }, 240_000);

  maybe("the Tekton catalog's buildpacks-phases task: the phases at Platform API 0.13, run image from run.toml, a cache image", async () => {
    const APP = `${reg.host}/phases-app:latest`;
    const CACHE = `${reg.host}/phases-app-cache:latest`;
    const BUILDER = `${reg.host}/builder:latest`;
    const env = { CNB_PLATFORM_API: "0.13", CNB_EXPERIMENTAL_MODE: "silent", HOME: "/tekton/home" };
    const task = () => {
      const b = makeBuilderRoot(tmpDir("phases-"), { order: ORDER, runToml: `[[images]]\nimage = "${RUN}"\n` });
      fs.cpSync(path.join(import.meta.dir, "../fixtures/app"), b.at("workspace/source"), { recursive: true });
      fs.chownSync(b.at("workspace/source"), 1000, 1000);
      const out: string[] = [];
      out.push(
        ok(b, [
          "/cnb/lifecycle/analyzer",
          "-log-level=info",
          "-layers=/layers",
          "-run-image=",
          `-cache-image=${CACHE}`,
          "-uid=1000",
          "-gid=1000",
          "-insecure-registry=",
          "-tag=",
          "-skip-layers=false",
          APP,
        ], env),
      );
      out.push(
        ok(b, [
          "/cnb/lifecycle/detector",
          "-log-level=info",
          "-app=/workspace/source/",
          "-group=/layers/group.toml",
          "-plan=/layers/plan.toml",
          "-layers=/layers",
          "-platform=/platform",
        ], env),
      );
      // The task's restore script leaves -layers empty: paths resolve against the working directory, /layers.
      const restoreEnv = {
        ...env,
        CNB_LOG_LEVEL: "info",
        CNB_BUILD_IMAGE: "",
        CNB_BUILDER_IMAGE: BUILDER,
        CNB_CACHE_IMAGE: CACHE,
        CNB_INSECURE_REGISTRIES: "",
        CNB_SKIP_LAYERS: "false",
      };
      out.push(
        ok(
          b,
          [
            "/cnb/lifecycle/restorer",
            "-log-level=info",
            `-build-image=${BUILDER}`,
            "-group=/layers/group.toml",
            "-layers=",
            "-cache-dir=",
            `-cache-image=${CACHE}`,
            "-uid=1000",
            "-gid=1000",
            "-insecure-registry=",
            "-skip-layers=false",
          ],
          restoreEnv,
          "/layers",
        ),
      );
      out.push(
        ok(b, [
          "/cnb/lifecycle/builder",
          "-log-level=info",
          "-app=/workspace/source/",
          "-layers=/layers",
          "-group=/layers/group.toml",
          "-plan=/layers/plan.toml",
          "-platform=/platform",
        ], env),
      );
      return { b, out: out.join("\n") };
    };
    const exporter = [
      "/cnb/lifecycle/exporter",
      "-log-level=info",
      "-app=/workspace/source/",
      "-layers=/layers",
      "-group=/layers/group.toml",
      "-cache-dir=",
      `-cache-image=${CACHE}`,
      "-report=/layers/report.toml",
      "-process-type=web",
      "-uid=1000",
      "-gid=1000",
      "-insecure-registry=",
      APP,
    ];

    const first = task();
    ok(first.b, exporter, env);
    const d1 = report(first.b, "layers/report.toml").image.digest;
    const cache1 = await manifestDigest(CACHE);
    const second = task();
    expect(second.out).toContain("Restoring data for 'test/cache:cached' from cache");
    expect(second.out).toContain("cache count: 2");
    let e2 = "";
    const requests = await requestsDuring(() => (e2 = ok(second.b, exporter, env)));
    expect(e2).toContain("Reusing layer 'test/hello:hello'");
    expect(report(second.b, "layers/report.toml").image.digest).toBe(d1);
    expect(requests.filter((r) => r.startsWith("POST ") && r.includes("/phases-app/blobs/uploads/"))).toEqual([]);
    // From Platform API 0.13 the old cache manifest stays.
    expect(await manifestDigest(`${reg.host}/phases-app-cache@${cache1}`)).toBe(cache1);
  }, 240_000);
});
