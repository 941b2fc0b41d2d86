/**
 * A small OCI distribution (registry v2) client over fetch: manifests, blobs (streamed, verified), monolithic
 * uploads, cross-repository mounts, with anonymous, `CNB_REGISTRY_AUTH` or docker config.json credentials and
 * the bearer-token flow. HTTP for registries named insecure (`-insecure-registry`).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** Raised for a registry error; `status` is the HTTP status (0 when the registry could not be reached). */
export class RegistryError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "RegistryError";
  }
}

/** How to reach registries. */
export interface RegistryOptions {
  /** Registries spoken to over plain HTTP. */
  insecure?: string[];
  /** The lifecycle's environment (for `CNB_REGISTRY_AUTH`, `DOCKER_CONFIG`, `HOME`). */
  env?: Record<string, string | undefined>;
}

/** The `Authorization` header for a registry from `CNB_REGISTRY_AUTH` or docker's config.json, if any. */
export function credentialFor(registry: string, env: Record<string, string | undefined>): string | undefined {
  const hosts = registry === "index.docker.io" ? ["index.docker.io", "docker.io", "https://index.docker.io/v1/", "registry-1.docker.io"] : [registry];
  if (env.CNB_REGISTRY_AUTH) {
    let map: unknown;
    try {
      map = JSON.parse(env.CNB_REGISTRY_AUTH);
    } catch {
      map = undefined;
    }
    if (map === null || typeof map !== "object" || Array.isArray(map) || Object.values(map).some((v) => typeof v !== "string")) {
      throw new RegistryError(
        0,
        'CNB_REGISTRY_AUTH is not a JSON object of registry to Authorization header (like {"registry.example.com":"Basic dXNlcjpwYXNz"})',
      );
    }
    for (const h of hosts) if ((map as Record<string, string>)[h]) return (map as Record<string, string>)[h];
  }
  const dir = env.DOCKER_CONFIG || path.join(env.HOME || os.homedir(), ".docker");
  const file = path.join(dir, "config.json");
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return undefined; // no docker config: anonymous
  }
  let cfg: unknown;
  try {
    cfg = JSON.parse(text);
  } catch (e) {
    throw new RegistryError(0, `${file} (docker's config, for registry credentials) is not valid JSON: ${(e as Error).message}`);
  }
  const auths = cfg !== null && typeof cfg === "object" ? (cfg as { auths?: unknown }).auths : undefined;
  if (auths === null || typeof auths !== "object") return undefined;
  for (const h of hosts) {
    const entry = (auths as Record<string, unknown>)[h] ?? (auths as Record<string, unknown>)[`https://${h}`];
    const a = entry !== null && typeof entry === "object" ? (entry as { auth?: unknown }).auth : undefined;
    if (typeof a === "string" && a) return `Basic ${a}`;
  }
  return undefined;
}

/** The RFC 1918 networks: 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 (address, mask). */
const RFC1918: [number, number][] = [
  [0x0a000000, 0xff000000],
  [0xac100000, 0xfff00000],
  [0xc0a80000, 0xffff0000],
];

/**
 * The scheme of a registry, as go-containerregistry (the reference lifecycle's registry library) chooses it: HTTP
 * for registries named insecure, for RFC 1918 addresses, `localhost:<port>`, `*.localhost`, 127.0.0.1 and ::1;
 * HTTPS for everything else.
 *
 * @example registryScheme("127.0.0.1:5000", false) // "http"
 */
export function registryScheme(registry: string, insecure: boolean): "http" | "https" {
  if (insecure) return "http";
  const host = registry.split(":")[0];
  const octets = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (octets && octets.slice(1).every((o) => Number(o) <= 255)) {
    const ip = octets.slice(1).reduce((n, o) => ((n << 8) | Number(o)) >>> 0, 0);
    if (RFC1918.some(([net, mask]) => (ip & mask) >>> 0 === net)) return "http";
  }
  if (registry.startsWith("localhost:")) return "http";
  if (/^.*\.localhost(?::\d{1,5})?$/.test(registry)) return "http";
  if (/^127\.0\.0\.1(?::\d{1,5})?$/.test(registry)) return "http";
  if (/^(::1|\[::1\](?::\d{1,5})?)$/.test(registry)) return "http";
  return "https";
}

/** One registry host. */
export class RegistryClient {
  private token = new Map<string, string>();
  private readonly base: string;
  private readonly credential: string | undefined;

