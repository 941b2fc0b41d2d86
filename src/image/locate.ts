/**
 * Where an image reference lives inside a directory of layouts (DESIGN §4): the RFC's form first
 * (`<dir>/<repository as written>`, the tag as ref.name), then the canonical form
 * (`<dir>/<registry>/<repository>/<tag>` or `…/sha256/<hex>`); a path inside the directory is taken as is.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Layout, type LayoutImage, NoSuchImageError, type Selector } from "./layout.ts";
import { canonicalLayoutPath, confined, parseReference, type Reference, rfcLayoutPath } from "./reference.ts";
import { ImageNotFoundError } from "./errors.ts";

export { ImageNotFoundError } from "./errors.ts";

/** A layout directory and the name of the image inside it. */
export interface LayoutLocation {
  /** The layout directory. */
  path: string;
  /** The ref.name to select (undefined: the only image in the layout). */
  refName?: string;
  /** A digest to select. */
  digest?: string;
  /** Which rule produced it. */
  form: "rfc" | "canonical" | "path";
}

/** Is the input written as a path (`/…`, `./…`, `../…`) rather than as a reference? */
function looksLikePath(input: string): boolean {
  return input.startsWith("/") || input.startsWith("./") || input.startsWith("../");
}

/** The places to look for `input` under `dir`, in order. */
export function candidateLocations(dir: string, input: string): LayoutLocation[] {
  const root = path.resolve(dir);
  if (looksLikePath(input)) {
    const rel = path.relative(root, path.resolve(root, input));
    return [{ path: confined(root, rel, input), form: "path" }];
  }
  const ref = parseReference(input);
  return [
    { path: rfcLayoutPath(root, ref), refName: ref.writtenTag, digest: ref.digest, form: "rfc" },
    { path: canonicalLayoutPath(root, ref), form: "canonical" },
  ];
}

/**
 * Finds and opens the image `input` under `dir`.
 *
 * @example await openLayoutImage("/oci", "cnb/my-full-stack-run:bionic")
 */
export async function openLayoutImage(dir: string, input: string, sel: Omit<Selector, "refName" | "digest"> = {}): Promise<LayoutImage> {
  const locs = candidateLocations(dir, input);
  for (const loc of locs) {
    if (!Layout.exists(loc.path)) continue;
    const layout = Layout.open(loc.path);
    return layout.image({ ...sel, refName: loc.refName, digest: loc.digest });
  }
  throw new ImageNotFoundError(input, locs[0].path, locs.map((l) => l.path));
}

/** Whether some layout under `dir` holds `input` (errors inside an existing layout propagate). */
export async function layoutImageExists(dir: string, input: string): Promise<boolean> {
  try {
    await openLayoutImage(dir, input);
    return true;
  } catch (e) {
    if (e instanceof ImageNotFoundError) return false;
    if (e instanceof NoSuchImageError) return false;
    throw e;
  }
}

/**
 * Where the app image `input` is written: the RFC's form (`-oci`, `CNB_USE_OCI`) or the canonical form the
 * reference lifecycle and pack use (`-layout`, `CNB_USE_LAYOUT`). The ref.name is the tag (`latest` if none).
 */
export function appImageLocation(dir: string, input: string, form: "rfc" | "canonical"): LayoutLocation & { ref: Reference } {
  const ref = parseReference(input);
  if (form === "rfc") return { path: rfcLayoutPath(dir, ref), refName: ref.writtenTag ?? "latest", form, ref };
  return { path: canonicalLayoutPath(dir, ref), refName: ref.digest ? undefined : ref.tag, form, ref };
}

/** True when `p` exists and is a directory. */
export function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
