/**
 * The exporter's config and labels (spec digest §9.3, §9.4): the lifecycle, build and project labels, the
 * buildpacks' own labels, the entrypoint (the default process), and the app config on top of the run image's.
 */
import { compareApi } from "../../ground/api.ts";
import { ExitCode, PhaseError } from "../../ground/errors.ts";
import type { Logger } from "../../ground/log.ts";
import { VERSION } from "../../ground/version.ts";
import type { ImageConfig } from "../../image/types.ts";
import { appConfig, createdTime, NORMALIZED_CREATED } from "../../image/config.ts";
import type { BuildMetadataFile, LayersMetadata, ProjectMetadataFile } from "../../platform/files.ts";
import { Label, toLabelJson } from "../../platform/labels.ts";
import type { NewLayer } from "./assembly.ts";

/** What the config depends on besides the layers. */
export interface ConfigInputs {
  layersDir: string;
  appDir: string;
  platformApi: string;
  processType?: string;
  sourceDateEpoch?: string;
  execEnv?: string;
}

/**
 * `io.buildpacks.build.metadata` from metadata.toml, in the reference's JSON names. The legacy BOM is in it only
 * before Platform API 0.9; from 0.9 it is in `<layers>/sbom/launch/sbom.legacy.json` (the SBOM layer) instead.
 */
export function buildLabel(m: BuildMetadataFile, platformApi: string): Record<string, unknown> {
  return {
    ...(compareApi(platformApi, "0.9") < 0 ? { bom: m.bom ?? [] } : {}),
    buildpacks: m.buildpacks.map((b) => ({ id: b.id, version: b.version, ...(b.homepage ? { homepage: b.homepage } : {}) })),
    ...(m.extensions?.length ? { extensions: m.extensions } : {}),
    launcher: { version: VERSION, source: { git: { repository: "cnb-lifecycle", commit: "" } } },
    processes: (m.processes ?? []).map((p) => ({
      type: p.type,
      // One string before Platform API 0.10 (metadata.toml has the rest of it in the args), as the reference writes it.
      command: compareApi(platformApi, "0.10") < 0 && Array.isArray(p.command) ? p.command[0] : p.command,
      args: p.args ?? [],
      direct: p.direct ?? true,
      buildpackID: p["buildpack-id"] ?? "",
      ...(p["working-dir"] ? { "working-dir": p["working-dir"] } : {}),
      ...(p["exec-env"] ? { "exec-env": p["exec-env"] } : {}),
    })),
    "buildpack-default-process-type": m["buildpack-default-process-type"] ?? "",
  };
}

/** Every label the exporter adds, in the order it logs them. */
export function imageLabels(
  md: LayersMetadata,
  buildMD: BuildMetadataFile,
  project: ProjectMetadataFile | undefined,
  o: ConfigInputs,
  log: Logger,
): Record<string, string> {
  const labels: Record<string, string> = {};
  log.info(`Adding label '${Label.lifecycle}'`);
  labels[Label.lifecycle] = JSON.stringify(toLabelJson(md));
  log.info(`Adding label '${Label.build}'`);
  labels[Label.build] = JSON.stringify(buildLabel(buildMD, o.platformApi));
  log.info(`Adding label '${Label.project}'`);
  labels[Label.project] = JSON.stringify(project ?? {});
  for (const l of buildMD.labels ?? []) {
    log.info(`Adding label '${l.key}'`);
    labels[l.key] = l.value;
  }
  if (o.execEnv && compareApi(o.platformApi, "0.15") >= 0) labels[Label.execEnv] = o.execEnv;
  return labels;
}

/** `/cnb/process/<type>` for `-process-type` or the default process, else the launcher. */
export function chooseEntrypoint(m: BuildMetadataFile, processType: string | undefined, log: Logger): string[] {
  const types = (m.processes ?? []).map((p) => p.type);
  if (processType) {
    if (!types.includes(processType)) {
      throw new PhaseError(
        ExitCode.export,
        `tried to set process type '${processType}' as the default, but it does not exist (processes: ${types.join(", ") || "none"})`,
      );
    }
    log.info(`Setting default process type '${processType}'`);
    return [`/cnb/process/${processType}`];
  }
  const def = m["buildpack-default-process-type"];
  if (def && types.includes(def)) {
    log.info(`Setting default process type '${def}'`);
    return [`/cnb/process/${def}`];
  }
  log.info("no default process type");
  return ["/cnb/lifecycle/launcher"];
}

/** The app image's config: the run image's with the labels, env, entrypoint, history and new diffIDs. */
export function imageConfig(
  run: ImageConfig,
  labels: Record<string, string>,
  layers: NewLayer[],
  buildMD: BuildMetadataFile,
  o: ConfigInputs,
  log: Logger,
): ImageConfig {
  return appConfig(run, {
    env: { CNB_LAYERS_DIR: o.layersDir, CNB_APP_DIR: o.appDir, CNB_PLATFORM_API: o.platformApi, CNB_DEPRECATION_MODE: "quiet" },
    pathPrefix: ["/cnb/process", "/cnb/lifecycle"],
    entrypoint: chooseEntrypoint(buildMD, o.processType, log),
    workingDir: o.appDir,
    labels,
    // SOURCE_DATE_EPOCH counts from Platform API 0.9; history with created_by from 0.12.
    created: compareApi(o.platformApi, "0.9") >= 0 ? createdTime(o.sourceDateEpoch, (m) => log.warn(m)) : NORMALIZED_CREATED,
    layers: layers.map((l) => ({ diffID: l.diffID, createdBy: l.createdBy })),
    plainHistory: compareApi(o.platformApi, "0.12") < 0,
  });
}