  constructor(readonly registry: string, readonly opts: RegistryOptions = {}) {
    const host = registry === "index.docker.io" ? "registry-1.docker.io" : registry;
    this.base = `${registryScheme(registry, (opts.insecure ?? []).includes(registry))}://${host}`;
    this.credential = credentialFor(registry, opts.env ?? {});
  }

  /** A request with the auth dance: on 401 with a Bearer challenge, fetch a token for the scope and retry. */
  async request(
    method: string,
    urlPath: string,
    init: { headers?: Record<string, string>; body?: BodyInit | null; scope: string; redirect?: RequestRedirect },
  ): Promise<Response> {
    const url = urlPath.startsWith("http") ? urlPath : `${this.base}${urlPath}`;
    const send = async () => {
      const headers: Record<string, string> = { ...(init.headers ?? {}) };
      const tok = this.token.get(init.scope);
      if (tok) headers.Authorization = tok;
      else if (this.credential?.startsWith("Basic ") || this.credential?.startsWith("Bearer ")) headers.Authorization = this.credential;
      try {
        return await fetch(
          url,
          {
            method,
            headers,
            body: init.body ?? null,
            redirect: init.redirect ?? "follow",
            ...(init.body instanceof ReadableStream ? { duplex: "half" } : {}),
          } as RequestInit,
        );
      } catch (e) {
        throw new RegistryError(0, `cannot reach registry ${this.registry} (${method} ${url}): ${(e as Error).message}`);
      }
    };
    let res = await send();
    if (res.status === 401) {
      const challenge = res.headers.get("www-authenticate") ?? "";
      await res.body?.cancel();
      if (/^bearer/i.test(challenge)) {
        this.token.set(init.scope, await this.fetchToken(challenge, init.scope));
        res = await send();
      }
      if (res.status === 401) {
        await res.body?.cancel();
        throw this.unauthorized(init.scope);
      }
    }
    return res;
  }

  /** The error for a registry that refuses the credentials (or their absence) for a scope. */
  private unauthorized(scope: string): RegistryError {
    const m = /^repository:([^:]+):(\S+)/.exec(scope);
    const what = m ? `${m[2].includes("push") ? "push to" : "pull from"} ${this.registry}/${m[1]}` : `use ${this.registry}`;
    const creds = this.credential
      ? `the credentials for ${this.registry} (CNB_REGISTRY_AUTH or docker's config.json) were refused`
      : `no credentials for ${this.registry} were found in CNB_REGISTRY_AUTH or docker's config.json`;
    return new RegistryError(401, `unauthorized: not allowed to ${what}: ${creds}`);
  }

  private async fetchToken(challenge: string, scope: string): Promise<string> {
    const params: Record<string, string> = {};
    for (const m of challenge.matchAll(/(\w+)="([^"]*)"/g)) params[m[1]] = m[2];
    if (!params.realm) throw new RegistryError(401, `registry ${this.registry} asked for a token without a realm`);
    const u = new URL(params.realm);
    if (params.service) u.searchParams.set("service", params.service);
    u.searchParams.set("scope", params.scope ?? scope);
    const headers: Record<string, string> = {};
    if (this.credential) headers.Authorization = this.credential;
    let res: Response;
    try {
      res = await fetch(u, { headers });
    } catch (e) {
      throw new RegistryError(0, `cannot reach the token service ${u.origin} of registry ${this.registry}: ${(e as Error).message}`);
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw this.unauthorized(scope);
    }
    if (!res.ok) throw new RegistryError(res.status, `registry ${this.registry} refused a token for ${scope}: HTTP ${res.status}`);
    const j = (await res.json()) as { token?: string; access_token?: string };
    const t = j.token ?? j.access_token;
    if (!t) throw new RegistryError(res.status, `registry ${this.registry} sent no token for ${scope}`);
    return `Bearer ${t}`;
  }

