/**
 * Every flag of every command, declared once: its name, kind, environment variables, default and help text (the
 * platform spec's inputs table; spec digest §3). A command lists the flags it takes by name, so a flag shared by
 * several phases has one declaration and one meaning.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { FlagSpec, FlagValues } from "../ground/flags.ts";

/** `<layers>/<name>`, for defaults that follow `-layers`. */
function underLayers(name: string): (v: FlagValues) => string {
  return (v) => path.join(String(v.layers ?? "/layers"), name);
}

const specs: FlagSpec[] = [
  // Directories and files of the build.
  { name: "layers", kind: "string", env: ["CNB_LAYERS_DIR"], default: "/layers", usage: "path to the layers directory" },
  { name: "app", kind: "string", env: ["CNB_APP_DIR"], default: "/workspace", usage: "path to the application directory" },
  { name: "buildpacks", kind: "string", env: ["CNB_BUILDPACKS_DIR"], default: "/cnb/buildpacks", usage: "path to the buildpacks directory" },
  {
    name: "build-config",
    kind: "string",
    env: ["CNB_BUILD_CONFIG_DIR"],
    default: "/cnb/build-config",
    usage: "path to the build config directory (operator env in env/)",
  },
  { name: "platform", kind: "string", env: ["CNB_PLATFORM_DIR"], default: "/platform", usage: "path to the platform directory" },
  { name: "analyzed", kind: "string", env: ["CNB_ANALYZED_PATH"], default: underLayers("analyzed.toml"), usage: "path to analyzed.toml" },
  { name: "group", kind: "string", env: ["CNB_GROUP_PATH"], default: underLayers("group.toml"), usage: "path to group.toml" },
  { name: "plan", kind: "string", env: ["CNB_PLAN_PATH"], default: underLayers("plan.toml"), usage: "path to plan.toml" },
  { name: "report", kind: "string", env: ["CNB_REPORT_PATH"], default: underLayers("report.toml"), usage: "path to write report.toml to" },
  {
    name: "project-metadata",
    kind: "string",
    env: ["CNB_PROJECT_METADATA_PATH"],
    default: underLayers("project-metadata.toml"),
    usage: "path to project-metadata.toml",
  },
  {
    name: "order",
    kind: "string",
    env: ["CNB_ORDER_PATH"],
    default: (v) => {
      const p = path.join(String(v.layers ?? "/layers"), "order.toml");
      return fs.existsSync(p) ? p : "/cnb/order.toml";
    },
    usage: "path to order.toml (default <layers>/order.toml if it exists, else /cnb/order.toml)",
  },
  { name: "system", kind: "string", env: ["CNB_SYSTEM_PATH"], default: "/cnb/system.toml", usage: "path to system.toml (Platform API 0.15)" },
  {
    name: "run",
    kind: "string",
    env: ["CNB_RUN_PATH"],
    default: "/cnb/run.toml",
    usage: "path to run.toml (where the run image comes from without -run-image)",
  },
  {
    name: "stack",
    kind: "string",
    env: ["CNB_STACK_PATH"],
    default: "/cnb/stack.toml",
    usage: "path to stack.toml: where the run image comes from before Platform API 0.12",
  },
  {
    name: "extensions",
    kind: "string",
    env: ["CNB_EXTENSIONS_DIR"],
    default: "/cnb/extensions",
    usage: "path to the extensions directory (image extensions are not supported)",
  },
  {
    name: "generated",
    kind: "string",
    env: ["CNB_GENERATED_DIR"],
    default: underLayers("generated"),
    usage: "path to the generated directory (image extensions are not supported)",
  },
  { name: "extended", kind: "string", env: ["CNB_EXTENDED_DIR"], usage: "path to extended run image layers (image extensions are not supported)" },
  { name: "build-image", kind: "string", env: ["CNB_BUILD_IMAGE"], usage: "build image (image extensions only; not supported)" },

  // Images and where they live.
  { name: "run-image", kind: "string", env: ["CNB_RUN_IMAGE"], usage: "run image reference" },
  { name: "previous-image", kind: "string", env: ["CNB_PREVIOUS_IMAGE"], usage: "previous app image (default: <image>)" },
  { name: "image", kind: "string", usage: "deprecated name of -run-image" },
  { name: "tag", kind: "list", usage: "additional tag for the app image (repeatable)" },
  {
    name: "oci",
    kind: "bool",
    env: ["CNB_USE_OCI"],
    usage: "read and write images as OCI layouts on disk, app image at <oci-dir>/<repository> (the RFC's form)",
  },
  { name: "oci-dir", kind: "string", env: ["CNB_OCI_PATH"], usage: "directory of the OCI layouts (default /oci)" },
  {
    name: "layout",
    kind: "bool",
    env: ["CNB_USE_LAYOUT"],
    usage: "read and write images as OCI layouts on disk, app image at <layout-dir>/<registry>/<repository>/<tag> (pack's form)",
  },
  { name: "layout-dir", kind: "string", env: ["CNB_LAYOUT_DIR"], usage: "directory of the OCI layouts (default /oci)" },
  {
    name: "oci-link",
    kind: "string",
    env: ["CNB_OCI_LINK"],
    default: "hardlink",
    usage: "how blobs of other layouts are reused: hardlink (falling back to copy), symlink or copy",
  },
  {
    name: "oci-gc",
    kind: "bool",
    env: ["CNB_OCI_GC"],
    usage: "after saving, remove blobs of earlier builds that the app layout no longer references (kept for CNB_OCI_GC_MIN_AGE, default 10m)",
  },
  {
    name: "oci-full",
    kind: "bool",
    env: ["CNB_OCI_FULL"],
    usage: "write complete layouts: blobs the run image's layout lacks, or a registry run image's, are fetched from its registry and verified",
  },
  { name: "daemon", kind: "bool", env: ["CNB_USE_DAEMON"], usage: "images are in the Docker daemon at DOCKER_HOST (default unix:///var/run/docker.sock)" },
  { name: "oci-archive", kind: "string", env: ["CNB_OCI_ARCHIVE"], usage: "write the app image to this file as an OCI layout in a tar (oci-archive)" },
  { name: "docker-archive", kind: "string", env: ["CNB_DOCKER_ARCHIVE"], usage: "write the app image to this file in docker save's format (docker-archive)" },
  { name: "publish", kind: "bool", env: ["CNB_PUBLISH"], usage: "images are in registries (the default without -oci, -layout or -daemon)" },
  {
    name: "insecure-registry",
    kind: "list",
    env: ["CNB_INSECURE_REGISTRIES"],
    usage: "a registry to reach over plain HTTP (repeatable; loopback and private addresses always are)",
  },

  // Caches.
  { name: "cache-dir", kind: "string", env: ["CNB_CACHE_DIR"], usage: "path to the cache directory" },
  { name: "cache-image", kind: "string", env: ["CNB_CACHE_IMAGE"], usage: "cache image: in a registry, or a layout in layout mode (wins over -cache-dir)" },
  {
    name: "launch-cache",
    kind: "string",
    env: ["CNB_LAUNCH_CACHE_DIR"],
    usage: "with -daemon: keeps the layers loaded into the daemon, so the next export need not read them back",
  },

  // What the phases do.
  { name: "skip-layers", kind: "bool", env: ["CNB_SKIP_LAYERS"], usage: "do not restore layers (the analyzer: the previous image's SBOM layer)" },
  { name: "skip-restore", kind: "bool", env: ["CNB_SKIP_RESTORE"], usage: "do not restore layers (store.toml still is)" },
  { name: "process-type", kind: "string", env: ["CNB_PROCESS_TYPE"], usage: "default process type" },
  { name: "launcher", kind: "string", default: "/cnb/lifecycle/launcher", usage: "the launcher to put in the image" },
  { name: "launcher-sbom", kind: "string", default: "/cnb/lifecycle", usage: "directory of the launcher's SBOM files" },
  { name: "parallel", kind: "bool", env: ["CNB_PARALLEL_EXPORT"], usage: "accepted; layers are always compressed on every core" },
  {
    name: "layer-compression",
    kind: "string",
    env: ["CNB_LAYER_COMPRESSION"],
    default: "gzip",
    usage: "compression of new layers: gzip, or zstd (OCI run images only; older runtimes read gzip only)",
  },
  { name: "force", kind: "bool", env: ["CNB_FORCE_REBASE"], usage: "rebase even when the image, target or run image name does not fit" },
  { name: "uid", kind: "int", env: ["CNB_USER_ID"], default: "0", usage: "user ID of the build user (owner of exported files)" },
  { name: "gid", kind: "int", env: ["CNB_GROUP_ID"], default: "0", usage: "group ID of the build user" },

  // Output.
  { name: "log-level", kind: "string", env: ["CNB_LOG_LEVEL"], default: "info", usage: "logging level: debug, info, warn or error" },
  { name: "no-color", kind: "bool", env: ["CNB_NO_COLOR"], usage: "disable color output" },

  // Tool commands.
  { name: "json", kind: "bool", usage: "print JSON instead of text" },
  { name: "verify-layers", kind: "bool", usage: "also read every present layer blob and check its digest" },
  { name: "min-age", kind: "string", default: "10m", usage: "keep unreferenced blobs changed more recently than this (an export may still be writing them)" },
];

