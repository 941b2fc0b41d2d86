/**
 * A real Docker-API daemon for tests (DESIGN §7): podman's API service on a unix socket in a temporary directory,
 * with vfs storage of its own (image load, inspect, save and tag work; containers do not run here).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { tmpDir } from "./images.ts";

/** A running podman service. */
export interface TestDaemon {
  /** `unix://<dir>/podman.sock`, for DOCKER_HOST. */
  host: string;
  socket: string;
  /** Runs the podman command line on the same storage; returns stdout, throws on failure. */
  podman(args: string[]): string;
  /** `GET <path>` on the API, parsed as JSON (undefined for 404). */
  api<T>(p: string): Promise<T | undefined>;
  stop(): void;
}

/** Starts `podman system service` and waits until it answers /_ping (at most 20 s). */
export async function startPodman(): Promise<TestDaemon> {
  if (!spawnSync("sh", ["-c", "command -v podman"], { encoding: "utf8" }).stdout.trim()) {
    throw new Error("podman is not installed (apt-get install podman; CI installs it in .ci/run)");
  }
  const dir = tmpDir("podman-");
  fs.chmodSync(dir, 0o755);
  const socket = path.join(dir, "podman.sock");
  const base = ["--storage-driver", "vfs", "--root", path.join(dir, "root"), "--runroot", path.join(dir, "run"), "--events-backend", "file"];
  const child: ChildProcess = spawn("podman", [...base, "system", "service", "--time=0", `unix://${socket}`], {
    stdio: ["ignore", "ignore", fs.openSync(path.join(dir, "service.log"), "w")],
  });
  const api = async <T>(p: string): Promise<T | undefined> => {
    const r = await fetch(`http://d${p}`, { unix: socket } as RequestInit);
    if (r.status === 404) return undefined;
    if (!r.ok) throw new Error(`podman API ${p}: ${r.status} ${await r.text()}`);
    return (await r.json()) as T;
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      if (fs.existsSync(socket)) {
        const r = await fetch("http://d/_ping", { unix: socket } as RequestInit);
        if (r.ok) break;
      }
    } catch {
      // not yet
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill();
      throw new Error(`podman system service did not start: ${fs.readFileSync(path.join(dir, "service.log"), "utf8")}`);
    }
    await Bun.sleep(100);
  }
  return {
    host: `unix://${socket}`,
    socket,
    api,
    podman(args: string[]): string {
      const r = spawnSync("podman", [...base, ...args], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`podman ${args.join(" ")} failed: ${r.stderr}`);
      return r.stdout;
    },
    stop() {
      child.kill();
    },
  };
}
