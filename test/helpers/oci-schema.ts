/**
 * A small, dependency-free JSON Schema (draft-04 subset) validator for the OCI image-spec schemas
 * (content-descriptor.json, image-manifest-schema.json, image-index-schema.json, config-schema.json,
 * image-layout-schema.json and the defs*.json they reference).
 *
 * Schema files are read lazily from a directory. Each file is registered under its file URL, its `id`, the `id`s of
 * nested subschemas, and every URL a relative `$ref` resolves to whose last path segment names the file (this is how
 * the spec's own validator aliases them: `defs-descriptor.json` seen from `https://opencontainers.org/schema/image/index`
 * is `https://opencontainers.org/schema/image/defs-descriptor.json`).
 *
 * Beyond the schemas, the checks the spec's Go validator adds are applied too, so both agree:
 * - digests must be well formed for known algorithms (sha256: 64, sha384: 96, sha512: 128 lowercase hex characters);
 * - `data` (schema keyword `media.binaryEncoding: base64`) must be padded standard base64;
 * - config `config.Env` entries must match `^[^=]+=.*$`.
 *
 * Errors are strings `<JSON pointer>: <message>`, the pointer naming the value at fault (`/` is the document itself).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The OCI media types this validator knows, mapped to the schema file that describes each. */
export const OCI_SCHEMA_FILES: Readonly<Record<string, string>> = Object.freeze({
  "application/vnd.oci.image.manifest.v1+json": "image-manifest-schema.json",
  "application/vnd.oci.image.index.v1+json": "image-index-schema.json",
  "application/vnd.oci.image.config.v1+json": "config-schema.json",
  "application/vnd.oci.descriptor.v1+json": "content-descriptor.json",
  "application/vnd.oci.layout.header.v1+json": "image-layout-schema.json",
});

/** The directory the schemas are read from when none is given: `shared/fixtures/external/oci-schema` beside the project. */
export const DEFAULT_OCI_SCHEMA_DIR: URL = new URL("../../../shared/fixtures/external/oci-schema/", import.meta.url);

/** A validator for OCI documents, created by {@link createOciValidator}. */
export interface OciValidator {
  /** Validates a parsed document against the schema of `mediaType`; returns the errors (none: valid). Throws for a media type not in {@link OCI_SCHEMA_FILES}. */
  validate(mediaType: string, doc: unknown): string[];
  /** Parses `text` as JSON and validates it; invalid JSON yields one error at `/`. */
  validateJson(mediaType: string, text: string): string[];
  /** Whether `mediaType` has a schema. */
  supports(mediaType: string): boolean;
}

/** True when `mediaType` is one of the OCI media types in {@link OCI_SCHEMA_FILES}. */
export function isOciSchemaMediaType(mediaType: string): boolean {
  return Object.prototype.hasOwnProperty.call(OCI_SCHEMA_FILES, mediaType);
}

/**
 * Creates a validator reading the image-spec schema files from `schemaDir` (a path or a `file:` URL) on first use.
 * Defaults to {@link DEFAULT_OCI_SCHEMA_DIR}.
 */
export function createOciValidator(schemaDir: string | URL = DEFAULT_OCI_SCHEMA_DIR): OciValidator {
  const dir = typeof schemaDir === "string" ? schemaDir : fileURLToPath(schemaDir.href);
  const registry = new SchemaRegistry(dir);
  const validate = (mediaType: string, doc: unknown): string[] => {
    const file = isOciSchemaMediaType(mediaType) ? OCI_SCHEMA_FILES[mediaType] : undefined;
    if (file === undefined) throw new Error(`no OCI schema for media type "${mediaType}"`);
    const root = registry.file(file);
    const errors: SchemaError[] = [];
    new Evaluator(registry).validate(root.node, root.base, doc, [], errors);
    if (mediaType === "application/vnd.oci.image.config.v1+json") checkConfigEnv(doc, errors);
    return errors.map(formatError);
  };
  return {
    validate,
    validateJson(mediaType, text) {
      if (!isOciSchemaMediaType(mediaType)) throw new Error(`no OCI schema for media type "${mediaType}"`);
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch (e) {
        return [formatError({ path: [], message: `invalid JSON: ${e instanceof Error ? e.message : String(e)}` })];
      }
      return validate(mediaType, doc);
    },
    supports: isOciSchemaMediaType,
  };
}

let defaultValidator: OciValidator | undefined;

/** Validates `doc` as `mediaType` with the schemas in {@link DEFAULT_OCI_SCHEMA_DIR}; returns the errors (none: valid). */
export function validateOci(mediaType: string, doc: unknown): string[] {
  defaultValidator ??= createOciValidator();
  return defaultValidator.validate(mediaType, doc);
}

