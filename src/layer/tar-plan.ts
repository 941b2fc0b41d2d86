/**
 * A layer's tar cut into blocks before any file is read: each block's plan holds its headers, padding and end
 * marker as bytes and the spans of files to read into it, so that any thread can fill any block (read its files)
 * on its own. Planning only encodes headers (the walk's lstat is the entries'); the file data is read by
 * `fillBlock`, on the worker that compresses the block.
 */
import * as fs from "node:fs";
import { encodeHeader, END_OF_ARCHIVE, padded } from "./tar-header.ts";
import type { TarEntry } from "./tar-entries.ts";

/** Raised when a file changes size while it is being archived. */
export class FileChangedError extends Error {
  constructor(readonly file: string, readonly expected: number, readonly got: number) {
    super(`${file} changed while it was being archived: expected ${expected} bytes, read ${got}`);
    this.name = "FileChangedError";
  }
}

/** Bytes of a file to read into a block. */
export interface FileSpan {
  file: string;
  /** Where in the file the span starts. */
  offset: number;
  length: number;
  /** The file's size in its header (for the error when it has shrunk). */
  size: number;
}

/** One block of a tar, as it is to be filled. */
export interface BlockPlan {
  /** The block's length in bytes. */
  size: number;
  /** The block's headers, padding and end marker, concatenated. */
  literal: Uint8Array;
  /** The block in order: a number takes that many bytes of `literal`, a span reads a file. */
  parts: (number | FileSpan)[];
}

const ZEROS = new Uint8Array(512);

/**
 * The plans of the tar of `entries` in blocks of exactly `blockSize` bytes (the last one shorter), produced as the
 * entries are walked.
 *
 * @example for (const plan of tarBlockPlans(dirLayerEntries(p, owner), 1 << 20)) fillBlock(plan)
 */
export function* tarBlockPlans(entries: Iterable<TarEntry>, blockSize: number): Generator<BlockPlan> {
  let parts: (number | FileSpan)[] = [];
  let pieces: Uint8Array[] = [];
  let literalLength = 0;
  let fill = 0;
  const ready: BlockPlan[] = [];
  const finish = () => {
    const literal = new Uint8Array(literalLength);
    let off = 0;
    for (const p of pieces) {
      literal.set(p, off);
      off += p.length;
    }
    ready.push({ size: fill, literal, parts });
    parts = [];
    pieces = [];
    literalLength = 0;
    fill = 0;
  };
  const putBytes = (bytes: Uint8Array) => {
    let off = 0;
    while (off < bytes.length) {
      const n = Math.min(bytes.length - off, blockSize - fill);
      pieces.push(off === 0 && n === bytes.length ? bytes : bytes.subarray(off, off + n));
      literalLength += n;
      const last = parts.length - 1;
      if (last >= 0 && typeof parts[last] === "number") parts[last] = (parts[last] as number) + n;
      else parts.push(n);
      fill += n;
      off += n;
      if (fill === blockSize) finish();
    }
  };
  const putFile = (file: string, size: number) => {
    let off = 0;
    while (off < size) {
      const n = Math.min(size - off, blockSize - fill);
      parts.push({ file, offset: off, length: n, size });
      fill += n;
      off += n;
      if (fill === blockSize) finish();
    }
  };
  for (const e of entries) {
    putBytes(encodeHeader(e.header));
    if (e.source) {
      const size = e.header.size;
      putFile(e.source, size);
      putBytes(ZEROS.subarray(0, padded(size) - size));
    }
    while (ready.length) yield ready.shift() as BlockPlan;
  }
  putBytes(END_OF_ARCHIVE);
  if (fill > 0) finish();
  while (ready.length) yield ready.shift() as BlockPlan;
}

/**
 * Fills a block from its plan: copies its literal bytes and reads its file spans, into `into` when given (at least
 * `plan.size` bytes), else into a new buffer. Throws FileChangedError when a file has become shorter.
 */
export function fillBlock(plan: BlockPlan, into: Uint8Array = new Uint8Array(plan.size)): Uint8Array {
  let at = 0;
  let lit = 0;
  for (const p of plan.parts) {
    if (typeof p === "number") {
      into.set(plan.literal.subarray(lit, lit + p), at);
      lit += p;
      at += p;
      continue;
    }
    const fd = fs.openSync(p.file, "r");
    try {
      let done = 0;
      while (done < p.length) {
        const n = fs.readSync(fd, into, at + done, p.length - done, p.offset + done);
        if (n === 0) throw new FileChangedError(p.file, p.size, p.offset + done);
        done += n;
      }
    } finally {
      fs.closeSync(fd);
    }
    at += p.length;
  }
  return into.subarray(0, at);
}
