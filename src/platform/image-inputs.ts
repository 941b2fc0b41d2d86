/**
 * The image-location inputs shared by analyzer, restorer, exporter and creator (DESIGN §3): the RFC's `-oci` /
 * `CNB_USE_OCI` with `-oci-dir` / `CNB_OCI_PATH`, and the reference lifecycle's `-layout` / `CNB_USE_LAYOUT` with
 * `-layout-dir` / `CNB_LAYOUT_DIR`; `-daemon` and `-publish` for the other targets; the link policy.
 */
import type { FlagSpec, FlagValues } from "../ground/flags.ts";
import { ExitCode, PhaseError } from "../ground/errors.ts";
import { type ImageStore, LayoutStore } from "../image/store.ts";
import { RegistryStore } from "../image/registry/store.ts";
import { parseLinkPolicy } from "../image/layout-write.ts";

/** The flags that choose where images live. */
export const imageLocationFlags: FlagSpec[] = [
  { name: "oci", kind: "bool", env: ["CNB_USE_OCI"], usage: "read and write images as OCI layouts on disk, app image at <oci-dir>/<repository> (the RFC's form)" },
  { name: "oci-dir", kind: "string", env: ["CNB_OCI_PATH"], usage: "directory of the OCI layouts (default /oci)" },
  { name: "layout", kind: "bool", env: ["CNB_USE_LAYOUT"], usage: "read and write images as OCI layouts on disk, app image at <layout-dir>/<registry>/<repository>/<tag> (pack's form)" },
  { name: "layout-dir", kind: "string", env: ["CNB_LAYOUT_DIR"], usage: "directory of the OCI layouts (default /oci)" },
  { name: "oci-link", kind: "string", env: ["CNB_OCI_LINK"], default: "hardlink", usage: "how blobs of other layouts are reused: hardlink (falling back to copy), symlink or copy" },
  { name: "daemon", kind: "bool", env: ["CNB_USE_DAEMON"], usage: "use a Docker daemon (not available in this lifecycle yet)" },
  { name: "publish", kind: "bool", env: ["CNB_PUBLISH"], usage: "images are in registries (the default without -oci, -layout or -daemon)" },
  { name: "insecure-registry", kind: "list", env: ["CNB_INSECURE_REGISTRIES"], usage: "a registry to reach over plain HTTP (repeatable; loopback and private addresses always are)" },
];

/**
 * Warns about flags given that do not apply, as the reference does (`Ignoring -launch-cache, only intended for use
 * with -daemon`), so that nothing a platform passes is ignored silently.
 */
export function warnInapplicableFlags(v: FlagValues, warn: (message: string) => void): void {
  if (v["launch-cache"] && v.daemon !== true) warn("Ignoring -launch-cache, only intended for use with -daemon");
  if (v["cache-image"]) warn(`Ignoring -cache-image ${v["cache-image"]}: this lifecycle does not read or write cache images yet; no cached data comes from it (use -cache-dir)`);
}

/** The layout directory and the form new images take: `-oci` → the RFC's, `-layout` → the canonical one. */
export function layoutDir(v: FlagValues): { form: "rfc" | "canonical"; dir: string } {
  const form = v.oci === true ? "rfc" : "canonical";
  const oci = v["oci-dir"] as string | undefined;
  const layout = v["layout-dir"] as string | undefined;
  return { form, dir: (form === "rfc" ? oci ?? layout : layout ?? oci) ?? "/oci" };
}

/** `-oci-gc`: after an export, remove the blobs the app layout no longer references (exporter, creator). */
export const ociGcFlag: FlagSpec = { name: "oci-gc", kind: "bool", env: ["CNB_OCI_GC"], usage: "after saving, remove blobs of earlier builds that the app layout no longer references (kept for CNB_OCI_GC_MIN_AGE, default 10m)" };

/** Whether the flags select layout mode. */
export function layoutMode(v: FlagValues): boolean {
  return v.oci === true || v.layout === true;
}

/**
 * The image store the flags select: layouts (`-oci`, `-layout`), else registries. Refuses to mix targets with
 * the RFC's message, and says plainly that the daemon target is not available yet.
 */
export function imageStoreFrom(v: FlagValues, phase: "analyze" | "restore" | "export" | "create" | "rebase", env: Record<string, string | undefined> = {}): ImageStore {
  const oci = layoutMode(v);
  if (oci && (v.daemon === true || v.publish === true)) {
    throw new PhaseError(ExitCode.invalidArgs, "exporting to multiples target is not allowed");
  }
  if (!oci) {
    if (v.daemon === true) {
      throw new PhaseError(ExitCode.invalidArgs, `a Docker daemon (-daemon) is not supported yet: pass -oci (or -layout) to ${phase} with images as OCI layouts, or leave both out to use registries`);
    }
    return new RegistryStore({ insecure: (v["insecure-registry"] as string[] | undefined) ?? [], env });
  }
  const { form, dir } = layoutDir(v);
  let link;
  try {
    link = parseLinkPolicy(String(v["oci-link"] ?? "hardlink"));
  } catch (e) {
    throw new PhaseError(ExitCode.invalidArgs, (e as Error).message);
  }
  return new LayoutStore({ dir, form, link });
}
