/**
 * A layer described as plain data, so it can be sent to a worker thread, and the entries it stands for.
 */
import {
  appLayerEntries,
  dirLayerEntries,
  launcherLayerEntries,
  type Owner,
  type Placement,
  processTypesLayerEntries,
  type TarEntry,
} from "../../src/layer/tar-entries.ts";

/** The kinds of layer the exporter writes. */
export type LayerSpec =
  | { kind: "dir"; placement: Placement; owner: Owner }
  | { kind: "app"; placement: Placement; owner: Owner }
  | { kind: "launcher"; file: string }
  | { kind: "process-types"; types: string[] };

/** The tar entries of a layer spec, in the reference lifecycle's order. */
export function entriesOf(spec: LayerSpec): Iterable<TarEntry> {
  switch (spec.kind) {
    case "dir":
      return dirLayerEntries(spec.placement, spec.owner);
    case "app":
      return appLayerEntries(spec.placement, spec.owner);
    case "launcher":
      return launcherLayerEntries(spec.file);
    case "process-types":
      return processTypesLayerEntries(spec.types);
  }
}
