/**
 * What a tracker shows of itself, built once for every protocol: Prometheus metrics, the
 * statistics page's data, the history's samples and the summary line, all from the workers'
 * statistics. Request workers' statistics have one shape everywhere (`RequestStats`); each
 * protocol's socket workers are read through its `ProtocolView`, so one process serving
 * several protocols shows each of them.
 *
 * @module
 */

import { GATE_REASONS } from "../store/private_gate.ts";
import { VERSION } from "../base/version.ts";
import type { RequestStats, SwarmDetails } from "../store/details.ts";
import type { HistorySample } from "./history.ts";
import { refusalMetrics } from "./limit_log.ts";
import { MetricsText } from "./prometheus.ts";
import { Rates } from "./rates.ts";

/** What every socket worker's statistics hold. */
export interface SocketStatsBase {
  /** Discriminator. */
  role: "socket";
  /** The protocol it serves. */
  protocol: string;
  /** Worker index (among all socket workers). */
  index: number;
  /** A private tracker's refusals so far, by `store/private_gate.ts`'s `Gate` value. */
  keyRefusals?: number[];
  /** A cluster node's traffic with other nodes (`core/remote.ts`'s counts). */
  cluster?: ClusterCounts;
}

/** A socket worker's traffic with other nodes of its cluster. */
export interface ClusterCounts {
  /** Batches and requests sent to other nodes. */
  batchesOut: number;
  requestsOut: number;
  /** Messages dropped (unknown format, malformed) and sends dropped (NATS away, too large). */
  dropped: number;
  sendDrops: number;
  /** Whether the worker's NATS link is up (a node joins once every worker's is). */
  linked?: boolean;
  /** Round trips of forwarded batches by bucket (`LATENCY_BUCKETS_MS`), and their sum in ms. */
  latency: number[];
  latencySum: number;
}

const BATCHES = "Batches between nodes: sent by a socket worker, or answered by a request worker.";
const REQUESTS =
  "Requests between nodes: sent by a socket worker, or answered by a request worker.";

/** Upper bounds (ms) of the forward-latency histogram's buckets (`countLatency` fills them). */
export const LATENCY_BUCKETS_MS = [0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 50, Infinity];

/** Counts a forward round trip of `ms` milliseconds into `c` (a negative one: clocks moved). */
export function countLatency(c: Pick<ClusterCounts, "latency" | "latencySum">, ms: number): void {
  if (ms < 0) return;
  let k = 0;
  while (ms > LATENCY_BUCKETS_MS[k]) k++;
  c.latency[k]++;
  c.latencySum += ms;
}

function clusterMetrics(m: MetricsText, s: SocketStatsBase): void {
  const c = s.cluster;
  if (c === undefined) return;
  const worker = s.index, protocol = s.protocol;
  m.counter("shoal_cluster_forwarded_batches_total", BATCHES, c.batchesOut, {
    direction: "out",
    worker: `socket ${worker}`,
  });
  m.counter("shoal_cluster_forwarded_requests_total", REQUESTS, c.requestsOut, {
    direction: "out",
    worker: `socket ${worker}`,
  });
  m.counter(
    "shoal_cluster_dropped_total",
    "Messages between nodes dropped: sends while NATS was away or over its max_payload, or a format this node does not speak.",
    c.dropped + c.sendDrops,
    { protocol, worker },
  );
  m.histogram(
    "shoal_cluster_forward_latency_seconds",
    "Round trip of a batch forwarded to another node and its answers, by socket worker.",
    LATENCY_BUCKETS_MS.map((b) => b / 1000),
    c.latency,
    c.latencySum / 1000,
    { protocol, worker },
  );
}

/** A card of the statistics page: its element id, label, and the value's key. */
export type Card = [id: string, label: string, key: string];