/** Checks a digest string the way go-digest's `Digest.Validate` does for the algorithms it implements; undefined when fine. */
export function checkDigest(digest: string): string | undefined {
  const colon = digest.indexOf(":");
  if (colon <= 0 || colon + 1 === digest.length) return "must have the form <algorithm>:<encoded>";
  const algorithm = digest.slice(0, colon);
  const encoded = digest.slice(colon + 1);
  const length = DIGEST_HEX_LENGTHS[algorithm];
  if (length === undefined) {
    // Unknown algorithms only need the general grammar (the Go validator warns and accepts them).
    return DIGEST_GRAMMAR.test(digest) ? undefined : `does not match ${DIGEST_GRAMMAR.source}`;
  }
  if (encoded.length !== length || !/^[a-f0-9]+$/.test(encoded)) {
    return `${algorithm} digest must be ${length} lowercase hex characters`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface SchemaError {
  path: readonly (string | number)[];
  message: string;
}

interface Located {
  node: Json;
  /** Base URL in effect at `node` (after applying its own `id`). */
  base: string;
}

const DIGEST_HEX_LENGTHS: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };
const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const PADDED_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const ENV_ENTRY = /^[^=]+=.*$/;
const MAX_REF_DEPTH = 64;

function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function stripFragment(url: string): string {
  const hash = url.indexOf("#");
  return hash < 0 ? url : url.slice(0, hash);
}

function resolveUrl(ref: string, base: string): string {
  return new URL(ref, base).href;
}

function escapePointerToken(token: string | number): string {
  return String(token).replace(/~/g, "~0").replace(/\//g, "~1");
}

function formatError(e: SchemaError): string {
  const pointer = e.path.length === 0 ? "/" : e.path.map((t) => "/" + escapePointerToken(t)).join("");
  return `${pointer}: ${e.message}`;
}

function describe(v: unknown): string {
  const s = JSON.stringify(v);
  return s.length > 60 ? s.slice(0, 57) + "..." : s;
}

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

function hasType(v: unknown, type: string): boolean {
  switch (type) {
    case "null":
      return v === null;
    case "boolean":
      return typeof v === "boolean";
    case "string":
      return typeof v === "string";
    case "number":
      return typeof v === "number" && Number.isFinite(v);
    case "integer":
      return typeof v === "number" && Number.isInteger(v);
    case "array":
      return Array.isArray(v);
    case "object":
      return isObject(v);
    case "any":
      return true;
    default:
      return false;
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** Unescapes and walks a JSON pointer fragment from `start`, tracking `id`s on the way; undefined when absent. */
function walkPointer(start: Located, fragment: string): Located | undefined {
  let { node, base } = start;
  if (fragment === "" || fragment === "/") return start;
  if (!fragment.startsWith("/")) return undefined;
  for (const raw of fragment.slice(1).split("/")) {
    const token = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
    let next: Json | undefined;
    if (Array.isArray(node)) next = /^\d+$/.test(token) ? node[Number(token)] : undefined;
    else if (isObject(node) && Object.hasOwn(node, token)) next = node[token];
    if (next === undefined) return undefined;
    node = next;
    if (isObject(node) && typeof node.id === "string") base = resolveUrl(node.id, base);
  }
  return { node, base };
}

const SCHEMA_KEYWORDS_WITH_SCHEMA = ["items", "additionalItems", "additionalProperties", "not"];
const SCHEMA_KEYWORDS_WITH_ARRAY = ["items", "allOf", "anyOf", "oneOf"];
const SCHEMA_KEYWORDS_WITH_MAP = ["properties", "patternProperties", "definitions", "dependencies"];

/** Schema documents by URL, read from a directory on demand. */
class SchemaRegistry {
  /** URL without fragment → the schema (or nested schema) it names. */
  private readonly byUrl = new Map<string, Located>();
  /** File name → the file's root. */
  private readonly byFile = new Map<string, Located>();
  /** Schema nodes whose string values are digests (defs-descriptor.json#/definitions/digest). */
  readonly digestNodes = new WeakSet<object>();
  private readonly regexes = new Map<string, RegExp>();

  constructor(private readonly dir: string) {}

  /** The root of schema file `name`, reading and registering it on first use. */
  file(name: string): Located {
    const known = this.byFile.get(name);
    if (known) return known;
    const filePath = path.join(this.dir, name);
    let text: string;
    try {
      text = fs.readFileSync(filePath, "utf8");
    } catch (e) {
      throw new Error(`cannot read OCI schema ${filePath}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const node = JSON.parse(text) as Json;
    const fileUrl = pathToFileURL(filePath).href;
    const base = isObject(node) && typeof node.id === "string" ? resolveUrl(node.id, fileUrl) : fileUrl;
    const root: Located = { node, base };
    this.byFile.set(name, root);
    this.byUrl.set(fileUrl, root);
    this.byUrl.set(stripFragment(base), root);
    this.registerNestedIds(node, base);
    if (name === "defs-descriptor.json") {
      const digest = walkPointer(root, "/definitions/digest");
      if (digest && isObject(digest.node)) this.digestNodes.add(digest.node);
    }
    return root;
  }

  private registerNestedIds(node: Json, base: string): void {
    if (!isObject(node)) return;
    const visit = (child: Json | undefined): void => {
      if (!isObject(child)) return;
      let childBase = base;
      if (typeof child.id === "string") {
        childBase = resolveUrl(child.id, base);
        const url = stripFragment(childBase);
        if (!this.byUrl.has(url)) this.byUrl.set(url, { node: child, base: childBase });
      }
      this.registerNestedIds(child, childBase);
    };
    for (const k of SCHEMA_KEYWORDS_WITH_SCHEMA) visit(node[k]);
    for (const k of SCHEMA_KEYWORDS_WITH_ARRAY) {
      const v = node[k];
      if (Array.isArray(v)) v.forEach(visit);
    }
    for (const k of SCHEMA_KEYWORDS_WITH_MAP) {
      const v = node[k];
      if (isObject(v)) Object.values(v).forEach(visit);
    }
  }

  /** Resolves `$ref` seen with base `base`. */
  resolve(ref: string, base: string): Located {
    const url = resolveUrl(ref, base);
    const hash = url.indexOf("#");
    const docUrl = hash < 0 ? url : url.slice(0, hash);
    const fragment = hash < 0 ? "" : url.slice(hash + 1);
    let doc = this.byUrl.get(docUrl);
    if (!doc) {
      // Alias: a relative reference names the file by its last path segment.
      const name = decodeURIComponent(new URL(docUrl).pathname.split("/").pop() ?? "");
      if (!/^[\w.-]+\.json$/.test(name)) throw new Error(`unresolvable $ref "${ref}" (from ${base})`);
      doc = this.file(name);
      this.byUrl.set(docUrl, doc);
    }
    const target = walkPointer(doc, fragment);
    if (!target) throw new Error(`unresolvable $ref "${ref}" (from ${base}): no ${fragment} in ${docUrl}`);
    return target;
  }

  regex(pattern: string): RegExp {
    let re = this.regexes.get(pattern);
    if (!re) {
      try {
        re = new RegExp(pattern, "u");
      } catch {
        re = new RegExp(pattern);
      }
      this.regexes.set(pattern, re);
    }
    return re;
  }
}

function checkFormat(format: string, value: string): boolean {
  switch (format) {
    case "date-time":
      return isDateTime(value);
    case "uri":
      return isUri(value);
    default:
      return true; // unknown formats are not asserted
  }
}

/** RFC 3339 date-time, as Go's time.Parse(time.RFC3339) accepts it. */
function isDateTime(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))$/.exec(s);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  if (month < 1 || month > 12 || day < 1 || day > (days[month - 1] ?? 0)) return false;
  if (hour > 23 || minute > 59 || second > 60) return false;
  if (m[7] !== undefined && (Number(m[7]) > 23 || Number(m[8]) > 59)) return false;
  return true;
}

/** An absolute URI: a scheme, then no whitespace or characters a URI never contains. */
function isUri(s: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>"{}|\\^`]*$/.test(s)) return false;
  try {
    new URL(s);
    return true;
  } catch {
    return false;
  }
}

function checkConfigEnv(doc: unknown, errors: SchemaError[]): void {
  if (!isObject(doc) || !isObject(doc.config)) return;
  const env = doc.config.Env;
  if (!Array.isArray(env)) return;
  env.forEach((entry, i) => {
    if (typeof entry === "string" && !ENV_ENTRY.test(entry)) {
      errors.push({ path: ["config", "Env", i], message: `environment entry ${describe(entry)} does not match ${ENV_ENTRY.source}` });
    }
  });
}

/** Applies schemas to instances, collecting errors. */
class Evaluator {
  private depth = 0;

  constructor(private readonly registry: SchemaRegistry) {}

  validate(schema: Json, base: string, value: unknown, at: (string | number)[], errors: SchemaError[]): void {
    if (!isObject(schema)) return;
    const err = (message: string, where: (string | number)[] = at): void => {
      errors.push({ path: where, message });
    };

    if (typeof schema.$ref === "string") {
      // draft-04: $ref replaces the whole schema it appears in.
      const target = this.registry.resolve(schema.$ref, base);
      if (++this.depth > MAX_REF_DEPTH) throw new Error(`$ref nesting deeper than ${MAX_REF_DEPTH} at ${schema.$ref}`);
      try {
        this.validate(target.node, target.base, value, at, errors);
      } finally {
        this.depth--;
      }
      return;
    }
    if (typeof schema.id === "string") base = resolveUrl(schema.id, base);

    // type
    const type = schema.type;
    if (type !== undefined) {
      const types = Array.isArray(type) ? type : [type];
      if (!types.some((t) => typeof t === "string" && hasType(value, t))) {
        err(`expected type ${types.join(" or ")}, got ${typeOf(value)}`);
        return; // the remaining keywords would only add noise
      }
    }

    if (Array.isArray(schema.enum) && !schema.enum.some((e) => deepEqual(e, value))) {
      err(`must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}, got ${describe(value)}`);
    }

    // combinators
    if (Array.isArray(schema.allOf)) {
      for (const sub of schema.allOf) this.validate(sub, base, value, at, errors);
    }
    if (Array.isArray(schema.anyOf)) this.alternatives("anyOf", schema.anyOf, base, value, at, errors);
    if (Array.isArray(schema.oneOf)) this.alternatives("oneOf", schema.oneOf, base, value, at, errors);
    if (schema.not !== undefined) {
      const sub: SchemaError[] = [];
      this.validate(schema.not, base, value, at, sub);
      if (sub.length === 0) err('must not match the schema in "not"');
    }

    if (typeof value === "string") this.validateString(schema, value, err);
    else if (typeof value === "number") this.validateNumber(schema, value, err);
    else if (Array.isArray(value)) this.validateArray(schema, base, value, at, errors, err);
    else if (isObject(value)) this.validateObject(schema, base, value, at, errors, err);
  }

  /** anyOf/oneOf: on failure, report the errors of the alternative that got furthest into the value. */
  private alternatives(
    keyword: "anyOf" | "oneOf",
    subs: Json[],
    base: string,
    value: unknown,
    at: (string | number)[],
    errors: SchemaError[],
  ): void {
    const results = subs.map((sub) => {
      const errs: SchemaError[] = [];
      this.validate(sub, base, value, at, errs);
      return errs;
    });
    const matched = results.filter((r) => r.length === 0).length;
    if (keyword === "oneOf" && matched > 1) {
      errors.push({ path: at, message: `matches ${matched} of the oneOf alternatives, expected exactly one` });
      return;
    }
    if (matched > 0) return;
    const depth = (r: SchemaError[]): number => Math.max(...r.map((e) => e.path.length));
    const best = results.reduce((a, b) => (depth(b) > depth(a) ? b : a));
    if (depth(best) > at.length && results.filter((r) => depth(r) === depth(best)).length === 1) {
      errors.push(...best);
      return;
    }
    const reasons = results.map((r) => r.map((e) => e.message).join(" and ")).join(" | ");
    errors.push({ path: at, message: `matches none of the ${keyword} alternatives (${reasons})` });
  }

  private validateString(schema: JsonObject, value: string, err: (m: string) => void): void {
    const length = [...value].length;
    if (typeof schema.minLength === "number" && length < schema.minLength) {
      err(`must be at least ${schema.minLength} characters long, is ${length}`);
    }
    if (typeof schema.maxLength === "number" && length > schema.maxLength) {
      err(`must be at most ${schema.maxLength} characters long, is ${length}`);
    }
    let patternOk = true;
    if (typeof schema.pattern === "string" && !this.registry.regex(schema.pattern).test(value)) {
      patternOk = false;
      err(`${describe(value)} does not match pattern ${schema.pattern}`);
    }
    if (typeof schema.format === "string" && !checkFormat(schema.format, value)) {
      err(`${describe(value)} is not a valid ${schema.format}`);
    }
    const media = schema.media;
    if (isObject(media) && media.binaryEncoding === "base64" && !PADDED_BASE64.test(value)) {
      err("is not valid padded base64");
    }
    if (patternOk && this.registry.digestNodes.has(schema)) {
      const problem = checkDigest(value);
      if (problem) err(`invalid digest ${describe(value)}: ${problem}`);
    }
  }

  private validateNumber(schema: JsonObject, value: number, err: (m: string) => void): void {
    if (typeof schema.minimum === "number") {
      if (schema.exclusiveMinimum === true ? value <= schema.minimum : value < schema.minimum) {
        err(`must be ${schema.exclusiveMinimum === true ? ">" : ">="} ${schema.minimum}, got ${value}`);
      }
    }
    if (typeof schema.maximum === "number") {
      if (schema.exclusiveMaximum === true ? value >= schema.maximum : value > schema.maximum) {
        err(`must be ${schema.exclusiveMaximum === true ? "<" : "<="} ${schema.maximum}, got ${value}`);
      }
    }
    if (typeof schema.multipleOf === "number" && schema.multipleOf > 0) {
      const q = value / schema.multipleOf;
      if (Math.abs(q - Math.round(q)) > 1e-9) err(`must be a multiple of ${schema.multipleOf}, got ${value}`);
    }
  }

  private validateArray(
    schema: JsonObject,
    base: string,
    value: unknown[],
    at: (string | number)[],
    errors: SchemaError[],
    err: (m: string) => void,
  ): void {
    if (typeof schema.minItems === "number" && value.length < schema.minItems) {
      err(`must have at least ${schema.minItems} item${schema.minItems === 1 ? "" : "s"}, has ${value.length}`);
    }
    if (typeof schema.maxItems === "number" && value.length > schema.maxItems) {
      err(`must have at most ${schema.maxItems} item${schema.maxItems === 1 ? "" : "s"}, has ${value.length}`);
    }
    if (schema.uniqueItems === true) {
      for (let i = 1; i < value.length; i++) {
        if (value.slice(0, i).some((x) => deepEqual(x, value[i]))) {
          err(`items must be unique, item ${i} repeats an earlier one`);
          break;
        }
      }
    }
    const items = schema.items;
    if (Array.isArray(items)) {
      value.forEach((item, i) => {
        const sub = i < items.length ? items[i] : schema.additionalItems;
        if (sub === false) err(`must have at most ${items.length} items, has ${value.length}`);
        else if (sub !== undefined && sub !== true) this.validate(sub, base, item, [...at, i], errors);
      });
    } else if (items !== undefined) {
      value.forEach((item, i) => this.validate(items, base, item, [...at, i], errors));
    }
  }

  private validateObject(
    schema: JsonObject,
    base: string,
    value: JsonObject,
    at: (string | number)[],
    errors: SchemaError[],
    err: (m: string) => void,
  ): void {
    const keys = Object.keys(value);
    if (Array.isArray(schema.required)) {
      for (const name of schema.required) {
        if (typeof name === "string" && !Object.hasOwn(value, name)) {
          errors.push({ path: [...at, name], message: "required property is missing" });
        }
      }
    }
    if (typeof schema.minProperties === "number" && keys.length < schema.minProperties) {
      err(`must have at least ${schema.minProperties} properties, has ${keys.length}`);
    }
    if (typeof schema.maxProperties === "number" && keys.length > schema.maxProperties) {
      err(`must have at most ${schema.maxProperties} properties, has ${keys.length}`);
    }
    const properties = isObject(schema.properties) ? schema.properties : {};
    const patternProperties = isObject(schema.patternProperties) ? schema.patternProperties : {};
    const patterns = Object.keys(patternProperties).map((p) => [this.registry.regex(p), patternProperties[p]] as const);
    for (const key of keys) {
      const child = value[key];
      let covered = false;
      if (Object.hasOwn(properties, key)) {
        covered = true;
        this.validate(properties[key] ?? null, base, child, [...at, key], errors);
      }
      for (const [re, sub] of patterns) {
        if (re.test(key)) {
          covered = true;
          this.validate(sub ?? null, base, child, [...at, key], errors);
        }
      }
      if (!covered && schema.additionalProperties !== undefined) {
        if (schema.additionalProperties === false) {
          errors.push({ path: [...at, key], message: "additional property is not allowed" });
        } else if (isObject(schema.additionalProperties)) {
          this.validate(schema.additionalProperties, base, child, [...at, key], errors);
        }
      }
    }
    if (isObject(schema.dependencies)) {
      for (const [name, dep] of Object.entries(schema.dependencies)) {
        if (!Object.hasOwn(value, name)) continue;
        if (Array.isArray(dep)) {
          for (const needed of dep) {
            if (typeof needed === "string" && !Object.hasOwn(value, needed)) {
              errors.push({ path: [...at, needed], message: `required by property "${name}" but missing` });
            }
          }
        } else {
          this.validate(dep, base, value, at, errors);
        }
      }
    }
  }
}
