/**
 * What one block of a layer becomes, on whichever thread handles it: filled from its plan (its files read), its
 * CRC-32 taken for gzip, and encoded — a DEFLATE piece of the layer's one gzip member, or a zstd frame of its own
 * (a sequence of frames is one zstd stream), or nothing when only the tar's digest is wanted.
 */
import * as zlib from "node:zlib";
import { crc32 } from "./crc32.ts";
import { deflateBlock, type DeflateEngine } from "./deflate-block.ts";
import { type BlockPlan, fillBlock } from "./tar-plan.ts";

/** A layer blob's compression (the layer media type's suffix). */
export type LayerCompression = "gzip" | "zstd";

/** How blocks are encoded: gzip with a DEFLATE engine and level, zstd at a level, or not at all (digest only). */
export type BlockCodec = { kind: "gzip"; engine: DeflateEngine; level: number } | { kind: "zstd"; level: number } | { kind: "none" };

/**
 * zstd's level for layers: 3, zstd's own default, faster than gzip's default engine here at a better ratio
 * (BENCHMARKS.md).
 */
export const ZSTD_LEVEL = 3;

/** A block done: its tar bytes (for the diffID), what it encodes to, and the tar bytes' CRC-32 (gzip only). */
export interface BlockResult {
  raw: Uint8Array;
  data: Uint8Array;
  crc: number;
}

const EMPTY = new Uint8Array(0);

/**
 * One zstd frame of `data`, every parameter that shapes the bytes fixed: the level, the content size in the frame
 * header, a content checksum (as the zstd tool writes).
 */
export function zstdFrame(data: Uint8Array, level = ZSTD_LEVEL): Uint8Array {
  const c = zlib.constants;
  return zlib.zstdCompressSync(data, { params: { [c.ZSTD_c_compressionLevel]: level, [c.ZSTD_c_contentSizeFlag]: 1, [c.ZSTD_c_checksumFlag]: 1 } });
}

/**
 * Fills the block of `plan` (into `into` when given, a buffer of at least `plan.size` bytes) and encodes it;
 * `final` marks the layer's last block.
 *
 * @example const { raw, data, crc } = runBlock(plan, false, { kind: "gzip", engine: "zlib", level: 2 })
 */
export function runBlock(plan: BlockPlan, final: boolean, codec: BlockCodec, into?: Uint8Array): BlockResult {
  const raw = fillBlock(plan, into);
  if (codec.kind === "gzip") return { raw, data: deflateBlock(raw, final, codec.level, codec.engine), crc: crc32(0, raw) };
  if (codec.kind === "zstd") return { raw, data: zstdFrame(raw, codec.level), crc: 0 };
  return { raw, data: EMPTY, crc: 0 };
}
