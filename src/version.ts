/** The lifecycle's version and the API versions it implements (only those that pass their tests). */
import pkg from "../package.json" with { type: "json" };

/** This lifecycle's version. */
export const VERSION: string = pkg.version;

/** Platform API versions implemented (empty until phases that need them exist). */
export const PLATFORM_APIS: string[] = [];
/** Buildpack API versions implemented. */
export const BUILDPACK_APIS: string[] = [];
