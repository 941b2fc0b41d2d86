/**
 * The image labels the lifecycle writes and reads (spec digest §9.4): `io.buildpacks.lifecycle.metadata`,
 * `io.buildpacks.build.metadata`, `io.buildpacks.project.metadata`, and the conversion between the lifecycle
 * label's JSON names and the TOML names analyzed.toml uses (`runImage`/`run-image`, `topLayer`/`top-layer`,
 * `data`/`metadata`).
 */
import type { BuildpackLayersMetadata, LayerMetadata, LayersMetadata, RunImageMetadata } from "./files.ts";
import { sortedKeys } from "../ground/json.ts";

/** Label names. */
export const Label = {
  lifecycle: "io.buildpacks.lifecycle.metadata",
  build: "io.buildpacks.build.metadata",
  project: "io.buildpacks.project.metadata",
  execEnv: "io.buildpacks.exec-env",
  baseId: "io.buildpacks.base.id",
  distroName: "io.buildpacks.base.distro.name",
  distroVersion: "io.buildpacks.base.distro.version",
  stackId: "io.buildpacks.stack.id",
} as const;

type Json = Record<string, unknown>;

/** Parses the lifecycle label; undefined when absent or not valid JSON (the reference ignores such a label). */
export function parseLifecycleLabel(value: string | undefined): LayersMetadata | undefined {
  if (!value) return undefined;
  try {
    const j = JSON.parse(value) as Json;
    return fromLabelJson(j);
  } catch {
    return undefined;
  }
}

/** The label JSON shape → our in-memory shape (TOML names). */
export function fromLabelJson(j: Json): LayersMetadata {
  const out: LayersMetadata = {};
  for (const k of ["app", "sbom", "config", "launcher", "process-types"] as const) if (j[k] !== undefined) (out as Json)[k] = j[k];
  if (Array.isArray(j.buildpacks)) {
    out.buildpacks = (j.buildpacks as Json[]).map((b) => {
      const layers: Record<string, LayerMetadata> = {};
      for (const [name, l] of Object.entries((b.layers as Record<string, Json>) ?? {})) {
        layers[name] = { sha: String(l.sha ?? ""), data: (l.data as Json) ?? undefined, launch: !!l.launch, build: !!l.build, cache: !!l.cache };
      }
      return { key: String(b.key), version: String(b.version ?? ""), layers, store: b.store as BuildpackLayersMetadata["store"] };
    });
  }
  const ri = j.runImage as Json | undefined;
  if (ri) {
    out["run-image"] = { "top-layer": ri.topLayer as string, reference: ri.reference as string, image: ri.image as string, mirrors: ri.mirrors as string[] };
  }
  const st = j.stack as Json | undefined;
  if (st?.runImage) out.stack = { runImage: st.runImage as { image?: string; mirrors?: string[] } };
  return out;
}

/** Our shape → the label JSON (JSON names, empty parts left out as the reference does). */
export function toLabelJson(m: LayersMetadata): Json {
  const j: Json = {};
  if (m.app) j.app = m.app;
  if (m.sbom) j.sbom = m.sbom;
  if (m.config) j.config = m.config;
  if (m.launcher) j.launcher = m.launcher;
  if (m["process-types"]) j["process-types"] = m["process-types"];
  // Maps (layers by name, buildpack-defined metadata) in byte order, as Go writes them: a fixed order whatever
  // order the layers were read in.
  j.buildpacks = (m.buildpacks ?? []).map((b) => {
    const layers: Json = {};
    for (const [name, l] of Object.entries(sortedKeys(b.layers ?? {}))) {
      layers[name] = {
        sha: l.sha,
        ...(l.data && Object.keys(l.data).length ? { data: sortedKeys(l.data, true) } : {}),
        build: !!l.build,
        launch: !!l.launch,
        cache: !!l.cache,
      };
    }
    return { key: b.key, version: b.version, layers, ...(b.store ? { store: sortedKeys(b.store, true) } : {}) };
  });
  const ri = m["run-image"] ?? m.runImage;
  if (ri) j.runImage = compact({ topLayer: ri["top-layer"] ?? ri.topLayer, reference: ri.reference, image: ri.image, mirrors: ri.mirrors });
  if (m.stack?.runImage) j.stack = { runImage: compact({ ...m.stack.runImage }) };
  return j;
}

/** Our shape → analyzed.toml's `[metadata]` (TOML names: `metadata` for a layer's data). */
export function toAnalyzedToml(m: LayersMetadata): Json {
  const t: Json = {};
  for (const k of ["app", "sbom", "config", "launcher", "process-types"] as const) if (m[k]) t[k] = m[k];
  if (m.buildpacks) {
    t.buildpacks = m.buildpacks.map((b) => {
      const layers: Json = {};
      for (const [name, l] of Object.entries(b.layers ?? {})) {
        layers[name] = compact({ sha: l.sha, launch: l.launch, build: l.build, cache: l.cache, metadata: l.data });
      }
      return compact({ key: b.key, version: b.version, layers, store: b.store });
    });
  }
  const ri = m["run-image"];
  if (ri) t["run-image"] = compact({ "top-layer": ri["top-layer"], reference: ri.reference, image: ri.image, mirrors: ri.mirrors });
  if (m.stack?.runImage) t.stack = { "run-image": compact({ ...m.stack.runImage }) };
  return t;
}

/** analyzed.toml's `[metadata]` → our shape. */
export function fromAnalyzedToml(t: Json | undefined): LayersMetadata {
  if (!t) return {};
  const out: LayersMetadata = {};
  for (const k of ["app", "sbom", "config", "launcher", "process-types"] as const) if (t[k] !== undefined) (out as Json)[k] = t[k];
  if (Array.isArray(t.buildpacks)) {
    out.buildpacks = (t.buildpacks as Json[]).map((b) => {
      const layers: Record<string, LayerMetadata> = {};
      for (const [name, l] of Object.entries((b.layers as Record<string, Json>) ?? {})) {
        layers[name] = { sha: String(l.sha ?? ""), data: l.metadata as Json | undefined, launch: !!l.launch, build: !!l.build, cache: !!l.cache };
      }
      return { key: String(b.key), version: String(b.version ?? ""), layers, store: b.store as BuildpackLayersMetadata["store"] };
    });
  }
  const ri = t["run-image"] as Json | undefined;
  if (ri) out["run-image"] = ri as RunImageMetadata;
  return out;
}

function compact<T extends Json>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
