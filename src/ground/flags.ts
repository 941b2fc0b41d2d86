/**
 * Go-style flag parsing as the reference lifecycle does it (`-name value`, `-name=value`, `--name`, bool `-name` or
 * `-name=false`, repeatable flags), with precedence flag > environment variable > default.
 */

import * as path from "node:path";

/** The kinds of flag. */
export type FlagKind = "string" | "bool" | "list" | "int";

/** One flag a phase accepts. */
export interface FlagSpec {
  /** The flag's name without dash (`run-image`). */
  name: string;
  kind: FlagKind;
  /** Other names for the same flag (`layout` for `oci`). */
  aliases?: string[];
  /** Environment variables read when the flag is absent, first set wins. */
  env?: string[];
  /** Default when neither flag nor env is set; a function sees the values resolved so far (for `<layers>/x`). */
  default?: string | boolean | string[] | ((v: FlagValues) => string | boolean | string[] | undefined);
  /** One line for the usage text. */
  usage: string;
  /** The Platform API from which the flag may be given on the command line (its env variables work at any). */
  since?: string;
  /** The Platform API from which the flag may no longer be given (the first version without it). */
  before?: string;
}

/** Compares two `X.Y` versions numerically. */
function versionCmp(a: string, b: string): number {
  const [am, an] = a.split(".").map(Number);
  const [bm, bn] = b.split(".").map(Number);
  return am - bm || an - bn;
}

/** Whether a flag exists at a Platform API (always, when no version is given). */
export function flagExistsAt(s: FlagSpec, platformApi: string | undefined): boolean {
  if (platformApi === undefined) return true;
  if (s.since && versionCmp(platformApi, s.since) < 0) return false;
  if (s.before && versionCmp(platformApi, s.before) >= 0) return false;
  return true;
}

/** Resolved flag values by flag name. */
export type FlagValues = Record<string, string | boolean | string[] | undefined>;

/** What the command line said. */
export interface ParsedArgs {
  values: FlagValues;
  positionals: string[];
  /** Flag names that were given on the command line (not from env or default). */
  given: Set<string>;
  /** Warnings to print (flags after positionals). */
  warnings: string[];
}

/** A command-line error: the phase prints it with its usage and exits 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Raised for `-h`/`-help`: print the usage and exit 0. */
export class HelpRequested extends Error {
  constructor() {
    super("help requested");
  }
}

/** Go's strconv.ParseBool; undefined when the text is not a boolean. */
export function parseBool(s: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(s)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(s)) return false;
  return undefined;
}

/**
 * Parses argv against the specs and resolves every flag (flag > env > default).
 *
 * @example parseFlags([{name:"oci",kind:"bool",env:["CNB_USE_OCI"],usage:""}], ["-oci","img"], {})
 */
