/**
 * Garbage collection of a layout: removes the blobs (and leftover temporary files) that nothing in index.json
 * reaches, so that an app layout rebuilt many times does not keep every earlier build's layers. It runs under the
 * index.json lock and keeps anything changed recently (by ctime, which writing or hardlinking a blob updates), so
 * the blobs of an export still in progress, not yet in index.json, are safe.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { withLock } from "../fsutil/atomic.ts";
import { Layout, LayoutError } from "./layout.ts";
import type { Descriptor } from "./types.ts";

/** What a collection did. */
export interface GcResult {
  removed: string[];
  /** Bytes freed (files whose last link was removed). */
  freed: number;
  /** Unreferenced files kept because they changed less than `minAgeMs` ago. */
  keptRecent: number;
}

/** The default age below which unreferenced files are kept: 10 minutes. */
export const GC_MIN_AGE_MS = 10 * 60 * 1000;

/** Every digest reachable from index.json: indexes, manifests, configs, layers, subjects. */
export async function reachableDigests(layout: Layout): Promise<Set<string>> {
  const seen = new Set<string>();
  // Any reachable JSON document is followed, whatever its descriptor says (foreign layouts use odd media types).
  const visit = async (d: Pick<Descriptor, "digest" | "size">): Promise<void> => {
    if (seen.has(d.digest)) return;
    seen.add(d.digest);
    if (!layout.hasBlob(d.digest) || d.size > 8 * 1024 * 1024) return;
    const fd = fs.openSync(layout.blobPath(d.digest), "r");
    const first = new Uint8Array(1);
    const n = fs.readSync(fd, first, 0, 1, 0);
    fs.closeSync(fd);
    if (n === 0 || first[0] !== 0x7b) return;
    let doc: { manifests?: Descriptor[] | null; config?: Descriptor; layers?: Descriptor[]; subject?: Descriptor; blobs?: Descriptor[] };
    try {
      doc = JSON.parse(new TextDecoder().decode(await layout.readBlob(d)));
    } catch (e) {
      if (e instanceof LayoutError) throw new LayoutError(layout.dir, `garbage collection stopped: ${e.message}`);
      return;
    }
    for (
      const m of [
        ...(doc.manifests ?? []),
        ...(doc.config ? [doc.config] : []),
        ...(doc.layers ?? []),
        ...(doc.subject ? [doc.subject] : []),
        ...(doc.blobs ?? []),
      ]
    ) {
      if (m && typeof m.digest === "string") await visit(m);
    }
  };
  for (const d of layout.entries()) await visit(d);
  return seen;
}

/**
 * Removes unreferenced blobs and temporary files older than `minAgeMs` from the layout at `dir`.
 *
 * @example await gcLayout("/oci/my-app") // { removed: ["sha256:…"], freed: 1234, keptRecent: 0 }
 */
export async function gcLayout(dir: string, minAgeMs = GC_MIN_AGE_MS): Promise<GcResult> {
  const layout = Layout.open(dir);
  if (fs.existsSync(path.join(layout.dir, "manifest.json"))) {
    // `docker save` output also names its images in manifest.json, outside index.json: leave it alone.
    throw new LayoutError(layout.dir, `not collecting ${layout.dir}: it is docker save output (manifest.json), whose images index.json does not list`);
  }
  return withLock(path.join(layout.dir, "index.json"), async () => {
    const keep = await reachableDigests(layout);
    const result: GcResult = { removed: [], freed: 0, keptRecent: 0 };
    const now = Date.now();
    const blobs = path.join(layout.dir, "blobs");
    for (const alg of fs.existsSync(blobs) ? fs.readdirSync(blobs) : []) {
      const algDir = path.join(blobs, alg);
      if (!fs.statSync(algDir).isDirectory()) continue;
      for (const name of fs.readdirSync(algDir)) {
        const file = path.join(algDir, name);
        const digest = `${alg}:${name}`;
        if (!name.startsWith(".tmp-") && keep.has(digest)) continue;
        const st = fs.lstatSync(file);
        if (now - st.ctimeMs < minAgeMs) {
          result.keptRecent++;
          continue;
        }
        fs.rmSync(file, { force: true });
        if (st.nlink <= 1) result.freed += st.size;
        result.removed.push(name.startsWith(".tmp-") ? name : digest);
      }
    }
    return result;
  });
}
