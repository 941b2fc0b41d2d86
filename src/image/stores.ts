/**
 * Which image store a run uses: the one place that decides where images live. The inputs name a target (OCI
 * layouts, registries; a daemon and archives are to come) and this module builds the store behind the ImageStore
 * interface, refusing combinations that would export to several targets at once.
 */
import { ExitCode, PhaseError } from "../ground/errors.ts";
import { type LinkPolicy, parseLinkPolicy } from "./layout-write.ts";
import { RegistryStore } from "./registry/store.ts";
import { LayoutStore } from "./layout-store.ts";
import type { ImageStore } from "./store.ts";

/** What the inputs say about where images live. */
export interface StoreChoice {
  /** Images are OCI layouts in `dir`; new ones take the RFC's form (`-oci`) or the canonical one (`-layout`). */
  layout?: { dir: string; form: "rfc" | "canonical"; link: string };
  /** `-daemon` */
  daemon: boolean;
  /** `-publish` */
  publish: boolean;
  /** Registries reached over plain HTTP. */
  insecureRegistries: string[];
  /** The lifecycle's environment (registry credentials). */
  env: Record<string, string | undefined>;
}

/**
 * The store the inputs select. Throws exit 3 for two targets at once (the RFC's message) and for the daemon,
 * which is not available yet.
 *
 * @example selectStore({ layout: { dir: "/oci", form: "rfc", link: "hardlink" }, daemon: false, publish: false, insecureRegistries: [], env: {} })
 */
export function selectStore(c: StoreChoice, phase: string): ImageStore {
  if (c.layout && (c.daemon || c.publish)) throw new PhaseError(ExitCode.invalidArgs, "exporting to multiples target is not allowed");
  if (c.layout) {
    let link: LinkPolicy;
    try {
      link = parseLinkPolicy(c.layout.link);
    } catch (e) {
      throw new PhaseError(ExitCode.invalidArgs, (e as Error).message);
    }
    return new LayoutStore({ dir: c.layout.dir, form: c.layout.form, link });
  }
  if (c.daemon) {
    throw new PhaseError(
      ExitCode.invalidArgs,
      `a Docker daemon (-daemon) is not supported yet: pass -oci (or -layout) to ${phase} with images as OCI layouts, or leave both out to use registries`,
    );
  }
  return new RegistryStore({ insecure: c.insecureRegistries, env: c.env });
}
