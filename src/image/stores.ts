/**
 * Which image store a run uses: the one place that decides where images live. The inputs name where images are
 * found (OCI layouts, registries, a Docker daemon) and where the app image goes (the same, or an archive file), and
 * this module builds the store behind the ImageStore interface, refusing combinations that would export to
 * several targets at once.
 */
import { ExitCode, PhaseError } from "../ground/errors.ts";
import { ArchiveTarget } from "./archive.ts";
import { DaemonStore } from "./daemon/store.ts";
import { DEFAULT_DOCKER_HOST } from "./daemon/http.ts";
import { type LinkPolicy, parseLinkPolicy } from "./layout-write.ts";
import { RegistryStore } from "./registry/store.ts";
import { LayoutStore } from "./layout-store.ts";
import { RoutedStore } from "./routed-store.ts";
import type { ImageStore } from "./store.ts";

/** What the inputs say about where images live. */
export interface StoreChoice {
  /** Images are OCI layouts in `dir`; new ones take the RFC's form (`-oci`) or the canonical one (`-layout`). */
  layout?: { dir: string; form: "rfc" | "canonical"; link: string };
  /** `-daemon` */
  daemon: boolean;
  /** `-publish` */
  publish: boolean;
  /** `-oci-archive FILE` or `-docker-archive FILE`: the app image goes to that file. */
  archive?: { file: string; format: "oci" | "docker" };
  /** `-oci-full`: layouts are written complete (blobs of registries and sparse layouts fetched). */
  full?: boolean;
  /** `-launch-cache` (with the daemon). */
  launchCache?: string;
  /** Registries reached over plain HTTP. */
  insecureRegistries: string[];
  /** The lifecycle's environment (registry credentials, DOCKER_HOST). */
  env: Record<string, string | undefined>;
}

/** The RFC's message for two targets at once. */
const MULTIPLE_TARGETS = "exporting to multiples target is not allowed";

/**
 * The store the inputs select, routing `oci:`/`docker://` references and sending new images to an archive when
 * one is named. Throws exit 3 for two targets at once (the RFC's message); connects to the daemon now (before
 * privileges are dropped), failing with a message naming DOCKER_HOST when it does not answer.
 *
 * @example await selectStore({ layout: { dir: "/oci", form: "rfc", link: "hardlink" }, daemon: false, publish: false, insecureRegistries: [], env: {} })
 */
export async function selectStore(c: StoreChoice): Promise<RoutedStore> {
  if (c.layout && (c.daemon || c.publish)) throw new PhaseError(ExitCode.invalidArgs, MULTIPLE_TARGETS);
  if (c.archive && (c.daemon || c.publish)) throw new PhaseError(ExitCode.invalidArgs, MULTIPLE_TARGETS);
  const registry = new RegistryStore({ insecure: c.insecureRegistries, env: c.env });
  let base: ImageStore = registry;
  if (c.layout) {
    let link: LinkPolicy;
    try {
      link = parseLinkPolicy(c.layout.link);
    } catch (e) {
      throw new PhaseError(ExitCode.invalidArgs, (e as Error).message);
    }
    base = new LayoutStore({ dir: c.layout.dir, form: c.layout.form, link, full: c.full });
  } else if (c.daemon) {
    base = await DaemonStore.connect(c.env.DOCKER_HOST || DEFAULT_DOCKER_HOST, { launchCache: c.launchCache });
  }
  return new RoutedStore({
    base,
    registry,
    target: c.archive ? new ArchiveTarget(c.archive.file, c.archive.format) : undefined,
    fill: !!c.full || !!c.archive,
    cacheStore: c.layout ? base : registry,
  });
}
