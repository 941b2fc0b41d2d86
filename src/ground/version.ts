/** The lifecycle's version and the API versions it implements (those the phases' tests exercise). */
import pkg from "../../package.json" with { type: "json" };
import { SUPPORTED_BUILDPACK_APIS, SUPPORTED_PLATFORM_APIS } from "./api.ts";

/** This lifecycle's version. */
export const VERSION: string = pkg.version;

/** Platform API versions implemented, oldest first (lifecycle.toml lists these). */
export const PLATFORM_APIS: string[] = SUPPORTED_PLATFORM_APIS;
/** Buildpack API versions implemented, oldest first. */
export const BUILDPACK_APIS: string[] = SUPPORTED_BUILDPACK_APIS;
