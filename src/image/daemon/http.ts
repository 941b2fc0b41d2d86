/**
 * HTTP/1.1 to a Docker Engine API over one kept-alive connection (`DOCKER_HOST`: `unix://<socket>` or
 * `tcp://host:port`). The connection is opened before the phase drops to the build user, as the reference does,
 * since the daemon's socket is usually root's with mode 0600: later requests reuse it, one at a time. Request
 * bodies may be streamed (chunked), so an image goes to `POST /images/load` without a copy in memory.
 */
import * as net from "node:net";

/** The daemon's address when DOCKER_HOST is unset. */
export const DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock";

/** A daemon that cannot be reached or that answers badly; the message names DOCKER_HOST. */
export class DaemonError extends Error {
  constructor(message: string, readonly status = 0) {
    super(message);
    this.name = "DaemonError";
  }
}

/** A response: status, lower-cased headers, and the body as a stream (read it to the end before the next request). */
export interface DaemonResponse {
  status: number;
  headers: Record<string, string>;
  body: ReadableStream<Uint8Array>;
}

/** What a request sends: a small body, or a writer that streams one (sent chunked). */
export interface DaemonRequest {
  headers?: Record<string, string>;
  body?: Uint8Array | ((write: (chunk: Uint8Array) => Promise<void>) => Promise<void>);
}

/** Reads from a socket on demand (pausing it between reads). */
class SocketReader {
  private chunks: Uint8Array[] = [];
  private ended = false;
  private failure?: Error;
  private wake?: () => void;

