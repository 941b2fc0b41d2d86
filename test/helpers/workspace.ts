/** Test helpers for the phases that run buildpacks: a build workspace in a temp dir and a capturing logger. */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { type Level, Logger } from "../../src/ground/log.ts";

/** The project's fixtures directory. */
export const FIX = fileURLToPath(new URL("../../fixtures/", import.meta.url));

/** A fresh app/layers/platform/build-config set under `parent`, with optional user env, operator env and analyzed.toml. */
export function workspace(parent: string, opts: { userEnv?: Record<string, string>; buildConfigEnv?: Record<string, string>; analyzed?: string } = {}) {
  const root = fs.mkdtempSync(path.join(parent, "ws-"));
  const ws = {
    root,
    app: path.join(root, "app"),
    layers: path.join(root, "layers"),
    platform: path.join(root, "platform"),
    buildConfig: path.join(root, "build-config"),
    tmp: path.join(root, "tmp"),
  };
  fs.cpSync(path.join(FIX, "app"), ws.app, { recursive: true });
  for (const d of [ws.layers, path.join(ws.platform, "env"), path.join(ws.buildConfig, "env"), ws.tmp]) fs.mkdirSync(d, { recursive: true });
  for (const [k, v] of Object.entries(opts.userEnv ?? {})) fs.writeFileSync(path.join(ws.platform, "env", k), v);
  for (const [k, v] of Object.entries(opts.buildConfigEnv ?? {})) fs.writeFileSync(path.join(ws.buildConfig, "env", k), v);
  if (opts.analyzed !== undefined) fs.writeFileSync(path.join(ws.layers, "analyzed.toml"), opts.analyzed);
  return ws;
}

/** A logger whose lines are kept. */
export function capture(level: Level = "info") {
  const out: string[] = [];
  const err: string[] = [];
  return { log: new Logger(level, { out: (l) => out.push(l), err: (l) => err.push(l) }), out, err };
}
