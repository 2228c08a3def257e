/**
 * One row of the bench: a tracker under one load generator, its responses per second and its
 * CPU per response read from `/proc` over the same run; and the options of a bench run.
 *
 * @module
 */

import type { UdpLoadResult } from "../harness/load/udp_load.ts";
import type { WsLoadResult } from "../harness/load/ws_load.ts";
import {
  type HttpLoadMode,
  type HttpLoadResult,
  runHttpLoad,
  runNativeLoad,
} from "../harness/load/native_load.ts";
import { runLoadScript } from "../harness/load/cli.ts";
import { cpuSeconds } from "../harness/procstat.ts";
import type { Tracker } from "../harness/trackers.ts";

/** Options of a bench run. */
export interface BenchOptions {
  /** Also measure opentracker, bittorrent-tracker and the C limit responder. */
  compare: boolean;
  /** Also measure the UDP floor responder (`udp_floor.ts`), inline and with the hop. */
  floor: boolean;
  /** Run the memory modes. */
  memory: boolean;
  /** Save the tables to bench/results/<date>.md. */
  write: boolean;
  /** About a second per measurement, small populations. */
  quick: boolean;
  /** `udp`, `http`, `ws` or `all`. */
  only: string;
  /** Seconds measured per load run. */
  seconds: number;
  /** Torrents in the UDP population. */
  torrents: number;
  /** Peers in the UDP population. */
  peers: number;
  /** `num_want` of UDP announces. */
  numwant: number;
  /** Requests in flight per UDP load socket. */
  udpInflight: number;
  /** shoal udp socket workers. */
  udpSocketWorkers: number;
  /** shoal udp request workers. */
  udpRequestWorkers: number;
  /** shoal ws socket workers. */
  wsSocketWorkers: number;
  /** shoal ws request workers. */
  wsRequestWorkers: number;
  /** shoal http socket workers. */
  httpSocketWorkers: number;
  /** shoal http request workers. */
  httpRequestWorkers: number;
  /**
   * shoal's `single_thread`: `auto` (shoal's default: its one socket worker and one request
   * worker in one thread), `on`, or `off` (two threads).
   */
  singleThread: string;
  /** Connections of the HTTP load. */
  httpConnections: number;
  /** WebSocket connections of the ws load. */
  wsConnections: number;
  /**
   * Torrents the ws load's connections announce to (16: most messages are forwarded offers;
   * 1,000: many small swarms, as WebTorrent apps mostly have, where per-announce work counts).
   */
  wsTorrents: number;
  /** The ws load generator: `c` (harness/load/ws_load.c) or `ts` (harness/load/ws_load.ts). */
  wsLoad: string;
  /** ws info hashes and peer ids as binary strings, as WebTorrent sends them (`c` only). */
  wsBinaryIds: boolean;
  /** Peers of the UDP memory mode. */
  memoryPeers: number;
  /** Torrents of the UDP memory mode. */
  memoryTorrents: number;
  /**
   * Also measure shoal as a private tracker with `privateKeys` keys, each request carrying one,
   * beside shoal open under the same load (udp and http).
   */
  private: boolean;
  /** Keys of the private tracker. */
  privateKeys: number;
  /** Pairs of open and private rows per protocol, alternating (`private` only). */
  privateRounds: number;
  /**
   * The private tracker's `write_interval`, seconds between its accounting writes (shoal's
   * default, 5); past the run's length, the rows measure private tracking without its writes.
   */
  privateWriteInterval: number;
  /** Idle connections of the ws memory mode. */
  idleConnections: number;
  /** Seconds the ws memory mode holds them idle before its second reading. */
  idleSeconds: number;
  /** `--cluster N`: only the cluster table, N nodes against one (0: off). */
  cluster: number;
  /** Alternating one-node/cluster rounds of `--cluster`. */
  clusterRounds: number;
}

