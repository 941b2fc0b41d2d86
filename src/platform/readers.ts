/**
 * Typed readers of the platform's TOML files (analyzed.toml, group.toml, plan.toml, metadata.toml, run.toml,
 * stack.toml, system.toml, store.toml, project-metadata.toml): each file's shape is checked where it is read, and
 * a file that does not fit is refused with an error naming the file and the field. Keys a reader does not know
 * are kept as they are; a missing optional table or array reads as empty, as the reference lifecycle reads it.
 */
import type {
  AnalyzedFile,
  BuildMetadataFile,
  GroupElement,
  GroupFile,
  LayersMetadata,
  PlanFile,
  ProcessEntry,
  ProjectMetadataFile,
  RunFile,
  StackFile,
  StoreFile,
  SystemFile,
  Target,
} from "./files.ts";
import { readToml, readTomlIfExists, TomlFileError } from "./toml.ts";

type Table = Record<string, unknown>;

/** What a TOML value is, for messages. */
function kind(v: unknown): string {
  if (v === undefined) return "missing";
  if (Array.isArray(v)) return "an array";
  if (v instanceof Date) return "a date";
  if (v === null) return "null";
  return typeof v === "object" ? "a table" : `a ${typeof v}`;
}

/** Shape checks that name the file and the field of the first value that does not fit. */
export class Shape {
  constructor(readonly file: string) {}

  fail(field: string, expected: string, got: unknown): never {
    throw new TomlFileError(this.file, `${this.file}: ${field} must be ${expected}, not ${kind(got)}`);
  }

  /** A table (undefined reads as empty unless `required`). */
  table(v: unknown, field: string, required = false): Table {
    if (v === undefined && !required) return {};
    if (v === null || typeof v !== "object" || Array.isArray(v) || v instanceof Date) this.fail(field, "a table", v);
    return v as Table;
  }

  optTable(v: unknown, field: string): Table | undefined {
    return v === undefined ? undefined : this.table(v, field);
  }

  str(v: unknown, field: string): string {
    if (typeof v !== "string") this.fail(field, "a string", v);
    return v as string;
  }

  optStr(v: unknown, field: string): string | undefined {
    return v === undefined ? undefined : this.str(v, field);
  }

  optBool(v: unknown, field: string): boolean | undefined {
    if (v !== undefined && typeof v !== "boolean") this.fail(field, "a boolean", v);
    return v as boolean | undefined;
  }

  /** An array (undefined reads as empty). */
  array(v: unknown, field: string): unknown[] {
    if (v === undefined) return [];
    if (!Array.isArray(v)) this.fail(field, "an array", v);
    return v as unknown[];
  }

  /** An array of tables, each checked by `each`. */
  tables<T>(v: unknown, field: string, each: (t: Table, field: string) => T): T[] {
    return this.array(v, field).map((x, i) => each(this.table(x, `${field}[${i}]`, true), `${field}[${i}]`));
  }

  strings(v: unknown, field: string): string[] {
    return this.array(v, field).map((x, i) => this.str(x, `${field}[${i}]`));
  }

  optStrings(v: unknown, field: string): string[] | undefined {
    return v === undefined ? undefined : this.strings(v, field);
  }
}

/** Copies `t` without the keys whose value is undefined. */
function compact<T extends object>(t: T): T {
  return Object.fromEntries(Object.entries(t).filter(([, v]) => v !== undefined)) as T;
}

function groupElement(s: Shape, t: Table, f: string): GroupElement {
  return compact({
    ...t,
    id: s.str(t.id, `${f}.id`),
    version: s.optStr(t.version, `${f}.version`) ?? "",
    api: s.optStr(t.api, `${f}.api`),
    homepage: s.optStr(t.homepage, `${f}.homepage`),
    optional: s.optBool(t.optional, `${f}.optional`),
    extension: s.optBool(t.extension, `${f}.extension`),
  });
}

/** group.toml; `what` names the file's role in errors. */
export function readGroup(file: string, what = "group.toml"): GroupFile {
  const raw = readToml<unknown>(file, what);
  const s = new Shape(file);
  const t = s.table(raw, "the file", true);
  const out: GroupFile = { group: s.tables(t.group, "group", (g, f) => groupElement(s, g, f)) };
  if (t["group-extensions"] !== undefined) out["group-extensions"] = s.tables(t["group-extensions"], "group-extensions", (g, f) => groupElement(s, g, f));
  return out;
}

