/**
 * Docker image references: parsing, normalisation (as Docker and go-containerregistry do) and the mapping of a
 * reference to a directory of OCI image layouts (DESIGN §4).
 */
import * as path from "node:path";
import * as fs from "node:fs";

/** The registry that references without one point at (go-containerregistry's spelling of Docker Hub). */
export const DEFAULT_REGISTRY = "index.docker.io";
/** The tag of a reference that names none. */
export const DEFAULT_TAG = "latest";

/** A parsed, normalised image reference. */
export interface Reference {
  /** The input, exactly as given. */
  readonly original: string;
  /** The repository path as written, without registry normalisation (`cnb/run` for `cnb/run:bionic`). */
  readonly written: string;
  /** Registry host with optional port, normalised (`docker.io` → `index.docker.io`). */
  readonly registry: string;
  /** Repository path inside the registry, with `library/` added for one-segment Docker Hub names. */
  readonly repository: string;
  /** The tag, when the reference has one and no digest; `latest` when it has neither. */
  readonly tag?: string;
  /** The tag as written, even when a digest makes it irrelevant; undefined when none was written. */
  readonly writtenTag?: string;
  /** The digest (`sha256:<hex>`), when given. */
  readonly digest?: string;
}

/** Raised for a reference that cannot be parsed; its message quotes the input. */
export class ReferenceError extends Error {
  constructor(readonly input: string, reason: string) {
    super(`invalid image reference "${input}": ${reason}`);
    this.name = "ReferenceError";
  }
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const DOMAIN = /^(?:\[[0-9a-fA-F:]+\]|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*)(?::[0-9]+)?$/;

/**
 * Parses and normalises a Docker image reference.
 *
 * @example parseReference("cnb/run:bionic") // registry index.docker.io, repository cnb/run, tag bionic
 */
export function parseReference(input: string): Reference {
  if (input.length === 0) throw new ReferenceError(input, "it is empty");
  if (input.length > 4096) throw new ReferenceError(input, "it is too long");
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new ReferenceError(input, `"${digest}" is not a valid digest`);
    if (digest.startsWith("sha256:") && !/^sha256:[a-f0-9]{64}$/.test(digest)) {
      throw new ReferenceError(input, "a sha256 digest must be 64 lowercase hexadecimal characters");
    }
  }
  let writtenTag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > lastSlash) {
    writtenTag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(writtenTag)) throw new ReferenceError(input, `"${writtenTag}" is not a valid tag`);
  }
  if (rest.length === 0) throw new ReferenceError(input, "the repository name is empty");
  let registry = "";
  let repo = rest;
  const slash = rest.indexOf("/");
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes(".") || first.includes(":") || first === "localhost") {
      registry = first;
      repo = rest.slice(slash + 1);
      if (!DOMAIN.test(registry)) throw new ReferenceError(input, `"${registry}" is not a valid registry`);
    }
  }
  const written = rest;
  if (repo.length === 0) throw new ReferenceError(input, "the repository name is empty");
  if (repo !== repo.toLowerCase()) throw new ReferenceError(input, "repository name must be lowercase");
  for (const part of repo.split("/")) {
    if (!COMPONENT.test(part)) {
      throw new ReferenceError(input, `path component "${part}" must match [a-z0-9]+ separated by '.', '_', '__' or '-'`);
    }
  }
  if (registry === "" || registry === "docker.io" || registry === "index.docker.io") {
    registry = DEFAULT_REGISTRY;
    if (!repo.includes("/")) repo = `library/${repo}`;
  }
  const tag = digest ? undefined : writtenTag ?? DEFAULT_TAG;
  return { original: input, written, registry, repository: repo, tag, writtenTag, digest };
}

/** The fully qualified name of a reference: `index.docker.io/library/busybox:latest` or `…@sha256:…`. */
export function canonicalName(ref: Reference): string {
  const base = `${ref.registry}/${ref.repository}`;
  return ref.digest ? `${base}@${ref.digest}` : `${base}:${ref.tag}`;
}

/** The repository part of a reference with its registry (`index.docker.io/cnb/run`). */
export function repositoryName(ref: Reference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** Two references name the same image (after normalisation). */
export function sameReference(a: string, b: string): boolean {
  try {
    return canonicalName(parseReference(a)) === canonicalName(parseReference(b));
  } catch {
    return a === b;
  }
}

/** Raised when a reference would resolve to a path outside its layout directory. */
export class PathEscapeError extends Error {
  constructor(readonly input: string, readonly base: string) {
    super(`image reference "${input}" resolves to a path outside the layout directory ${base}`);
    this.name = "PathEscapeError";
  }
}

/**
 * The RFC's form: `<dir>/<repository as written>`, the tag (if any) being the ref.name inside that layout.
 *
 * @example rfcLayoutPath("/oci", parseReference("cnb/run:bionic")) // "/oci/cnb/run"
 */
export function rfcLayoutPath(dir: string, ref: Reference): string {
  return confined(dir, ref.written, ref.original);
}

/**
 * The canonical form, where the reference lifecycle and pack look:
 * `<dir>/<registry>/<repository>/<tag>` or `<dir>/<registry>/<repository>/sha256/<hex>`.
 *
 * @example canonicalLayoutPath("/oci", parseReference("busybox")) // "/oci/index.docker.io/library/busybox/latest"
 */
export function canonicalLayoutPath(dir: string, ref: Reference): string {
  const leaf = ref.digest ? ref.digest.replace(":", "/") : (ref.tag as string);
  return confined(dir, `${ref.registry}/${ref.repository}/${leaf}`, ref.original);
}

/**
 * Joins `rel` under `base` and refuses the result if it leaves `base`, lexically or through a symlink that exists
 * on disk. Returns the absolute path.
 */
export function confined(base: string, rel: string, input: string = rel): string {
  const root = path.resolve(base);
  const joined = path.resolve(root, rel);
  if (path.isAbsolute(rel) || !isInside(root, joined)) throw new PathEscapeError(input, root);
  // Resolve symlinks on the longest existing prefix and check again.
  let realRoot: string;
  try {
    realRoot = fs.realpathSync(root);
  } catch {
    return joined;
  }
  let probe = joined;
  const tail: string[] = [];
  for (;;) {
    try {
      const real = fs.realpathSync(probe);
      const full = path.join(real, ...tail);
      if (!isInside(realRoot, full)) throw new PathEscapeError(input, root);
      return joined;
    } catch (e) {
      if (e instanceof PathEscapeError) throw e;
      if (probe === root) return joined;
      tail.unshift(path.basename(probe));
      probe = path.dirname(probe);
    }
  }
}

function isInside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}