  constructor(private readonly socket: net.Socket) {
    socket.on("data", (b: Buffer) => {
      this.chunks.push(new Uint8Array(b.buffer, b.byteOffset, b.length));
      socket.pause();
      this.notify();
    });
    socket.on("end", () => {
      this.ended = true;
      this.notify();
    });
    socket.on("close", () => {
      this.ended = true;
      this.notify();
    });
    socket.on("error", (e) => {
      this.failure = e;
      this.notify();
    });
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  get closed(): boolean {
    return this.ended || this.failure !== undefined;
  }

  /** The next bytes, or undefined at the end of the connection. */
  async read(): Promise<Uint8Array | undefined> {
    for (;;) {
      const c = this.chunks.shift();
      if (c) return c;
      if (this.failure) throw this.failure;
      if (this.ended) return undefined;
      const woken = new Promise<void>((r) => (this.wake = r));
      this.socket.resume();
      await woken;
    }
  }

  /** Puts back bytes read too far (the start of what follows). */
  unread(b: Uint8Array): void {
    if (b.length > 0) this.chunks.unshift(b);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function indexOfCrlf2(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  return -1;
}

/** A connection to the daemon at `host` (a DOCKER_HOST value). */
export class DaemonConnection {
  private queue: Promise<void> = Promise.resolve();

  private constructor(readonly host: string, private socket: net.Socket, private reader: SocketReader) {}

  /** Connects to `host`; fails with a message naming DOCKER_HOST when nothing answers there. */
  static async connect(host: string): Promise<DaemonConnection> {
    const socket = await openSocket(host);
    socket.unref(); // an idle connection does not keep the process alive; a request refs it
    return new DaemonConnection(host, socket, new SocketReader(socket));
  }

  /** Closes the connection. */
  close(): void {
    this.socket.destroy();
  }

  /** Sends one request; requests wait for the previous response's body to be read. */
  request(method: string, target: string, req: DaemonRequest = {}): Promise<DaemonResponse> {
    let released!: () => void;
    const done = new Promise<void>((r) => (released = r));
    const release = () => {
      this.socket.unref();
      released();
    };
    const turn = this.queue;
    this.queue = turn.then(() => done);
    return turn.then(async () => {
      try {
        if (this.reader.closed) await this.reconnect();
        this.socket.ref();
        await this.send(method, target, req);
        return await this.receive(method, release);
      } catch (e) {
        release();
        if (e instanceof DaemonError) throw e;
        throw new DaemonError(`the Docker daemon at DOCKER_HOST=${this.host} failed during ${method} ${target}: ${(e as Error).message}`);
      }
    });
  }

  /** A request whose JSON answer is returned; other statuses than 2xx (and `allow`) become a DaemonError. */
  async json<T>(method: string, target: string, req: DaemonRequest = {}, allow: number[] = []): Promise<{ status: number; value?: T }> {
    const r = await this.request(method, target, req);
    const text = new TextDecoder().decode(new Uint8Array(await new Response(r.body).arrayBuffer()));
    if (allow.includes(r.status)) return { status: r.status };
    if (r.status < 200 || r.status >= 300) throw new DaemonError(`${method} ${target} at DOCKER_HOST=${this.host}: ${r.status} ${errorText(text)}`, r.status);
    try {
      return { status: r.status, value: text ? (JSON.parse(text) as T) : undefined };
    } catch {
      throw new DaemonError(`${method} ${target} at DOCKER_HOST=${this.host} answered with something that is not JSON: ${text.slice(0, 200)}`);
    }
  }

  private async reconnect(): Promise<void> {
    try {
      this.socket = await openSocket(this.host);
    } catch (e) {
      throw new DaemonError(
        `the daemon closed the connection opened before privileges were dropped, and it cannot be reopened: ${(e as Error).message}`,
      );
    }
    this.socket.unref();
    this.reader = new SocketReader(this.socket);
  }

  private write(b: Uint8Array | string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(b, (e) => (e ? reject(e) : resolve()));
    });
  }

  private async send(method: string, target: string, req: DaemonRequest): Promise<void> {
    const headers: Record<string, string> = { Host: "docker", "User-Agent": "cnb-lifecycle", ...req.headers };
    if (req.body instanceof Uint8Array) headers["Content-Length"] = String(req.body.length);
    else if (req.body) headers["Transfer-Encoding"] = "chunked";
    else if (method === "POST" || method === "PUT") headers["Content-Length"] = "0";
    const head = `${method} ${target} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`;
    await this.write(head);
    if (req.body instanceof Uint8Array) {
      await this.write(req.body);
    } else if (req.body) {
      await req.body(async (chunk) => {
        if (chunk.length === 0) return;
        await this.write(`${chunk.length.toString(16)}\r\n`);
        await this.write(chunk);
        await this.write("\r\n");
      });
      await this.write("0\r\n\r\n");
    }
  }

  private async receive(method: string, release: () => void): Promise<DaemonResponse> {
    let buf: Uint8Array = new Uint8Array(0);
    let end = -1;
    while ((end = indexOfCrlf2(buf)) < 0) {
      const more = await this.reader.read();
      if (!more) throw new Error("the connection closed before a response");
      buf = concat(buf, more);
    }
    const lines = new TextDecoder().decode(buf.subarray(0, end)).split("\r\n");
    this.reader.unread(buf.subarray(end + 4));
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1] ?? NaN);
    if (!Number.isFinite(status)) throw new Error(`not an HTTP response: ${lines[0]}`);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const c = l.indexOf(":");
      if (c > 0) headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
    }
    const reader = this.reader;
    const socket = this.socket;
    const noBody = method === "HEAD" || status === 204 || status === 304 || (status >= 100 && status < 200);
    const chunked = /chunked/i.test(headers["transfer-encoding"] ?? "");
    let left = noBody ? 0 : headers["content-length"] !== undefined ? Number(headers["content-length"]) : chunked ? -1 : Infinity;
    let finished = false;
    const finish = () => {
      if (!finished) {
        finished = true;
        release();
      }
    };
    if (left === 0) finish();
    // A chunked body: `left` counts down the current chunk; at 0 the next size line is read.
    let chunkLeft = 0;
    let chunkedDone = false;
    const readLine = async (): Promise<string> => {
      let line: Uint8Array = new Uint8Array(0);
      for (;;) {
        const b = await reader.read();
        if (!b) throw new Error("the connection closed inside a chunked body");
        const nl = b.indexOf(10);
        if (nl >= 0) {
          line = concat(line, b.subarray(0, nl + 1));
          reader.unread(b.subarray(nl + 1));
          return new TextDecoder().decode(line).trim();
        }
        line = concat(line, b);
      }
    };
    const take = async (max: number): Promise<Uint8Array | undefined> => {
      const b = await reader.read();
      if (!b) return undefined;
      if (b.length > max) {
        reader.unread(b.subarray(max));
        return b.subarray(0, max);
      }
      return b;
    };
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        try {
          if (finished) return c.close();
          if (!chunked) {
            const b = await take(left);
            if (!b) {
              finish();
              if (left !== Infinity) return c.error(new Error("the connection closed inside a response body"));
              return c.close();
            }
            c.enqueue(b.slice());
            left -= b.length;
            if (left <= 0) finish();
            return;
          }
          while (chunkLeft === 0 && !chunkedDone) {
            const size = parseInt(await readLine(), 16);
            if (!Number.isFinite(size)) throw new Error("a malformed chunk size");
            if (size === 0) {
              // trailers, then the empty line
              while ((await readLine()) !== "");
              chunkedDone = true;
              finish();
              return c.close();
            }
            chunkLeft = size;
          }
          const b = await take(chunkLeft);
          if (!b) throw new Error("the connection closed inside a chunk");
          c.enqueue(b.slice());
          chunkLeft -= b.length;
          if (chunkLeft === 0) await readLine(); // the CRLF after the chunk
        } catch (e) {
          finish();
          c.error(e);
        }
      },
      cancel() {
        // The rest of the body is not wanted: this connection cannot carry the next request.
        socket.destroy();
        finish();
      },
    });
    return { status, headers, body };
  }
}

/** The `message` of a Docker API error body, or the text. */
function errorText(text: string): string {
  try {
    const v = JSON.parse(text) as { message?: string };
    if (v && typeof v.message === "string") return v.message;
  } catch {
    // not JSON
  }
  return text.trim().slice(0, 500);
}

function openSocket(host: string): Promise<net.Socket> {
  let opts: net.NetConnectOpts;
  if (host.startsWith("unix://")) opts = { path: host.slice("unix://".length) };
  else if (host.startsWith("tcp://") || host.startsWith("http://")) {
    const u = new URL(host.replace(/^tcp:/, "http:"));
    opts = { host: u.hostname, port: Number(u.port || 2375) };
  } else if (host.startsWith("/")) opts = { path: host };
  else throw new DaemonError(`DOCKER_HOST=${host} is not a unix:// or tcp:// address`);
  return new Promise((resolve, reject) => {
    const s = net.connect(opts);
    s.once("connect", () => resolve(s));
    s.once("error", (e: NodeJS.ErrnoException) => {
      const why = e.code === "ENOENT"
        ? "no daemon listens there (the socket does not exist)"
        : e.code === "EACCES"
        ? "permission denied"
        : e.code === "ECONNREFUSED"
        ? "the connection was refused"
        : e.message;
      reject(new DaemonError(`cannot reach the Docker daemon at DOCKER_HOST=${host}: ${why}`));
    });
  });
}