/** plan.toml */
export function readPlan(file: string, what = "plan.toml"): PlanFile {
  const s = new Shape(file);
  const t = s.table(readToml<unknown>(file, what), "the file", true);
  return {
    entries: s.tables(t.entries, "entries", (e, f) => ({
      providers: s.tables(
        e.providers,
        `${f}.providers`,
        (p, pf) =>
          compact({
            ...p,
            id: s.str(p.id, `${pf}.id`),
            version: s.optStr(p.version, `${pf}.version`) ?? "",
            extension: s.optBool(p.extension, `${pf}.extension`),
          }),
      ),
      requires: s.tables(
        e.requires,
        `${f}.requires`,
        (r, rf) => compact({ ...r, name: s.str(r.name, `${rf}.name`), metadata: s.optTable(r.metadata, `${rf}.metadata`) }),
      ),
    })),
  };
}

function sha(s: Shape, v: unknown, f: string): { sha: string } | undefined {
  if (v === undefined) return undefined;
  const t = s.table(v, f);
  return { ...t, sha: s.str(t.sha, `${f}.sha`) };
}

/** The `[metadata]` of analyzed.toml (the previous image's lifecycle label in TOML names). */
function layersMetadata(s: Shape, v: unknown, f: string): LayersMetadata | undefined {
  if (v === undefined) return undefined;
  const t = s.table(v, f);
  const out: Table = { ...t };
  for (const k of ["sbom", "config", "launcher", "process-types"]) if (t[k] !== undefined) out[k] = sha(s, t[k], `${f}.${k}`);
  if (t.app !== undefined) out.app = s.tables(t.app, `${f}.app`, (a, af) => ({ ...a, sha: s.str(a.sha, `${af}.sha`) }));
  if (t.buildpacks !== undefined) {
    out.buildpacks = s.tables(t.buildpacks, `${f}.buildpacks`, (b, bf) => {
      const layers = s.table(b.layers, `${bf}.layers`);
      for (const [name, l] of Object.entries(layers)) {
        const lt = s.table(l, `${bf}.layers.${name}`, true);
        s.str(lt.sha, `${bf}.layers.${name}.sha`);
        for (const k of ["launch", "build", "cache"]) s.optBool(lt[k], `${bf}.layers.${name}.${k}`);
        s.optTable(lt.metadata, `${bf}.layers.${name}.metadata`);
      }
      const store = s.optTable(b.store, `${bf}.store`);
      if (store) s.optTable(store.metadata, `${bf}.store.metadata`);
      return { ...b, key: s.str(b.key, `${bf}.key`), version: s.optStr(b.version, `${bf}.version`) ?? "", layers };
    });
  }
  const ri = s.optTable(t["run-image"], `${f}.run-image`);
  if (ri) {
    for (const k of ["top-layer", "reference", "image"]) s.optStr(ri[k], `${f}.run-image.${k}`);
    s.optStrings(ri.mirrors, `${f}.run-image.mirrors`);
  }
  return out as LayersMetadata;
}

function target(s: Shape, v: unknown, f: string): Target | undefined {
  const t = s.optTable(v, f);
  if (!t) return undefined;
  for (const k of ["id", "os", "arch", "arch-variant", "variant"]) s.optStr(t[k], `${f}.${k}`);
  const d = s.optTable(t.distro, `${f}.distro`);
  if (d) { for (const k of ["name", "version"]) s.optStr(d[k], `${f}.distro.${k}`); }
  return t as Target;
}

/** analyzed.toml */
export function readAnalyzed(file: string, what = "analyzed.toml"): AnalyzedFile {
  return checkAnalyzed(readToml<unknown>(file, what), file);
}

/** analyzed.toml when it exists; undefined when it does not. */
export function readAnalyzedIfExists(file: string, what = "analyzed.toml"): AnalyzedFile | undefined {
  const raw = readTomlIfExists<unknown>(file, what);
  return raw === undefined ? undefined : checkAnalyzed(raw, file);
}

function checkAnalyzed(raw: unknown, file: string): AnalyzedFile {
  const s = new Shape(file);
  const t = s.table(raw, "the file", true);
  const out: AnalyzedFile = { ...t };
  const image = s.optTable(t.image, "image");
  if (image) out.image = { ...image, reference: s.optStr(image.reference, "image.reference") ?? "" };
  const ri = s.optTable(t["run-image"], "run-image");
  if (ri) {
    out["run-image"] = compact({
      ...ri,
      image: s.optStr(ri.image, "run-image.image"),
      reference: s.optStr(ri.reference, "run-image.reference") ?? "",
      extend: s.optBool(ri.extend, "run-image.extend"),
      target: target(s, ri.target, "run-image.target"),
    });
  }
  const bi = s.optTable(t["build-image"], "build-image");
  if (bi) out["build-image"] = { ...bi, reference: s.optStr(bi.reference, "build-image.reference") ?? "" };
  if (t.metadata !== undefined) out.metadata = layersMetadata(s, t.metadata, "metadata");
  return out;
}

