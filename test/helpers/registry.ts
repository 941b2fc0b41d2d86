/**
 * A real registry for tests (DESIGN §7): the CNCF distribution server from Debian's docker-registry package, on
 * 127.0.0.1 and a free port, with its storage in a temporary directory.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { tmpDir } from "./images.ts";

/** A running registry. */
export interface TestRegistry {
  /** `127.0.0.1:<port>` */
  host: string;
  stop(): void;
  /** The requests served so far, from the access log (`POST /v2/app/blobs/uploads/`, …). */
  requests(): string[];
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

/** Starts a registry and waits until it answers (at most 10 s); with `basicAuth`, it asks for that user (htpasswd). */
export async function startRegistry(opts: { basicAuth?: { user: string; password: string } } = {}): Promise<TestRegistry> {
  const bin = spawnSync("sh", ["-c", "command -v docker-registry"], { encoding: "utf8" }).stdout.trim();
  if (!bin) throw new Error("docker-registry is not installed (apt-get install docker-registry; CI installs it)");
  const dir = tmpDir("registry-");
  const port = await freePort();
  const config = path.join(dir, "config.yml");
  const auth: string[] = [];
  if (opts.basicAuth) {
    const htpasswd = path.join(dir, "htpasswd");
    fs.writeFileSync(htpasswd, `${opts.basicAuth.user}:${await Bun.password.hash(opts.basicAuth.password, { algorithm: "bcrypt", cost: 4 })}\n`);
    auth.push("auth:", "  htpasswd:", "    realm: test", `    path: ${htpasswd}`);
  }
  fs.writeFileSync(
    config,
    [
      "version: 0.1",
      "log:",
      "  level: error",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${path.join(dir, "data")}`,
      "  delete:",
      "    enabled: true",
      "http:",
      `  addr: 127.0.0.1:${port}`,
      ...auth,
      "",
    ].join("\n"),
  );
  const proc: ChildProcess = spawn(bin, ["serve", config], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  let access = "";
  proc.stderr?.on("data", (d) => (stderr += d.toString()));
  proc.stdout?.on("data", (d) => (access += d.toString()));
  const host = `127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const r = await fetch(`http://${host}/v2/`);
      if (r.status === 200 || (opts.basicAuth && r.status === 401)) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline || proc.exitCode !== null) {
      proc.kill();
      throw new Error(`docker-registry did not start on ${host}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const requests = () => [...access.matchAll(/"([A-Z]+ \S+) HTTP\/[\d.]+"/g)].map((m) => m[1]);
  return { host, stop: () => proc.kill(), requests };
}