/** Defaults of `BenchOptions`. */
export const BENCH_DEFAULTS: BenchOptions = {
  compare: false,
  floor: false,
  memory: false,
  write: false,
  quick: false,
  only: "all",
  seconds: 10,
  torrents: 100_000,
  peers: 1_000_000,
  numwant: 50,
  udpInflight: 32,
  udpSocketWorkers: 1,
  udpRequestWorkers: 1,
  wsSocketWorkers: 1,
  wsRequestWorkers: 1,
  httpSocketWorkers: 1,
  httpRequestWorkers: 1,
  singleThread: "auto",
  httpConnections: 64,
  wsConnections: 256,
  wsTorrents: 16,
  wsLoad: "c",
  wsBinaryIds: false,
  memoryPeers: 1_000_000,
  memoryTorrents: 100_000,
  private: false,
  privateKeys: 100_000,
  privateRounds: 1,
  privateWriteInterval: 5,
  cluster: 0,
  clusterRounds: 1,
  idleConnections: 10_000,
  idleSeconds: 60,
};

/** One measured row. */
/**
 * Seconds of a load run unmeasured before a measured run of shoal against shoal (`--private`,
 * `--cluster`): a tracker is judged running, not starting, and the setups compared do not
 * have the same amount of code to compile (a private tracker's, three cluster nodes').
 */
export const WARM_SECONDS = 3;

/** The warm-up of `o`: `WARM_SECONDS`, or a moment with `--quick`. */
export function warmSeconds(o: BenchOptions): number {
  return o.quick ? 0.3 : WARM_SECONDS;
}

/** The median (of an even count, the mean of the middle two). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** What a bench row is. */
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

/**
 * Drives `t` with the UDP load and measures it; with `keys` (a file of passkeys), each announce
 * carries one of them as BEP 41 URL data.
 */
export async function measureUdp(t: Tracker, o: BenchOptions, keys = ""): Promise<Row> {
  const [r, cpuMicros] = await underLoad(t, () =>
    runLoadScript<UdpLoadResult>("udp_load.ts", [
      ...loadArgs(t.udpPort, o),
      "--torrents",
      String(o.torrents),
      "--peers",
      String(o.peers),
      "--numwant",
      String(o.numwant),
      "--inflight",
      String(o.udpInflight),
      ...(keys === "" ? [] : ["--keys", keys]),
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
  const args = [
    ...loadArgs(t.wsPort, o),
    "--connections",
    String(o.wsConnections),
    "--torrents",
    String(o.wsTorrents),
  ];
  if (o.wsBinaryIds) args.push("--binary-ids");
  const [r, cpuMicros] = await underLoad(
    t,
    () =>
      o.wsLoad === "ts"
        ? runLoadScript<WsLoadResult>("ws_load.ts", args)
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

/** Starts a tracker, runs `f` on it, and stops it whatever `f` did. */
export async function withTracker<T>(
  start: () => Promise<Tracker>,
  f: (t: Tracker) => Promise<T>,
): Promise<T> {
  const t = await start();
  try {
    return await f(t);
  } finally {
    await t.stop();
  }
}

/** Each HTTP load mode's row name. */
const HTTP_ROW: Record<HttpLoadMode, string> = {
  keepalive: "http keep-alive",
  close: "http close",
  libtorrent: "http close, libtorrent",
};

/**
 * Drives `t` with the HTTP load in `mode` (keep-alive, a connection per request, or one per
 * announce as libtorrent sends it); with `keys`
 * (a file of passkeys), each request's path carries one of them.
 */
export async function measureHttp(
  t: Tracker,
  o: BenchOptions,
  mode: HttpLoadMode,
  keys = "",
): Promise<Row> {
  const [r, cpuMicros] = await underLoad(t, (): Promise<HttpLoadResult> =>
    runHttpLoad({
      target: `127.0.0.1:${t.httpPort}`,
      seconds: o.seconds,
      warmup: o.quick ? 0.3 : 1,
      connections: o.httpConnections,
      torrents: o.torrents,
      peers: o.peers,
      numwant: mode === "libtorrent" ? 200 : o.numwant, // libtorrent asks for 200
      mode,
      progress: false,
      keys: keys === "" ? undefined : keys,
    }));
  return {
    target: t.name,
    protocol: HTTP_ROW[mode],
    perSecond: r.perSecond,
    cpuMicros,
    generatorCpuMicros: r.generatorCpuMicros,
    lost: r.closedEarly,
    invalid: r.errors + r.byType.failure,
    problems: r.problems,
  };
}