/** How one protocol's statistics read. */
export interface ProtocolView<S extends SocketStatsBase> {
  /** The protocol, as in `SocketStatsBase.protocol`. */
  protocol: string;
  /**
   * Cumulative counters of one socket worker by name; `requests` and `responses` are the
   * history's, `bytesIn` and `bytesOut` the traffic cards'.
   */
  totals(s: S): Record<string, number>;
  /** Cumulative counters of one request worker, by name (offers forwarded, ...). */
  requestTotals?(r: RequestStats): Record<string, number>;
  /** Current sizes of one socket worker (open connections), by name. */
  sizes?(s: S): Record<string, number>;
  /** Cards of per-second rates of `totals` and `requestTotals`. */
  rateCards: Card[];
  /** Cards of `sizes`. */
  sizeCards?: Card[];
  /** One socket worker's Prometheus samples. */
  metrics(m: MetricsText, s: S): void;
  /** One request worker's protocol-specific samples. */
  requestMetrics?(m: MetricsText, r: RequestStats): void;
  /** This protocol's part of the summary line, from rates of its totals and its sizes. */
  summary(rate: (key: string) => number, size: (key: string) => number): string;
}

/** What a tracker shows of itself (`runtime/tracker.ts` serves and prints it). */
export interface TrackerObserve<S> {
  /** Prometheus text. */
  metrics(stats: S[], uptime: number): string;
  /** The statistics page's data. */
  page(stats: S[], details: SwarmDetails, uptime: number): object;
  /** Counters and peers by worker, for the page's graphs. */
  sample(stats: S[]): HistorySample;
  /** The summary line printed every `statistics.interval`. */
  summary(stats: S[]): string;
}

/** Torrents, peers and seeders over the request workers. */
function swarmSizes(stats: RequestStats[]) {
  let torrents = 0, peers = 0, seeders = 0;
  for (const r of stats) {
    torrents += r.torrents;
    peers += r.peers;
    seeders += r.seeders;
  }
  return { torrents, peers, seeders };
}

/**
 * The view of a tracker whose socket workers serve `views` (one per protocol); `name` is what
 * the page and `shoal_info` call it (`udp`, `udp+http`).
 */
