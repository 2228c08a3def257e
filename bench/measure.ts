/**
 * One row of the bench: a tracker under one load generator, its responses per second and its
 * CPU per response read from `/proc` over the same run.
 *
 * @module
 */

import { type UdpLoadResult } from "./udp_load.ts";
import type { WsLoadResult } from "./ws_load.ts";
import { type HttpLoadResult, runHttpLoad, runNativeLoad } from "./native_load.ts";
import { cpuSeconds } from "./procstat.ts";
import { ROOT, type Tracker } from "./trackers.ts";
import type { BenchOptions } from "./main.ts";

/** One measured row. */
export interface Row {
  /** Tracker name. */
  target: string;
  /** `udp` or `ws`. */
  protocol: string;
  /** Responses (udp) or messages (ws) per second. */
  perSecond: number;
  /** CPU microseconds of the tracker per response or message. */
  cpuMicros: number;
  /** CPU microseconds of the load generator per response or message (what it says of itself). */
  generatorCpuMicros: number;
  /** Requests lost (udp) or connections closed (ws). */
  lost: number;
  /** Invalid replies (udp) or failures (ws). */
  invalid: number;
  /** A few problems the load generator saw. */
  problems: string[];
}

export const LOAD_FLAGS = ["run", "--allow-ffi", "--allow-net", "--allow-read"];

export async function load<T>(script: string, args: string[]): Promise<T> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...LOAD_FLAGS, `${ROOT}bench/${script}`, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) throw new Error(`${script} failed: ${text}`);
  return JSON.parse(text.split("\n").pop()!) as T;
}

/** Runs the load `run` against `t`: its result, and `t`'s CPU µs per response over it. */
async function underLoad<R extends { total: number }>(
  t: Tracker,
  run: () => Promise<R>,
): Promise<[R, number]> {
  const cpu0 = await cpuSeconds(t.pid);
  const r = await run();
  const cpu = (await cpuSeconds(t.pid)) - cpu0;
  return [r, (cpu * 1e6) / Math.max(1, r.total)];
}

/** The options every load generator takes: its target, run time and warm-up. */
function loadArgs(port: number | undefined, o: BenchOptions): string[] {
  return [
    "--target",
    `127.0.0.1:${port}`,
    "--seconds",
    String(o.seconds),
    "--warmup",
    o.quick ? "0.3" : "1",
  ];
}

/** Drives `t` with the UDP load and measures it. */
export async function measureUdp(t: Tracker, o: BenchOptions): Promise<Row> {
  const [r, cpuMicros] = await underLoad(t, () =>
    load<UdpLoadResult>("udp_load.ts", [
      ...loadArgs(t.udpPort, o),
      "--torrents",
      String(o.torrents),
      "--peers",
      String(o.peers),
      "--numwant",
      String(o.numwant),
      "--inflight",
      String(o.udpInflight),
    ]));
  return {
    target: t.name,
    protocol: "udp",
    perSecond: r.perSecond,
    cpuMicros,
    generatorCpuMicros: r.generatorCpuMicros,
    lost: r.lost,
    invalid: r.invalid,
    problems: r.problems,
  };
}

/** Drives `t` with the ws load and measures it. */
export async function measureWs(t: Tracker, o: BenchOptions): Promise<Row> {
  const args = [...loadArgs(t.wsPort, o), "--connections", String(o.wsConnections)];
  if (o.wsBinaryIds) args.push("--binary-ids");
  const [r, cpuMicros] = await underLoad(
    t,
    () =>
      o.wsLoad === "ts"
        ? load<WsLoadResult>("ws_load.ts", args)
        : runNativeLoad<WsLoadResult>("ws_load", args),
  );
  return {
    target: t.name,
    protocol: "ws",
    perSecond: r.perSecond,
    cpuMicros,
    generatorCpuMicros: r.generatorCpuMicros,
    lost: r.closed,
    invalid: r.byKind.failures,
    problems: r.problems,
  };
}

export async function withTracker<T>(start: () => Promise<Tracker>, f: (t: Tracker) => Promise<T>) {
  const t = await start();
  try {
    return await f(t);
  } finally {
    await t.stop();
  }
}

/** Drives `t` with the HTTP load in `mode` (keep-alive, or a connection per request). */
export async function measureHttp(
  t: Tracker,
  o: BenchOptions,
  mode: "keepalive" | "close",
): Promise<Row> {
  const [r, cpuMicros] = await underLoad(t, (): Promise<HttpLoadResult> =>
    runHttpLoad({
      target: `127.0.0.1:${t.httpPort}`,
      seconds: o.seconds,
      warmup: o.quick ? 0.3 : 1,
      connections: o.httpConnections,
      torrents: o.torrents,
      peers: o.peers,
      numwant: o.numwant,
      mode,
      progress: false,
    }));
  return {
    target: t.name,
    protocol: mode === "keepalive" ? "http keep-alive" : "http close",
    perSecond: r.perSecond,
    cpuMicros,
    generatorCpuMicros: r.generatorCpuMicros,
    lost: r.closedEarly,
    invalid: r.errors + r.byType.failure,
    problems: r.problems,
  };
}
