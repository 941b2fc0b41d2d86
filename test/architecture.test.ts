/**
 * The import rules of ARCHITECTURE.md, checked on the sources: the dispatcher and the commands on top, the phases
 * under them, the libraries under the phases, the ground floor under everything; no two folders import each
 * other; no phase knows where an image lives.
 */
import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const SRC = fileURLToPath(new URL("../src/", import.meta.url));

/** Every relative import of every module under src/, as [importer, imported] paths relative to src/. */
function imports(): [string, string][] {
  const out: [string, string][] = [];
  const walk = (dir: string) => {
    for (const n of fs.readdirSync(dir)) {
      const p = path.join(dir, n);
      if (fs.statSync(p).isDirectory()) walk(p);
      else if (p.endsWith(".ts")) {
        const text = fs.readFileSync(p, "utf8");
        for (const m of text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
          const target = path.relative(SRC, path.resolve(path.dirname(p), m[1]));
          if (!target.startsWith("..")) out.push([path.relative(SRC, p), target]); // package.json is data, not a module
        }
      }
    }
  };
  walk(SRC);
  return out;
}

/** The top folder of a module path (`image` for `image/registry/store.ts`; `.` for `main.ts`). */
const folder = (p: string) => (p.includes("/") ? p.split("/")[0] : ".");

/** The libraries: they may import each other and the ground floor, never a command or a phase. */
const LIBRARIES = ["image", "layer", "platform", "buildpack", "launch", "hash", "fsutil", "cache"];

/** Modules that decide or know where images live; phases reach images only through image/store.ts. */
const IMAGE_LOCATIONS = /^image\/(layout|layout-write|layout-store|layout-gc|locate|stores)\.ts$|^image\/registry\//;

/** The import rules; each returns the imports that break it. */
export const RULES: Record<string, (edges: [string, string][]) => string[]> = {
  "the ground floor imports nothing above it": (edges) =>
    edges.filter(([a, b]) => folder(a) === "ground" && folder(b) !== "ground").map(([a, b]) => `${a} -> ${b}`),
  "no library imports a command or a phase": (edges) =>
    edges.filter(([a, b]) => LIBRARIES.includes(folder(a)) && ["cli", "phase", "."].includes(folder(b))).map(([a, b]) => `${a} -> ${b}`),
  "no phase imports a command": (edges) => edges.filter(([a, b]) => folder(a) === "phase" && ["cli", "."].includes(folder(b))).map(([a, b]) => `${a} -> ${b}`),
  "no phase imports a module that knows where images live": (edges) =>
    edges.filter(([a, b]) => folder(a) === "phase" && IMAGE_LOCATIONS.test(b)).map(([a, b]) => `${a} -> ${b}`),
  "no two folders import each other": (edges) => {
    const pairs = new Set(edges.filter(([a, b]) => folder(a) !== folder(b)).map(([a, b]) => `${folder(a)} -> ${folder(b)}`));
    return [...pairs].filter((p) => {
      const [x, y] = p.split(" -> ");
      return x < y && pairs.has(`${y} -> ${x}`);
    }).map((p) => p.replace(" -> ", " <-> "));
  },
};

describe("import rules (ARCHITECTURE.md)", () => {
  const edges = imports();
  test("the sources have imports to check", () => {
    expect(edges.length).toBeGreaterThan(100);
  });
  for (const [name, rule] of Object.entries(RULES)) {
    test(name, () => {
      expect(rule(edges)).toEqual([]);
    });
  }
  test("each rule catches a breach", () => {
    const breaches: [string, [string, string]][] = [
      ["the ground floor imports nothing above it", ["ground/log.ts", "image/store.ts"]],
      ["no library imports a command or a phase", ["image/layout.ts", "phase/exporter.ts"]],
      ["no phase imports a command", ["phase/analyzer.ts", "cli/resolve.ts"]],
      ["no phase imports a module that knows where images live", ["phase/exporter.ts", "image/registry/store.ts"]],
      ["no two folders import each other", ["layer/pipeline.ts", "platform/files.ts"]],
    ];
    for (const [name, edge] of breaches) {
      const extra: [string, string][] = name === "no two folders import each other" ? [edge, ["platform/labels.ts", "layer/tar-entries.ts"]] : [edge];
      expect(RULES[name]([...edges, ...extra]).length).toBeGreaterThan(0);
    }
  });
});
