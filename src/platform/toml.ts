/** TOML files of the platform and buildpack APIs: strict reading with errors that name the file, atomic writing. */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "smol-toml";
import { writeFileAtomic } from "../fsutil/atomic.ts";

/** Raised for a TOML file that is missing or malformed; the message names the file. */
export class TomlFileError extends Error {
  constructor(readonly file: string, message: string) {
    super(message);
    this.name = "TomlFileError";
  }
}

/**
 * Reads and parses a TOML file. `what` names the file's role in errors (`group.toml`, `order`).
 *
 * @example const group = readToml<GroupFile>("/layers/group.toml", "group")
 */
export function readToml<T>(file: string, what = "TOML file"): T {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TomlFileError(file, code === "ENOENT" ? `${what} not found at ${file}` : `cannot read ${what} ${file}: ${(e as Error).message}`);
  }
  try {
    return parse(text) as T;
  } catch (e) {
    throw new TomlFileError(file, `${what} ${file} is not valid TOML: ${(e as Error).message.split("\n")[0]}`);
  }
}

/** Reads a TOML file if it exists; undefined when it does not. */
export function readTomlIfExists<T>(file: string, what?: string): T | undefined {
  return fs.existsSync(file) ? readToml<T>(file, what) : undefined;
}

/** Serialises to TOML, dropping undefined values (which TOML cannot hold). */
export function toToml(data: object): string {
  return stringify(dropUndefined(data) as Record<string, unknown>) + "\n";
}

/** Writes a TOML file atomically, creating its directory when missing. */
export function writeToml(file: string, data: object): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, toToml(data));
}

/**
 * Why `file` cannot be written by this process (its nearest existing directory is not writable, or a parent is not
 * a directory), or undefined when it can: checked before a phase changes anything, so that it does not fail at
 * the end after saving an image.
 */
export function unwritable(file: string): string | undefined {
  let dir = path.dirname(path.resolve(file));
  while (!fs.existsSync(dir)) dir = path.dirname(dir);
  if (!fs.statSync(dir).isDirectory()) return `${dir} is not a directory`;
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
  } catch {
    const uid = process.getuid?.();
    return `${dir} is not writable${uid === undefined ? "" : ` by uid ${uid}`}`;
  }
  return undefined;
}

function dropUndefined(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropUndefined);
  if (v && typeof v === "object" && !(v instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = dropUndefined(x);
    return out;
  }
  return v;
}