export function parseFlags(specs: FlagSpec[], argv: string[], env: Record<string, string | undefined>, platformApi?: string): ParsedArgs {
  const byName = new Map<string, FlagSpec>();
  for (const s of specs) {
    byName.set(s.name, s);
    for (const a of s.aliases ?? []) byName.set(a, s);
  }
  const fromArgs: FlagValues = {};
  const given = new Set<string>();
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      i++;
      break;
    }
    if (arg.length < 2 || arg[0] !== "-") break;
    let body = arg.slice(arg[1] === "-" ? 2 : 1);
    if (body.length === 0 || body[0] === "-" || body[0] === "=") throw new UsageError(`bad flag syntax: ${arg}`);
    let value: string | undefined;
    const eq = body.indexOf("=");
    if (eq >= 0) {
      value = body.slice(eq + 1);
      body = body.slice(0, eq);
    }
    if (body === "h" || body === "help") {
      if (!byName.has(body)) throw new HelpRequested();
    }
    const spec = byName.get(body);
    // A flag of another Platform API version is not defined at this one, as the reference's flag sets have it.
    if (!spec || !flagExistsAt(spec, platformApi)) throw new UsageError(`flag provided but not defined: -${body}`);
    if (spec.kind === "bool") {
      if (value === undefined) fromArgs[spec.name] = true;
      else {
        const b = parseBool(value);
        if (b === undefined) throw new UsageError(`invalid boolean value "${value}" for -${body}: parse error`);
        fromArgs[spec.name] = b;
      }
    } else {
      if (value === undefined) {
        if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: -${body}`);
        value = argv[++i];
      }
      if (spec.kind === "int" && !/^-?\d+$/.test(value)) throw new UsageError(`invalid value "${value}" for flag -${body}: parse error`);
      if (spec.kind === "list") fromArgs[spec.name] = [...((fromArgs[spec.name] as string[] | undefined) ?? []), value];
      else fromArgs[spec.name] = value;
    }
    given.add(spec.name);
  }
  const positionals = argv.slice(i);
  const warnings = positionals
    .filter((p, k) => k > 0 && p.startsWith("-") && p.length > 1 && byName.has(p.replace(/^--?/, "").split("=")[0]))
    .map((p) => `parsed flag-like argument "${p}" after the positional arguments; flags must come first`);

  const values: FlagValues = {};
  for (const s of specs) {
    if (s.name in fromArgs) {
      values[s.name] = fromArgs[s.name];
      continue;
    }
    const envValue = (s.env ?? []).map((e) => env[e]).find((v) => v !== undefined && v !== "");
    if (envValue !== undefined) {
      if (s.kind === "bool") values[s.name] = parseBool(envValue) ?? false;
      else if (s.kind === "list") values[s.name] = envValue.split(",").map((x) => x.trim()).filter(Boolean);
      else values[s.name] = envValue;
    }
  }
  for (const s of specs) {
    if (values[s.name] !== undefined) continue;
    const d = typeof s.default === "function" ? s.default(values) : s.default;
    values[s.name] = d ?? (s.kind === "bool" ? false : s.kind === "list" ? [] : undefined);
  }
  return { values, positionals, given, warnings };
}

/** The usage text of a phase, in the style of Go's flag package. */
export function usageText(phase: string, synopsis: string, specs: FlagSpec[], platformApi?: string): string {
  const lines = [`Usage: ${phase} ${synopsis}`.trimEnd(), "", "Flags:"];
  for (const s of [...specs].filter((x) => flagExistsAt(x, platformApi)).sort((a, b) => a.name.localeCompare(b.name))) {
    const names = [s.name, ...(s.aliases ?? [])].map((n) => `-${n}`).join(", ");
    const arg = s.kind === "bool" ? "" : s.kind === "list" ? " value (repeatable)" : " value";
    const env = s.env?.length ? ` (env: ${s.env.join(", ")})` : "";
    const def = typeof s.default === "string" || (Array.isArray(s.default) && s.default.length) ? ` (default ${JSON.stringify(s.default)})` : "";
    lines.push(`  ${names}${arg}`, `      ${s.usage}${env}${def}`);
  }
  return lines.join("\n") + "\n";
}

/**
 * Typed access to a command's resolved flags: each accessor reads one kind and says plainly when a value does not
 * fit, so that commands need no casts.
 *
 * @example const f = new FlagReader(parseFlags(specs, argv, env)); f.path("layers") // "/layers", absolute
 */
export class FlagReader {
  constructor(readonly parsed: ParsedArgs) {}

  /** The positional arguments. */
  get positionals(): string[] {
    return this.parsed.positionals;
  }

  private value(name: string): string | boolean | string[] | undefined {
    if (!(name in this.parsed.values)) throw new Error(`flag -${name} is not one of this command's flags`);
    return this.parsed.values[name];
  }

  /** A string flag's value; undefined (or "") when unset. */
  string(name: string): string | undefined {
    const v = this.value(name);
    if (v === undefined || v === "") return undefined;
    if (typeof v !== "string") throw new Error(`flag -${name} is not a string flag`);
    return v;
  }

  /** A string flag that always has a value (it has a default). */
  required(name: string): string {
    const v = this.string(name);
    if (v === undefined) throw new UsageError(`flag -${name} needs a value`);
    return v;
  }

  /**
   * A path flag made absolute; it must have a value (a default). An empty value given explicitly (`-layers=`) is
   * the working directory, as the reference resolves it.
   */
  path(name: string): string {
    if (this.value(name) === "") return path.resolve("");
    return path.resolve(this.required(name));
  }

  /** A path flag made absolute, or undefined when unset or empty. */
  optionalPath(name: string): string | undefined {
    const v = this.string(name);
    return v === undefined ? undefined : path.resolve(v);
  }

  bool(name: string): boolean {
    return this.value(name) === true;
  }

  /** A list flag's values, empty ones (`-tag=`) left out. */
  list(name: string): string[] {
    const v = this.value(name);
    return Array.isArray(v) ? v.filter((x) => x !== "") : [];
  }

  /** An int flag's value (its default when unset). */
  int(name: string): number {
    return Number(this.required(name));
  }

  /** Whether the flag was given on the command line (not from env or default). */
  given(name: string): boolean {
    return this.parsed.given.has(name);
  }
}
