/**
 * Saving an image and reporting it, as the exporter and the rebaser both do: the config and manifest written to
 * the sink, the manifest recorded under every name, the `*** Images` lines, and report.toml.
 */
import type { Logger } from "../../ground/log.ts";
import type { ImageSink } from "../../image/store.ts";
import type { Descriptor, ImageConfig } from "../../image/types.ts";
import { appManifest, configBytes, type Family, typesOf } from "../../image/config.ts";
import type { ReportFile } from "../../platform/files.ts";
import { writeToml } from "../../platform/toml.ts";

/** What a save did. */
export interface Saved {
  manifest: Descriptor;
  saved: { name: string; location: string }[];
  report: ReportFile;
}

/**
 * Writes the config and the manifest of `layers`, saves it under every name of the sink, logs it and writes
 * report.toml (with the names that were saved).
 */
export async function saveAndReport(
  sink: ImageSink,
  family: Family,
  config: ImageConfig,
  layers: Descriptor[],
  reportPath: string,
  log: Logger,
  opts: { manifestSize?: boolean; build?: ReportFile["build"] } = {},
): Promise<Saved> {
  const configDesc = await sink.writeBlob(configBytes(config), typesOf(family).config);
  const manifest = appManifest(family, configDesc, layers);
  const manifestDesc = await sink.writeBlob(new TextEncoder().encode(JSON.stringify(manifest)), typesOf(family).manifest);
  log.info(`Saving ${sink.names[0]}...`);
  const saved = await sink.save(manifestDesc);
  // A daemon keeps no manifest: it reports the image ID (the config's digest) instead, as the reference does.
  const imageID = sink.imageID?.();
  log.info(`*** Images (${(imageID ?? manifestDesc.digest).slice(7, 19)}):`);
  for (const s of saved) log.info(`      ${s.name} - ${s.location}`);
  const tags = sink.names.filter((n) => saved.some((s) => s.name === n));
  let report: ReportFile;
  if (imageID) {
    log.info(`*** Image ID: ${imageID}`);
    report = { image: { tags, "image-id": imageID } };
  } else {
    log.info(`*** Digest: ${manifestDesc.digest}`);
    if (opts.manifestSize ?? true) log.info(`*** Manifest Size: ${manifestDesc.size}`);
    report = { image: { tags, digest: manifestDesc.digest, "manifest-size": manifestDesc.size } };
  }
  if (opts.build) report.build = opts.build;
  writeToml(reportPath, report);
  return { manifest: manifestDesc, saved, report };
}
