/**
 * App layers from `[[slices]]` (spec digest §9.1 item 5), as the reference lifecycle cuts them: each slice takes
 * the paths its globs match (Go filepath.Match against the path relative to the app dir; a matched directory
 * takes its whole subtree; a path goes into the first slice that matches it) plus their ancestors; a last layer
 * holds everything not sliced. Each layer's files are sorted by full path, byte-wise.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { compareBytes, headerFor, type Owner, parentEntries, type Placement, type TarEntry } from "./tar-entries.ts";

/** Go's filepath.Match on '/'-separated paths: `*`, `?`, `[...]` classes, `\` escapes; `*` does not cross '/'. */
export function globMatch(pattern: string, name: string): boolean {
  const rec = (pi: number, ni: number): boolean => {
    while (pi < pattern.length) {
      const c = pattern[pi];
      if (c === "*") {
        while (pattern[pi] === "*") pi++;
        if (pi === pattern.length) return !name.slice(ni).includes("/");
        for (let k = ni; k <= name.length; k++) {
          if (k > ni && name[k - 1] === "/") break;
          if (rec(pi, k)) return true;
        }
        return false;
      }
      if (ni >= name.length || name[ni] === "/" && c !== "/") return false;
      if (c === "?") {
        pi++;
        ni++;
        continue;
      }
      if (c === "[") {
        const end = pattern.indexOf("]", pi + 2);
        if (end < 0) return false;
        let body = pattern.slice(pi + 1, end);
        const negate = body.startsWith("^");
        if (negate) body = body.slice(1);
        let hit = false;
        for (let k = 0; k < body.length; k++) {
          let lo = body[k];
          if (lo === "\\") lo = body[++k];
          let hi = lo;
          if (body[k + 1] === "-" && k + 2 < body.length) {
            hi = body[k + 2] === "\\" ? body[k + 3] : body[k + 2];
            k += body[k + 2] === "\\" ? 3 : 2;
          }
          if (name[ni] >= lo && name[ni] <= hi) hit = true;
        }
        if (hit === negate) return false;
        pi = end + 1;
        ni++;
        continue;
      }
      const lit = c === "\\" ? pattern[++pi] : c;
      if (name[ni] !== lit) return false;
      pi++;
      ni++;
    }
    return ni === name.length;
  };
  return rec(0, 0);
}

interface Node {
  disk: string;
  image: string;
  rel: string;
  children: Node[];
  sliced: boolean;
  isDir: boolean;
}

/** One app layer: its files (absolute image paths), or none for an empty layer. */
export interface AppLayerPlan {
  files: { disk: string; image: string }[];
}

/**
 * Plans the app layers: one per slice, then the rest. Always returns slices.length + 1 layers.
 *
 * @example planAppLayers({ disk: "/workspace", image: "/workspace" }, [{ paths: ["public/**"] }])
 */
export function planAppLayers(app: Placement, slices: { paths: string[] }[]): AppLayerPlan[] {
  const root = build(app.disk, app.image, "");
  const all: Node[] = [];
  const collect = (n: Node) => {
    all.push(n);
    n.children.forEach(collect);
  };
  collect(root);
  const parent = new Map<Node, Node>();
  for (const n of all) for (const c of n.children) parent.set(c, n);
  const plans: AppLayerPlan[] = [];
  for (const slice of slices) {
    const chosen = new Set<Node>();
    for (const raw of slice.paths) {
      const pattern = path.posix.normalize(raw);
      if (pattern.startsWith("../") || pattern === ".." || path.posix.isAbsolute(pattern)) continue;
      for (const n of all) {
        if (n === root || n.sliced || !globMatch(pattern, n.rel)) continue;
        const mark = (m: Node) => {
          if (m.sliced) return;
          m.sliced = true;
          chosen.add(m);
          m.children.forEach(mark);
        };
        mark(n);
      }
    }
    // Ancestors of what was chosen (the app dir included) go in too; they are sliced once all children are.
    for (const n of [...chosen]) {
      for (let p = parent.get(n); p; p = parent.get(p)) {
        chosen.add(p);
        if (p.children.every((c) => c.sliced)) p.sliced = true;
      }
    }
    plans.push({ files: sortFiles([...chosen]) });
  }
  plans.push({ files: sortFiles(all.filter((n) => !n.sliced)) });
  return plans;
}

function sortFiles(nodes: Node[]): { disk: string; image: string }[] {
  return nodes.map((n) => ({ disk: n.disk, image: n.image })).sort((a, b) => compareBytes(a.image, b.image));
}

function build(disk: string, image: string, rel: string): Node {
  const st = fs.lstatSync(disk);
  const node: Node = { disk, image, rel, children: [], sliced: false, isDir: st.isDirectory() };
  if (node.isDir) {
    for (const n of fs.readdirSync(disk).sort(compareBytes)) {
      node.children.push(build(path.join(disk, n), path.posix.join(image, n), rel ? `${rel}/${n}` : n));
    }
  }
  return node;
}

/** The tar entries of one planned app layer: the app dir's parents (real owner), then its files owned by `owner`. */
export function* appPlanEntries(app: Placement, plan: AppLayerPlan, owner: Owner): Generator<TarEntry> {
  if (plan.files.length === 0) return;
  yield* parentEntries(app);
  for (const f of plan.files) {
    const e = headerFor(f.disk, f.image, fs.lstatSync(f.disk), owner);
    if (e) yield e;
  }
}