function processEntry(s: Shape, p: Table, f: string): ProcessEntry {
  const command = typeof p.command === "string" ? [p.command] : s.strings(p.command, `${f}.command`);
  return compact({
    ...p,
    type: s.str(p.type, `${f}.type`),
    command,
    args: s.optStrings(p.args, `${f}.args`),
    direct: s.optBool(p.direct, `${f}.direct`),
    "buildpack-id": s.optStr(p["buildpack-id"], `${f}.buildpack-id`),
    "working-dir": s.optStr(p["working-dir"], `${f}.working-dir`),
    "exec-env": s.optStrings(p["exec-env"], `${f}.exec-env`),
    default: s.optBool(p.default, `${f}.default`),
  }) as ProcessEntry;
}

/** `<layers>/config/metadata.toml` (the builder's output). */
export function readBuildMetadata(file: string, what = "build metadata"): BuildMetadataFile {
  const s = new Shape(file);
  const t = s.table(readToml<unknown>(file, what), "the file", true);
  const ext = (e: Table, f: string) =>
    compact({
      ...e,
      id: s.str(e.id, `${f}.id`),
      version: s.optStr(e.version, `${f}.version`) ?? "",
      api: s.optStr(e.api, `${f}.api`),
      homepage: s.optStr(e.homepage, `${f}.homepage`),
    });
  const out: BuildMetadataFile = {
    ...t,
    buildpacks: s.tables(t.buildpacks, "buildpacks", ext),
    processes: s.tables(t.processes, "processes", (p, f) => processEntry(s, p, f)),
  };
  if (t.extensions !== undefined) out.extensions = s.tables(t.extensions, "extensions", ext);
  if (t.labels !== undefined) {
    out.labels = s.tables(t.labels, "labels", (l, f) => ({ key: s.str(l.key, `${f}.key`), value: s.optStr(l.value, `${f}.value`) ?? "" }));
  }
  if (t.slices !== undefined) out.slices = s.tables(t.slices, "slices", (x, f) => ({ paths: s.strings(x.paths, `${f}.paths`) }));
  if (t.bom !== undefined) out.bom = s.array(t.bom, "bom");
  const def = s.optStr(t["buildpack-default-process-type"], "buildpack-default-process-type");
  if (def !== undefined) out["buildpack-default-process-type"] = def;
  return out;
}

/** A buildpack's store.toml when it exists. */
export function readStoreIfExists(file: string, what = "store.toml"): StoreFile | undefined {
  const raw = readTomlIfExists<unknown>(file, what);
  if (raw === undefined) return undefined;
  const s = new Shape(file);
  const t = s.table(raw, "the file", true);
  return { ...t, metadata: s.optTable(t.metadata, "metadata") };
}

/** project-metadata.toml when it exists. */
export function readProjectMetadataIfExists(file: string, what = "project metadata"): ProjectMetadataFile | undefined {
  const raw = readTomlIfExists<unknown>(file, what);
  if (raw === undefined) return undefined;
  const s = new Shape(file);
  const t = s.table(raw, "the file", true);
  const src = s.optTable(t.source, "source");
  if (src) {
    s.optStr(src.type, "source.type");
    s.optTable(src.version, "source.version");
    s.optTable(src.metadata, "source.metadata");
  }
  return t as ProjectMetadataFile;
}

/** run.toml when it exists. */
export function readRunIfExists(file: string, what = "run.toml"): RunFile | undefined {
  const raw = readTomlIfExists<unknown>(file, what);
  if (raw === undefined) return undefined;
  const s = new Shape(file);
  const t = s.table(raw, "the file", true);
  return { images: s.tables(t.images, "images", (i, f) => compact({ image: s.str(i.image, `${f}.image`), mirrors: s.optStrings(i.mirrors, `${f}.mirrors`) })) };
}

/** stack.toml when it exists (Platform API < 0.12). */
export function readStackIfExists(file: string, what = "stack.toml"): StackFile | undefined {
  const raw = readTomlIfExists<unknown>(file, what);
  if (raw === undefined) return undefined;
  const s = new Shape(file);
  const t = s.table(raw, "the file", true);
  const part = (k: "run-image" | "build-image") => {
    const p = s.optTable(t[k], k);
    return p ? compact({ image: s.optStr(p.image, `${k}.image`), mirrors: s.optStrings(p.mirrors, `${k}.mirrors`) }) : undefined;
  };
  return compact({ "run-image": part("run-image"), "build-image": part("build-image") });
}

/** system.toml (Platform API 0.15). */
export function readSystem(file: string, what = "system"): SystemFile {
  const s = new Shape(file);
  const t = s.table(readToml<unknown>(file, what), "the file", true);
  const sys = s.optTable(t.system, "system");
  if (!sys) return {};
  const part = (k: "pre" | "post") => {
    const p = s.optTable(sys[k], `system.${k}`);
    return p ? { buildpacks: s.tables(p.buildpacks, `system.${k}.buildpacks`, (e, f) => groupElement(s, e, f)) } : undefined;
  };
  return { system: compact({ pre: part("pre"), post: part("post") }) };
}