export function trackerView<S extends SocketStatsBase>(
  name: string,
  views: ProtocolView<S>[],
): TrackerObserve<S | RequestStats> {
  const viewOf = (s: S) => views.find((v) => v.protocol === s.protocol);
  const split = (stats: (S | RequestStats)[]) => {
    const sockets: S[] = [], requests: RequestStats[] = [];
    for (const s of stats) s.role === "request" ? requests.push(s) : sockets.push(s);
    return { sockets, requests };
  };
  /** Totals and sizes by protocol, summed over workers. */
  const sums = (stats: (S | RequestStats)[]) => {
    const { sockets, requests } = split(stats);
    const out = new Map<
      string,
      { totals: Record<string, number>; sizes: Record<string, number> }
    >();
    for (const v of views) out.set(v.protocol, { totals: {}, sizes: {} });
    const add = (into: Record<string, number>, from: Record<string, number>) => {
      for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
    };
    for (const s of sockets) {
      const v = viewOf(s), o = out.get(s.protocol);
      if (v === undefined || o === undefined) continue;
      add(o.totals, v.totals(s));
      if (v.sizes) add(o.sizes, v.sizes(s));
    }
    for (const v of views) {
      if (v.requestTotals) {
        for (const r of requests) add(out.get(v.protocol)!.totals, v.requestTotals(r));
      }
    }
    return { out, swarms: swarmSizes(requests) };
  };
  const pageRates = views.map(() => new Rates());
  const summaryRates = views.map(() => new Rates());
  // One protocol: cards keep their plain ids; several: each is prefixed with its protocol.
  const cardId = (v: ProtocolView<S>, id: string) => views.length > 1 ? `${v.protocol}-${id}` : id;

  return {
    metrics(stats, uptime) {
      const m = new MetricsText();
      m.gauge("shoal_info", "Constant 1, labelled with the protocol and version.", 1, {
        protocol: name,
        version: VERSION,
      });
      m.gauge("shoal_uptime_seconds", "Seconds since the tracker started.", uptime);
      const { sockets, requests } = split(stats);
      for (const s of sockets) {
        viewOf(s)?.metrics(m, s);
        clusterMetrics(m, s);
        s.keyRefusals?.forEach((n, why) => {
          if (why === 0) return;
          m.counter(
            "shoal_private_refusals_total",
            "Requests a private tracker refused, by reason and socket worker.",
            n,
            { protocol: s.protocol, reason: GATE_REASONS[why], worker: s.index },
          );
        });
      }
      for (const r of requests) {
        const worker = r.index;
        m.gauge("shoal_torrents", "Torrents held, by request worker.", r.torrents, { worker });
        refusalMetrics(m, r.refused, worker);
        const peers = "Peers held, by kind and request worker.";
        m.gauge("shoal_peers", peers, r.seeders, { kind: "seeder", worker });
        m.gauge("shoal_peers", peers, r.peers - r.seeders, { kind: "leecher", worker });
        for (const v of views) v.requestMetrics?.(m, r);
        if (r.accounting !== undefined) {
          m.counter(
            "shoal_private_unaccounted_peers_total",
            "New peers a private tracker did not account: the request worker's table was full.",
            r.accounting.unaccounted,
            { worker },
          );
          m.counter(
            "shoal_private_revoked_peers_dropped_total",
            "Peers taken out of the swarms because their key was revoked or deleted.",
            r.accounting.revokedDropped,
            { worker },
          );
        }
        if (r.remoteIn !== undefined) {
          const w = `request ${worker}`;
          m.counter("shoal_cluster_forwarded_batches_total", BATCHES, r.remoteIn.batches, {
            direction: "in",
            worker: w,
          });
          m.counter("shoal_cluster_forwarded_requests_total", REQUESTS, r.remoteIn.requests, {
            direction: "in",
            worker: w,
          });
        }
      }
      return m.toString();
    },

    page(stats, details, uptime) {
      const { out, swarms } = sums(stats);
      const cards: { id: string; label: string; value: number }[] = [];
      views.forEach((v, k) => {
        const o = out.get(v.protocol)!;
        const rates = pageRates[k].update(o.totals);
        const label = (l: string) => views.length > 1 ? `${v.protocol} ${l}` : l;
        for (const [id, l, key] of v.rateCards) {
          cards.push({ id: cardId(v, id), label: label(l), value: Math.round(rates[key] ?? 0) });
        }
        for (const [id, l, key] of v.sizeCards ?? []) {
          cards.push({ id: cardId(v, id), label: label(l), value: o.sizes[key] ?? 0 });
        }
        const mb = (b: number | undefined) => Math.round((b ?? 0) / 1e4) / 100;
        cards.push({ id: cardId(v, "in"), label: label("MB/s in"), value: mb(rates.bytesIn) });
        cards.push({ id: cardId(v, "out"), label: label("MB/s out"), value: mb(rates.bytesOut) });
      });
      cards.push(
        { id: "torrents", label: "torrents", value: swarms.torrents },
        { id: "peers", label: "peers", value: swarms.peers },
        { id: "seeders", label: "seeders", value: swarms.seeders },
        { id: "leechers", label: "leechers", value: swarms.peers - swarms.seeders },
      );
      return {
        protocol: name,
        version: VERSION,
        uptimeSeconds: Math.round(uptime),
        cards,
        ...details,
      };
    },

    sample(stats) {
      const requests: Record<number, number> = {}, responses: Record<number, number> = {};
      const peers: Record<number, number> = {};
      const { sockets, requests: reqs } = split(stats);
      for (const r of reqs) peers[r.index] = r.peers;
      for (const s of sockets) {
        const t = viewOf(s)?.totals(s);
        if (t === undefined) continue;
        requests[s.index] = t.requests ?? 0;
        responses[s.index] = t.responses ?? 0;
      }
      return { requests, responses, peers };
    },

    summary(stats) {
      const { out, swarms } = sums(stats);
      const parts = views.map((v, k) => {
        const o = out.get(v.protocol)!;
        const rates = summaryRates[k].update(o.totals);
        const part = v.summary((key) => Math.round(rates[key] ?? 0), (key) => o.sizes[key] ?? 0);
        return views.length > 1 ? `${v.protocol} ${part}` : part;
      });
      const { torrents, peers, seeders } = swarms;
      return `stats: ${parts.join("; ")}; torrents ${torrents}, peers ${peers} ` +
        `(seeders ${seeders}, leechers ${peers - seeders})`;
    },
  };
}
