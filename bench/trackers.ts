/**
 * Starting and stopping the trackers under test for the bench: shoal (udp, ws), opentracker
 * (Debian package), bittorrent-tracker (npm, under Node) and the C limit responder.
 *
 * @module
 */

import { benchInfoHash } from "./udp_load.ts";

/** Repository root. */
export const ROOT = new URL("../", import.meta.url).pathname;
/** Where the bench keeps what it builds and installs. */
export const CACHE = `${ROOT}.cache/bench`;

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
  /** Stops it and waits for it to exit. */
  stop(): Promise<void>;
}

/** Runs a command to completion, throwing with its stderr when it fails. */
export async function run(cmd: string, args: string[], cwd = ROOT): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
}

/** A port that was free a moment ago (for trackers that cannot report the one they bound). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const u = Deno.listenDatagram({ hostname: "127.0.0.1", port, transport: "udp" });
  u.close();
  return port;
}

/** Spawns `cmd` and resolves once a stdout/stderr line matches `ready` (or fails). */
async function spawn(
  name: string,
  cmd: string,
  args: string[],
  ready: RegExp,
  opts: { cwd?: string; timeoutMs?: number } = {},
): Promise<{ child: Deno.ChildProcess; match: RegExpExecArray; output: string[] }> {
  const child = new Deno.Command(cmd, {
    args,
    cwd: opts.cwd ?? ROOT,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const output: string[] = [];
  let resolveMatch: (m: RegExpExecArray) => void;
  const matched = new Promise<RegExpExecArray>((r) => (resolveMatch = r));
  const pump = async (s: ReadableStream<Uint8Array>) => {
    let buf = "";
    for await (const chunk of s.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (output.length < 200) output.push(line);
        const m = ready.exec(line);
        if (m) resolveMatch(m);
      }
    }
  };
  pump(child.stdout);
  pump(child.stderr);
  const timeout = new Promise<null>((r) => setTimeout(() => r(null), opts.timeoutMs ?? 20000));
  const exited = child.status.then(() => null);
  const m = await Promise.race([matched, timeout, exited]);
  if (m === null) {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status;
    throw new Error(`${name} did not start:\n${output.join("\n")}`);
  }
  return { child, match: m, output };
}

async function stopChild(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch { /* gone */ }
  const t = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 3000);
  await child.status;
  clearTimeout(t);
}

/** Flags shoal runs with (as in the `run-udp`/`run-ws` tasks). */
const SHOAL_FLAGS = ["--unstable-net", "--allow-net", "--allow-read", "--allow-ffi", "--allow-env"];

/** Options of `startShoal`. */
export interface ShoalOptions {
  /** Serve the metrics endpoint (its port is `metricsPort`). */
  metrics?: boolean;
  /** Run with `--v8-flags=--expose-gc`, so each heap report collects garbage first. */
  exposeGc?: boolean;
  /** More `[network]` keys (TOML lines). */
  network?: string;
}

/** Starts `shoal udp` or `shoal ws` with `toml` (addresses are set here). */
export async function startShoal(
  protocol: "udp" | "ws" | "http",
  toml: string,
  opts: ShoalOptions = {},
): Promise<Tracker & { metricsPort?: number }> {
  const file = await Deno.makeTempFile({ prefix: "shoal-bench-", suffix: ".toml" });
  const net =
    (protocol === "ws"
      ? `[network]\naddress = "127.0.0.1:0"\n`
      : `[network]\naddress = "127.0.0.1:0"\nuse_ipv6 = false\n`) + (opts.network ?? "");
  const metrics = opts.metrics
    ? `[metrics]\nrun_prometheus_endpoint = true\nprometheus_endpoint_address = "127.0.0.1:0"\n`
    : "";
  await Deno.writeTextFile(
    file,
    `log_level = "warn"\n${toml}\n${net}[statistics]\ninterval = 0\n${metrics}`,
  );
  const served = /listening on (?:udp|ws|http):\/\/127\.0\.0\.1:(\d+)$/;
  const { child, match, output } = await spawn(
    `shoal ${protocol}`,
    Deno.execPath(),
    [
      "run",
      ...SHOAL_FLAGS,
      ...(opts.exposeGc ? ["--v8-flags=--expose-gc"] : []),
      `${ROOT}main.ts`,
      protocol,
      "-c",
      file,
    ],
    // The metrics line comes last.
    opts.metrics ? /listening on http:\/\/127\.0\.0\.1:(\d+) \(metrics\)/ : served,
  );
  const port = Number(
    opts.metrics ? served.exec(output.find((l) => served.test(l))!)![1] : match[1],
  );
  return {
    name: "shoal",
    pid: child.pid,
    ...(protocol === "udp"
      ? { udpPort: port }
      : protocol === "ws"
      ? { wsPort: port }
      : { httpPort: port }),
    ...(opts.metrics ? { metricsPort: Number(match[1]) } : {}),
    stop: async () => {
      await stopChild(child);
      await Deno.remove(file).catch(() => {});
    },
  };
}

/**
 * Starts the UDP floor responder (`bench/udp_floor.ts`): shoal's socket, and with `hop` its
 * channel to a worker, answering without tracker work.
 */
export async function startFloor(hop: boolean): Promise<Tracker> {
  const { child, match } = await spawn(
    "udp_floor",
    Deno.execPath(),
    [
      "run",
      "--allow-ffi",
      "--allow-read",
      `${ROOT}bench/udp_floor.ts`,
      ...(hop ? ["--hop"] : []),
    ],
    /listening on udp:\/\/127\.0\.0\.1:(\d+)/,
  );
  return {
    name: hop ? "floor, hop" : "floor, 1 thread",
    pid: child.pid,
    udpPort: Number(match[1]),
    stop: () => stopChild(child),
  };
}

/** Compiles and starts the C limit responder (`bench/udp_responder.c`). */
export async function startResponder(threads = 1): Promise<Tracker> {
  await Deno.mkdir(CACHE, { recursive: true });
  const bin = `${CACHE}/udp_responder`;
  await run("gcc", ["-O2", "-pthread", "-o", bin, `${ROOT}bench/udp_responder.c`]);
  const { child, match } = await spawn(
    "udp_responder",
    bin,
    ["127.0.0.1", "0", String(threads)],
    /listening on udp:\/\/127\.0\.0\.1:(\d+)/,
  );
  return {
    name: "C limit",
    pid: child.pid,
    udpPort: Number(match[1]),
    stop: () => stopChild(child),
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
  const { child } = await spawn(
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
