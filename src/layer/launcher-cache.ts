/**
 * The launcher layer is the same in every image built with the same launcher binary: compress it once and keep
 * the blob in a cache directory (`<cache-dir>/launcher/`, else a per-user directory under the system temp dir),
 * keyed by the binary's identity (path, size, mtime, inode), the compression, the deflate engine and this
 * lifecycle's version.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { commitTemp, discardTemp, removeStaleTemps, tempPathFor, writeFileAtomic } from "../fsutil/atomic.ts";
import type { LayerPool } from "./pool.ts";
import { launcherLayerEntries } from "./tar-entries.ts";
import { DEFAULT_DEFLATE_ENGINE } from "./deflate-block.ts";
import type { LayerCompression } from "./block-codec.ts";
import { VERSION } from "../ground/version.ts";

/** A compressed launcher layer and the file holding its blob. */
export interface LauncherLayer {
  diffID: string;
  digest: string;
  size: number;
  blob: string;
}

/** Where cached launcher layers are kept. */
export function launcherCacheDir(cacheDir: string | undefined): string {
  if (cacheDir) return path.join(cacheDir, "launcher");
  const uid = typeof process.getuid === "function" ? process.getuid() : "user";
  return path.join(os.tmpdir(), `cnb-lifecycle-launcher-${uid}`);
}

/**
 * The launcher layer for `launcherPath`, compressed with `compression` through the pool (the same engine as every
 * other layer), from the cache when the same binary was compressed the same way before.
 *
 * @example const l = await launcherLayer("/cnb/lifecycle/launcher", undefined, pool)
 */
export async function launcherLayer(
  launcherPath: string,
  cacheDir: string | undefined,
  pool: LayerPool,
  compression: LayerCompression = "gzip",
): Promise<LauncherLayer> {
  let st: fs.Stats;
  try {
    st = fs.statSync(launcherPath);
  } catch {
    throw new Error(`the launcher ${launcherPath} does not exist (set -launcher)`);
  }
  const real = fs.realpathSync(launcherPath);
  const engine = compression === "zstd" ? "zstd" : pool.options?.engine ?? DEFAULT_DEFLATE_ENGINE;
  const key = createHash("sha256").update(`${VERSION}\0${engine}\0${real}\0${st.size}\0${st.mtimeMs}\0${st.ino}\0${st.dev}`).digest("hex").slice(0, 32);
  const dir = launcherCacheDir(cacheDir);
  const meta = path.join(dir, `${key}.json`);
  const blob = path.join(dir, `${key}.tar.${compression === "zstd" ? "zst" : "gz"}`);
  try {
    const m = JSON.parse(fs.readFileSync(meta, "utf8")) as Omit<LauncherLayer, "blob">;
    if (fs.statSync(blob).size === m.size) return { ...m, blob };
  } catch {
    // not cached yet, or damaged: compress again
  }
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  removeStaleTemps(dir);
  const tmp = tempPathFor(blob);
  try {
    const r = await pool.runEntries(launcherLayerEntries(launcherPath), tmp, { compression });
    commitTemp(tmp, blob);
    const m = { diffID: r.diffID, digest: r.digest, size: r.size };
    writeFileAtomic(meta, JSON.stringify(m));
    return { ...m, blob };
  } finally {
    discardTemp(tmp);
  }
}
