/**
 * The trackers a load is measured against, each started as a `Tracker` (its process, its ports,
 * a way to stop it): shoal (udp, http, ws), opentracker (Debian package) and bittorrent-tracker
 * (npm, under Node).
 *
 * @module
 */

import { benchInfoHash } from "./load/udp_load.ts";
import { CACHE, freePort, run, spawnReady, stopChild } from "./process.ts";
import { type ConfigParts, METRICS, startShoalWith } from "./shoal.ts";

/** A running tracker. */
export interface Tracker {
  /** Name for the table. */
  name: string;
  /** Process whose CPU and memory are measured. */
  pid: number;
  /** UDP port, when it serves UDP. */
  udpPort?: number;
  /** WebSocket port, when it serves ws. */
  wsPort?: number;
  /** HTTP tracker port, when it serves HTTP. */
  httpPort?: number;
  /** The metrics endpoint's port, when it serves one. */
  metricsPort?: number;
  /** Stops it and waits for it to exit. */
  stop(): Promise<void>;
}

/** Options of `shoalTracker`. */
export interface ShoalOptions {
  /** Serve the metrics endpoint (its port is `metricsPort`). */
  metrics?: boolean;
  /** Run with `--v8-flags=--expose-gc`, so each heap report collects garbage first. */
  exposeGc?: boolean;
}

/**
 * Starts `shoal <protocol>` on loopback with `parts` over the harness's config (warnings only;
 * udp and http on IPv4 only).
 */
export async function shoalTracker(
  protocol: "udp" | "ws" | "http",
  parts: ConfigParts,
  opts: ShoalOptions = {},
): Promise<Tracker> {
  const network = protocol === "ws" ? {} : { use_ipv6: false };
  const shoal = await startShoalWith(
    protocol,
    {
      log_level: "warn",
      ...parts,
      network: { ...network, ...(parts.network as object) },
      ...(opts.metrics ? { metrics: METRICS } : {}),
    },
    opts.metrics ? 2 : 1,
    { denoFlags: opts.exposeGc ? ["--v8-flags=--expose-gc"] : [] },
  );
  const served = shoal.listening.find((l) => !l.metrics)!.port;
  return {
    name: "shoal",
    pid: shoal.child.pid,
    udpPort: protocol === "udp" ? served : undefined,
    wsPort: protocol === "ws" ? served : undefined,
    httpPort: protocol === "http" ? served : undefined,
    metricsPort: shoal.listening.find((l) => l.metrics)?.port,
    stop: async () => {
      await shoal.stop();
    },
  };
}

/**
 * Starts Debian's opentracker on a free port, for UDP and HTTP (the same port number). Its build
 * serves only an allow list, so one is written for the bench's `torrents`; it will not run as
 * root, so it chroots into its own directory and drops to `nobody`. Over HTTP it closes every
 * connection after its reply.
 */
export async function startOpentracker(torrents: number): Promise<Tracker> {
  const bin = "/usr/bin/opentracker";
  await Deno.stat(bin).catch(() => {
    throw new Error(`${bin} is missing (apt-get install opentracker)`);
  });
  const dir = await Deno.makeTempDir({ prefix: "shoal-bench-opentracker-" });
  await Deno.chmod(dir, 0o755);
  const b = new Uint8Array(20);
  const lines: string[] = [];
  for (let t = 0; t < torrents; t++) {
    benchInfoHash(t, b, 0);
    lines.push([...b].map((x) => x.toString(16).padStart(2, "0")).join(""));
  }
  await Deno.writeTextFile(`${dir}/whitelist`, lines.join("\n") + "\n");
  const port = freePort();
  const asRoot = Deno.uid() === 0;
  const child = new Deno.Command(bin, {
    args: [
      "-i",
      "127.0.0.1",
      "-P",
      String(port),
      "-p",
      String(port),
      "-d",
      dir,
      ...(asRoot ? ["-u", "nobody"] : []),
      "-w",
      "whitelist",
    ],
    cwd: dir,
    stdout: "null",
    stderr: "null",
    stdin: "null",
  }).spawn();
  // opentracker prints nothing when ready: wait until its UDP port answers a connect.
  const probe = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const connect = new Uint8Array([0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0, 0, 0, 0, 1]);
  let up = false;
  for (let i = 0; i < 50 && !up; i++) {
    await probe.send(connect, { transport: "udp", hostname: "127.0.0.1", port });
    up = await Promise.race([
      probe.receive().then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 100)),
    ]);
  }
  probe.close();
  if (!up) {
    await stopChild(child);
    throw new Error("opentracker did not answer on its UDP port");
  }
  return {
    name: "opentracker",
    pid: child.pid,
    udpPort: port,
    httpPort: port,
    stop: async () => {
      await stopChild(child);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** bittorrent-tracker's version used by the bench. */
export const BITTORRENT_TRACKER_VERSION = "11.2.3";

/**
 * Installs bittorrent-tracker (npm, `--ignore-scripts`) and starts it for UDP and ws, and for
 * HTTP too with `http: true` (ws then shares the HTTP server, on the same port).
 */
export async function startBittorrentTracker(
  opts: { http?: boolean } = {},
): Promise<Tracker> {
  const dir = `${CACHE}/node`;
  await Deno.mkdir(dir, { recursive: true });
  try {
    await Deno.stat(`${dir}/node_modules/bittorrent-tracker/package.json`);
  } catch {
    await Deno.writeTextFile(`${dir}/package.json`, '{"private": true}\n');
    await run("npm", [
      "install",
      "--ignore-scripts",
      "--no-audit",
      "--no-fund",
      `bittorrent-tracker@${BITTORRENT_TRACKER_VERSION}`,
    ], dir);
  }
  const port = freePort();
  const script = `
const { default: Server } = await import("bittorrent-tracker/server");
const server = new Server({ udp: true, http: ${opts.http === true}, ws: true, stats: false });
server.on("error", (e) => { console.error("error", e.message); process.exit(2); });
server.on("warning", () => {});
server.listen(${port}, () => console.log("listening on ${port}"));
`;
  const { child } = await spawnReady(
    "bittorrent-tracker",
    "node",
    ["--input-type=module", "-e", script],
    /^listening on/,
    { cwd: dir },
  );
  return {
    name: "bittorrent-tracker",
    pid: child.pid,
    udpPort: port,
    wsPort: port,
    ...(opts.http === true ? { httpPort: port } : {}),
    stop: () => stopChild(child),
  };
}
