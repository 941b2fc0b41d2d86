/**
 * `lifecycle inspect`: finds an image in a directory of layouts by reference (DESIGN §4), verifies its manifest
 * and config, and prints where it is and what it holds. A tool command, not a phase.
 */
import type { Command } from "../command.ts";
import { flagsNamed } from "../flag-catalog.ts";
import { anyLayoutDir } from "../resolve.ts";
import { ExitCode, PhaseError } from "../../ground/errors.ts";
import { ImageNotFoundError, openLayoutImage } from "../../image/locate.ts";
import { platformString } from "../../image/layout.ts";

/** The inspect command. */
export const inspectCommand: Command = {
  name: "inspect",
  phase: false,
  synopsis: "[flags] <image-reference-or-path>",
  flags: flagsNamed("oci-dir", "layout-dir", "json", "verify-layers"),
  async run({ flags: f, log }) {
    if (f.positionals.length !== 1) throw new PhaseError(ExitCode.invalidArgs, "exactly one image reference is required");
    const dir = anyLayoutDir(f);
    const input = f.positionals[0];
    let img;
    try {
      img = await openLayoutImage(dir, input);
    } catch (e) {
      if (e instanceof ImageNotFoundError) throw new PhaseError(ExitCode.failed, `the image could not be found at path: ${e.path}`);
      throw e;
    }
    const layers = img.layers();
    if (f.bool("verify-layers")) {
      for (const l of layers.filter((x) => x.present)) {
        const reader = img.openBlob(l.digest).getReader();
        while (!(await reader.read()).done);
      }
    }
    const summary = {
      reference: input,
      layout: img.name,
      digest: img.manifestDigest,
      mediaType: img.manifestDescriptor.mediaType,
      platform: platformString(img.config),
      config: img.manifest.config.digest,
      sparse: !img.isComplete(),
      layers: layers.map((l) => ({ digest: l.digest, diffID: l.diffID, size: l.size, mediaType: l.mediaType, present: l.present })),
      labels: img.labels(),
    };
    if (f.bool("json")) {
      log.info(JSON.stringify(summary, null, 2));
      return 0;
    }
    const missing = layers.filter((l) => !l.present).length;
    log.info(`Image:    ${input}`);
    log.info(`Layout:   ${summary.layout}`);
    log.info(`Manifest: ${summary.digest} (${summary.mediaType})`);
    log.info(`Platform: ${summary.platform}`);
    log.info(`Layers:   ${layers.length}${missing ? ` (${missing} missing on disk: sparse image)` : ""}`);
    for (const l of layers) log.info(`  ${l.digest} ${String(l.size).padStart(10)} ${l.present ? "present" : "missing"}`);
    for (const [k, v] of Object.entries(summary.labels)) log.info(`Label:    ${k}=${v.length > 80 ? v.slice(0, 77) + "..." : v}`);
    return 0;
  },
};