const byName = new Map(specs.map((s) => [s.name, s]));

/**
 * The declarations of the named flags, in that order (`-log-level` is added to every command); a name may carry
 * the Platform API range in which the command line may give it (`skip-layers>=0.9`, `stack<0.12`).
 *
 * @example flagsNamed("layers", "skip-layers>=0.9") // the two FlagSpecs
 */
export function flagsNamed(...names: string[]): FlagSpec[] {
  const out = names.map((entry) => {
    // `name>=0.9`: from Platform API 0.9; `name<0.12`: before 0.12 (the command line only; env works at any).
    const m = /^([a-z-]+)(?:(>=|<)(\d+\.\d+))?$/.exec(entry);
    const s = m ? byName.get(m[1]) : undefined;
    if (!m || !s) throw new Error(`no flag -${entry} in the catalog`);
    if (!m[2]) return s;
    return m[2] === ">=" ? { ...s, since: m[3] } : { ...s, before: m[3] };
  });
  if (!out.some((s) => s.name === "log-level")) out.push(byName.get("log-level") as FlagSpec);
  return out;
}

/** Every declared flag (for documentation and tests). */
export function allFlags(): FlagSpec[] {
  return [...specs];
}

/**
 * The flags that say where images live, taken by the analyzer, restorer, exporter, creator and rebaser: layouts
 * from Platform API 0.12 (DESIGN §3), `-insecure-registry` from 0.13, as the platform spec has them.
 */
export const IMAGE_LOCATION = [
  "oci>=0.12",
  "oci-dir>=0.12",
  "layout>=0.12",
  "layout-dir>=0.12",
  "oci-link>=0.12",
  "daemon",
  "publish",
  "insecure-registry>=0.13",
];