  /** A manifest or index by tag or digest; undefined when the repository or manifest does not exist. */
  async getManifest(repo: string, reference: string, accept: string[]): Promise<{ bytes: Uint8Array; mediaType: string; digest?: string } | undefined> {
    const res = await this.request("GET", `/v2/${repo}/manifests/${reference}`, { headers: { Accept: accept.join(", ") }, scope: `repository:${repo}:pull` });
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok) throw new RegistryError(res.status, `cannot read manifest ${this.registry}/${repo}:${reference}: HTTP ${res.status} ${await res.text()}`);
    return {
      bytes: new Uint8Array(await res.arrayBuffer()),
      mediaType: (res.headers.get("content-type") ?? "").split(";")[0],
      digest: res.headers.get("docker-content-digest") ?? undefined,
    };
  }

  /** Whether a blob exists in a repository. */
  async hasBlob(repo: string, digest: string): Promise<boolean> {
    const res = await this.request("HEAD", `/v2/${repo}/blobs/${digest}`, { scope: `repository:${repo}:pull` });
    await res.body?.cancel();
    if (res.status === 404) return false;
    if (!res.ok) throw new RegistryError(res.status, `cannot check blob ${digest} in ${this.registry}/${repo}: HTTP ${res.status}`);
    return true;
  }

  /** A blob's bytes as a stream. */
  async blob(repo: string, digest: string): Promise<ReadableStream<Uint8Array>> {
    const res = await this.request("GET", `/v2/${repo}/blobs/${digest}`, { scope: `repository:${repo}:pull` });
    if (!res.ok || !res.body) throw new RegistryError(res.status, `cannot read blob ${digest} from ${this.registry}/${repo}: HTTP ${res.status}`);
    return res.body;
  }

  /** Tries to mount a blob from another repository of this registry; true when it is there afterwards. */
  async mount(repo: string, digest: string, from: string): Promise<boolean> {
    const scope = `repository:${repo}:push,pull repository:${from}:pull`;
    const res = await this.request("POST", `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`, {
      scope,
      redirect: "manual",
    });
    await res.body?.cancel();
    return res.status === 201;
  }

  /** Uploads a blob (monolithic), from bytes or a file; nothing when the repository already has it. */
  async upload(repo: string, digest: string, data: Uint8Array | { file: string }): Promise<void> {
    if (await this.hasBlob(repo, digest)) return;
    const scope = `repository:${repo}:push,pull`;
    const start = await this.request("POST", `/v2/${repo}/blobs/uploads/`, { scope, redirect: "manual" });
    await start.body?.cancel();
    const location = start.headers.get("location");
    if (start.status !== 202 || !location) throw new RegistryError(start.status, `cannot start an upload to ${this.registry}/${repo}: HTTP ${start.status}`);
    const url = new URL(location, this.base);
    url.searchParams.set("digest", digest);
    const size = data instanceof Uint8Array ? data.length : fs.statSync(data.file).size;
    const body = data instanceof Uint8Array ? data : fileStream(data.file);
    const res = await this.request("PUT", url.toString(), {
      headers: { "Content-Type": "application/octet-stream", "Content-Length": String(size) },
      body: body as BodyInit,
      scope,
    });
    if (res.status !== 201) {
      throw new RegistryError(res.status, `cannot upload blob ${digest} to ${this.registry}/${repo}: HTTP ${res.status} ${await res.text()}`);
    }
    await res.body?.cancel();
  }

  /** Deletes a manifest by digest (registries may refuse: 405 when deletes are disabled). */
  async deleteManifest(repo: string, digest: string): Promise<void> {
    const res = await this.request("DELETE", `/v2/${repo}/manifests/${digest}`, { scope: `repository:${repo}:delete,push,pull` });
    await res.body?.cancel();
    if (res.status !== 202 && res.status !== 200) {
      throw new RegistryError(res.status, `cannot delete manifest ${this.registry}/${repo}@${digest}: HTTP ${res.status}`);
    }
  }

  /** Puts a manifest under a tag (or digest). */
  async putManifest(repo: string, reference: string, bytes: Uint8Array, mediaType: string): Promise<void> {
    const res = await this.request("PUT", `/v2/${repo}/manifests/${reference}`, {
      headers: { "Content-Type": mediaType },
      body: bytes as unknown as BodyInit,
      scope: `repository:${repo}:push,pull`,
    });
    if (res.status !== 201) {
      throw new RegistryError(res.status, `cannot save manifest ${this.registry}/${repo}:${reference}: HTTP ${res.status} ${await res.text()}`);
    }
    await res.body?.cancel();
  }
}

/** A file as a stream of 1 MiB chunks. */
function fileStream(file: string): ReadableStream<Uint8Array> {
  let fd: number | undefined;
  return new ReadableStream<Uint8Array>({
    start() {
      fd = fs.openSync(file, "r");
    },
    pull(c) {
      const buf = new Uint8Array(1 << 20);
      const n = fs.readSync(fd as number, buf, 0, buf.length, null);
      if (n === 0) {
        fs.closeSync(fd as number);
        c.close();
      } else c.enqueue(buf.subarray(0, n));
    },
    cancel() {
      if (fd !== undefined) fs.closeSync(fd);
    },
  });
}
