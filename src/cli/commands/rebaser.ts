/** `rebaser [flags] <image> [<image>...]`: its flags, resolved into the rebaser's inputs (phase/rebaser.ts). */
import { ExitCode, PhaseError } from "../../ground/errors.ts";
import { platformApi } from "../../ground/api.ts";
import { unwritable } from "../../platform/toml.ts";
import type { Command } from "../command.ts";
import { flagsNamed, IMAGE_LOCATION } from "../flag-catalog.ts";
import { buildUserOf, someImages, storeOf } from "../resolve.ts";
import { rebase } from "../../phase/rebaser.ts";

/** The rebaser command. */
export const rebaserCommand: Command = {
  name: "rebaser",
  verb: "rebase",
  phase: true,
  failure: { code: ExitCode.rebase, prefix: "failed to rebase: " },
  synopsis: "[flags] <image> [<image>...]",
  flags: flagsNamed(
    ...IMAGE_LOCATION,
    "oci-full>=0.12",
    "run-image",
    "image",
    "previous-image>=0.11",
    "force>=0.12",
    "layers",
    "report",
    "uid",
    "gid",
    "no-color",
  ),
  async run({ flags: f, log, env, privileges }) {
    platformApi(env);
    const images = someImages(f);
    const store = await storeOf(f, env);
    const runImage = f.string("run-image") ?? f.string("image");
    await privileges?.drop(buildUserOf(f), {
      prepare: async (user) =>
        store.prepareOutput(images, user, runImage ? [await store.find(runImage).catch(() => undefined)].filter((x) => x !== undefined) : []),
    });
    const report = f.path("report");
    const why = unwritable(report);
    if (why) throw new PhaseError(ExitCode.rebase, `cannot write the report to ${report} (-report, CNB_REPORT_PATH): ${why}; nothing was rebased`);
    await rebase({
      store,
      images,
      previousImage: f.string("previous-image"),
      runImage,
      force: f.bool("force"),
      reportPath: report,
      platformApi: platformApi(env),
    }, log);
    return ExitCode.ok;
  },
};
