/**
 * The few libc calls the launcher needs to replace itself with the app (`execve`) from JavaScript, through the
 * runtime's FFI: `bun:ffi` on Bun (also inside `bun build --compile` binaries) and `Deno.dlopen` on Deno. Node has
 * neither; callers fall back to a child process.
 */

/** libc as the launcher uses it. */
export interface Libc {
  runtime: "bun" | "deno";
  /** Replaces the process image. Returns only on failure, with the errno. */
  execve(file: string, argv: string[], envp: string[]): number;
  /** Sets a signal's disposition back to the default (SIG_DFL). */
  defaultSignal(signo: number): void;
  /** Clears O_NONBLOCK on a file descriptor (a runtime may set it on the stdio it shares with the app). */
  clearNonBlocking(fd: number): void;
}

/** Names libc goes by: glibc, then musl. */
const LIBC_NAMES = ["libc.so.6", "libc.so", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"];

const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;

/** errno numbers (Linux) to names, for messages. */
const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM: operation not permitted",
  2: "ENOENT: no such file or directory",
  7: "E2BIG: argument list too long",
  8: "ENOEXEC: exec format error",
  12: "ENOMEM: out of memory",
  13: "EACCES: permission denied",
  20: "ENOTDIR: not a directory",
  21: "EISDIR: is a directory",
  26: "ETXTBSY: text file busy",
  36: "ENAMETOOLONG: file name too long",
  40: "ELOOP: too many levels of symbolic links",
};

/** A readable name for an errno. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

/**
 * Lays out `file`, `argv` and `envp` as C strings and NULL-terminated pointer arrays in one buffer, given the
 * buffer's address. Returns the buffer (keep it alive until the call) and the offsets of the three arguments.
 */
function layoutExecArgs(file: string, argv: string[], envp: string[], addressOf: (buf: Uint8Array) => bigint) {
  const enc = new TextEncoder();
  const strings = [file, ...argv, ...envp].map((s) => enc.encode(s + "\0"));
  for (const s of strings) if (s.indexOf(0) !== s.length - 1) throw new Error("an argument or variable contains a NUL byte");
  const strBytes = strings.reduce((n, s) => n + s.length, 0);
  const ptrStart = Math.ceil(strBytes / 8) * 8;
  const argvOff = ptrStart;
  const envOff = argvOff + (argv.length + 1) * 8;
  const size = Math.max(envOff + (envp.length + 1) * 8, 4096);
  const buf = new Uint8Array(new ArrayBuffer(size));
  const offsets: number[] = [];
  let at = 0;
  for (const s of strings) {
    buf.set(s, at);
    offsets.push(at);
    at += s.length;
  }
  const base = addressOf(buf);
  const view = new DataView(buf.buffer);
  argv.forEach((_, i) => view.setBigUint64(argvOff + i * 8, base + BigInt(offsets[1 + i]), true));
  view.setBigUint64(argvOff + argv.length * 8, 0n, true);
  envp.forEach((_, i) => view.setBigUint64(envOff + i * 8, base + BigInt(offsets[1 + argv.length + i]), true));
  view.setBigUint64(envOff + envp.length * 8, 0n, true);
  return { buf, base, fileOff: 0, argvOff, envOff };
}

async function loadBun(): Promise<Libc | undefined> {
  const ffi = await import("bun:ffi");
  const defs = {
    execve: { args: [ffi.FFIType.ptr, ffi.FFIType.ptr, ffi.FFIType.ptr], returns: ffi.FFIType.i32 },
    __errno_location: { args: [], returns: ffi.FFIType.ptr },
    signal: { args: [ffi.FFIType.i32, ffi.FFIType.u64], returns: ffi.FFIType.u64 },
    fcntl: { args: [ffi.FFIType.i32, ffi.FFIType.i32, ffi.FFIType.i32], returns: ffi.FFIType.i32 },
  } as const;
  for (const name of LIBC_NAMES) {
    let lib: ReturnType<typeof ffi.dlopen<typeof defs>>;
    try {
      lib = ffi.dlopen(name, defs);
    } catch {
      continue;
    }
    const s = lib.symbols;
    return {
      runtime: "bun",
      execve(file, argv, envp) {
        const a = layoutExecArgs(file, argv, envp, (b) => BigInt(ffi.ptr(b)));
        const p = (off: number) => ffi.ptr(a.buf, off);
        s.execve(p(a.fileOff), p(a.argvOff), p(a.envOff));
        const errnoPtr = s.__errno_location();
        return errnoPtr ? ffi.read.i32(errnoPtr, 0) : -1;
      },
      defaultSignal(signo) {
        s.signal(signo, 0);
      },
      clearNonBlocking(fd) {
        const fl = s.fcntl(fd, F_GETFL, 0);
        if (fl >= 0 && fl & O_NONBLOCK) s.fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
      },
    };
  }
  return undefined;
}

/** The slice of the Deno namespace used here. */
interface DenoFfi {
  dlopen(name: string, defs: Record<string, { parameters: string[]; result: string }>): { symbols: Record<string, (...args: unknown[]) => unknown> };
  UnsafePointer: { of(b: Uint8Array): unknown; value(p: unknown): bigint | number };
  UnsafePointerView: new (p: unknown) => { getInt32(offset?: number): number };
  permissions?: { querySync?(d: { name: "ffi" }): { state: string } };
}

function loadDeno(deno: DenoFfi): Libc | undefined {
  // Without --allow-ffi, dlopen would prompt on a terminal: use the fallback instead.
  if (deno.permissions?.querySync?.({ name: "ffi" }).state !== "granted") return undefined;
  const defs = {
    execve: { parameters: ["usize", "usize", "usize"], result: "i32" },
    __errno_location: { parameters: [], result: "pointer" },
    signal: { parameters: ["i32", "usize"], result: "usize" },
    fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  };
  for (const name of LIBC_NAMES) {
    let lib: ReturnType<DenoFfi["dlopen"]>;
    try {
      lib = deno.dlopen(name, defs);
    } catch {
      continue;
    }
    const s = lib.symbols;
    return {
      runtime: "deno",
      execve(file, argv, envp) {
        const a = layoutExecArgs(file, argv, envp, (b) => BigInt(deno.UnsafePointer.value(deno.UnsafePointer.of(b))));
        s.execve(a.base + BigInt(a.fileOff), a.base + BigInt(a.argvOff), a.base + BigInt(a.envOff));
        const errnoPtr = s.__errno_location();
        return errnoPtr ? new deno.UnsafePointerView(errnoPtr).getInt32(0) : -1;
      },
      defaultSignal(signo) {
        s.signal(signo, 0);
      },
      clearNonBlocking(fd) {
        const fl = s.fcntl(fd, F_GETFL, 0) as number;
        if (fl >= 0 && fl & O_NONBLOCK) s.fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
      },
    };
  }
  return undefined;
}

/**
 * Opens libc through the runtime's FFI; undefined when there is no FFI (Node), it is not permitted (Deno without
 * `--allow-ffi`), or no libc could be opened.
 *
 * @example const libc = await loadLibc(); if (libc) libc.execve("/bin/echo", ["echo", "hi"], ["A=b"])
 */
export async function loadLibc(): Promise<Libc | undefined> {
  const g = globalThis as { Bun?: unknown; Deno?: DenoFfi };
  try {
    if (g.Bun !== undefined) return await loadBun();
    if (g.Deno !== undefined && typeof g.Deno.dlopen === "function") return loadDeno(g.Deno);
  } catch {
    return undefined;
  }
  return undefined;
}
