/**
 * `--cluster N`: what a cluster costs. On one machine a cluster cannot be faster than one node,
 * so this measures its price: the bench's UDP load (with `--only ws`, its WebTorrent load, every
 * connection on that node) sent to one node of N (so (N-1)/N of the requests go to other nodes
 * over NATS), against one lone node under the same load, alternating `--cluster-rounds` times.
 * Each node runs 1 socket and 1 request worker, and each setup takes `warmSeconds` of the load
 * unmeasured first.
 *
 * Reported: CPU µs per response of every shoal node together, and of nats-server; bytes through
 * NATS per forwarded request (its `/varz`, in and out, over the requests the nodes forwarded);
 * and the forward round trip's p50 and p99 (the nodes' histograms, as bucket bounds).
 *
 * @module
 */

import { startNats } from "../harness/nats.ts";
import { cpuSeconds } from "../harness/procstat.ts";
import { shoalTracker, type Tracker } from "../harness/trackers.ts";
import { parseMetrics } from "../shared/observe/prometheus.ts";
import { LATENCY_BUCKETS_MS } from "../shared/observe/view.ts";
import {
  type BenchOptions,
  measureUdp,
  measureWs,
  median,
  type Row,
  warmSeconds,
} from "./measure.ts";

/** One round of one setup. */
interface ClusterRow {
  /** The load's result at the node it was sent to. */
  row: Row;
  /** CPU µs per response of every shoal process. */
  shoalCpu: number;
  /** CPU µs per response of nats-server (0 for a lone node). */
  natsCpu: number;
  /** Requests forwarded to other nodes, and bytes through NATS meanwhile. */
  forwarded: number;
  /** Batches those requests went in (a NATS message each). */
  batches: number;
  natsBytes: number;
  /** Forward round trips by bucket, summed over nodes. */
  latency: number[];
}

async function metricsOf(t: Tracker): Promise<Map<string, number>> {
  const r = await fetch(`http://127.0.0.1:${t.metricsPort}/metrics`);
  return parseMetrics(await r.text());
}

/** Sum of the series of `name` whose labels include every one of `labels`. */
function sum(m: Map<string, number>, name: string, labels: string[] = []): number {
  let t = 0;
  for (const [k, v] of m) {
    if ((k === name || k.startsWith(`${name}{`)) && labels.every((l) => k.includes(l))) t += v;
  }
  return t;
}

async function natsBytes(url: string): Promise<number> {
  const v = await (await fetch(`${url}/varz`)).json();
  return Number(v.in_bytes) + Number(v.out_bytes);
}

/** The bucket bound under which `q` of the observations fall. */
function quantile(counts: number[], q: number): string {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return "–";
  let seen = 0;
  for (let k = 0; k < counts.length; k++) {
    seen += counts[k];
    if (seen >= q * total) {
      return LATENCY_BUCKETS_MS[k] === Infinity ? "> 50 ms" : `≤ ${LATENCY_BUCKETS_MS[k]} ms`;
    }
  }
  return "> 50 ms";
}

/** The forward round trips by bucket, summed over `nodes` (cumulative, since their start). */
async function latencies(nodes: Tracker[]): Promise<number[]> {
  const latency = LATENCY_BUCKETS_MS.map(() => 0);
  for (const t of nodes) {
    const m = await metricsOf(t);
    LATENCY_BUCKETS_MS.forEach((b, k) => {
      const le = b === Infinity ? "+Inf" : String(b / 1000);
      latency[k] += sum(m, "shoal_cluster_forward_latency_seconds_bucket", [`le="${le}"`]);
    });
  }
  return latency;
}

/** Runs the `--cluster` comparison and returns its Markdown table. */
export async function clusterBench(
  o: BenchOptions,
  log: (line: string) => void,
): Promise<string> {
  const n = o.cluster;
  // Two threads in the lone node too (a cluster node has them), so that the ratio is the
  // cluster's cost, not the threads'.
  const workers = { socket_workers: 1, request_workers: 1, single_thread: "off" };
  const ws = o.only === "ws", protocol = ws ? "ws" : "udp";
  const measure = (t: Tracker) => ws ? measureWs(t, o) : measureUdp(t, o);
  const warm = { ...o, seconds: warmSeconds(o) };
  const warmUp = (t: Tracker) => ws ? measureWs(t, warm) : measureUdp(t, warm);
  const lone: ClusterRow[] = [], clustered: ClusterRow[] = [];
  for (let round = 1; round <= o.clusterRounds; round++) {
    log(`cluster bench: one node (round ${round} of ${o.clusterRounds})`);
    const t = await shoalTracker(protocol, workers, { metrics: true });
    try {
      await warmUp(t);
      const row = await measure(t);
      lone.push({
        row,
        shoalCpu: row.cpuMicros,
        natsCpu: 0,
        forwarded: 0,
        batches: 0,
        natsBytes: 0,
        latency: [],
      });
    } finally {
      await t.stop();
    }

    log(`cluster bench: ${n} nodes, the load on one (round ${round} of ${o.clusterRounds})`);
    const nats = await startNats(null, true);
    const nodes: Tracker[] = [];
    try {
      for (let k = 0; k < n; k++) {
        nodes.push(
          await shoalTracker(protocol, {
            ...workers,
            log_level: "info",
            cluster: {
              enabled: true,
              servers: nats.url,
              name: "bench",
              node: `node${k}`,
              secret: "bench-cluster-secret-0123",
            },
          }, { metrics: true }),
        );
      }
      // Every node sees every other before the load starts.
      for (let tries = 0;; tries++) {
        const seen = await Promise.all(
          nodes.map(async (t) => sum(await metricsOf(t), "shoal_cluster_nodes")),
        );
        if (seen.every((s) => s === n)) break;
        if (tries > 100) throw new Error(`cluster bench: nodes see ${seen}, not ${n}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await warmUp(nodes[0]);
      const others = nodes.slice(1);
      const latency0 = await latencies(nodes);
      const cpu0 = await Promise.all(others.map((t) => cpuSeconds(t.pid)));
      const nats0 = await cpuSeconds(nats.pid), bytes0 = await natsBytes(nats.monitorUrl!);
      const out = ['direction="out"'];
      const before = await metricsOf(nodes[0]);
      const fwd0 = sum(before, "shoal_cluster_forwarded_requests_total", out);
      const batches0 = sum(before, "shoal_cluster_forwarded_batches_total", out);
      const row = await measure(nodes[0]);
      const responses = row.perSecond * o.seconds;
      const cpu1 = await Promise.all(others.map((t) => cpuSeconds(t.pid)));
      const otherCpu = cpu1.reduce((a, c, k) => a + c - cpu0[k], 0) * 1e6 / responses;
      const natsCpu = ((await cpuSeconds(nats.pid)) - nats0) * 1e6 / responses;
      const bytes = (await natsBytes(nats.monitorUrl!)) - bytes0;
      const m0 = await metricsOf(nodes[0]);
      const forwarded = sum(m0, "shoal_cluster_forwarded_requests_total", out) - fwd0;
      const batches = sum(m0, "shoal_cluster_forwarded_batches_total", out) - batches0;
      const latency = (await latencies(nodes)).map((c, k) => c - latency0[k]);
      // Cumulative buckets to per-bucket counts.
      for (let k = latency.length - 1; k > 0; k--) latency[k] -= latency[k - 1];
      clustered.push({
        row,
        shoalCpu: row.cpuMicros + otherCpu,
        natsCpu,
        forwarded,
        batches,
        natsBytes: bytes,
        latency,
      });
    } finally {
      for (const t of nodes) await t.stop();
      await nats.destroy();
    }
  }

  const load = ws
    ? `WebTorrent load (${o.wsConnections} connections, ${o.wsTorrents} torrents; per message)`
    : `UDP load (${o.peers} peers, ${o.torrents} torrents)`;
  const lines = [
    `Cluster: the ${load} sent to one node of ${n} (each 1 socket + 1 request worker, one nats-server, all on this machine), against one lone node under the same load; ${o.seconds} s each, ${o.clusterRounds} alternating round(s). CPU per response counts every shoal process; nats-server's apart. Each setup first takes ${
      warmSeconds(o)
    } s of the load unmeasured.`,
    "",
    "| setup | responses/s | shoal CPU µs per response | nats-server CPU µs per response | forwarded | requests per forwarded batch | NATS bytes per forwarded request | forward round trip p50 | p99 |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  const fmt = (x: number) => x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0);
  for (let k = 0; k < lone.length; k++) {
    const l = lone[k], c = clustered[k];
    lines.push(
      `| 1 node (round ${k + 1}) | ${fmt(l.row.perSecond)} | ${
        l.shoalCpu.toFixed(2)
      } | – | – | – | – | – | – |`,
    );
    const share = c.forwarded / Math.max(1, c.row.perSecond * o.seconds);
    lines.push(
      `| ${n} nodes (round ${k + 1}) | ${fmt(c.row.perSecond)} | ${c.shoalCpu.toFixed(2)} | ${
        c.natsCpu.toFixed(2)
      } | ${(100 * Math.min(1, share)).toFixed(0)}% | ${
        (c.forwarded / Math.max(1, c.batches)).toFixed(1)
      } | ${(c.natsBytes / Math.max(1, c.forwarded)).toFixed(0)} | ${quantile(c.latency, 0.5)} | ${
        quantile(c.latency, 0.99)
      } |`,
    );
  }
  const ratio = median(clustered.map((c) => c.shoalCpu)) / median(lone.map((l) => l.shoalCpu));
  const withNats = median(clustered.map((c) => c.shoalCpu + c.natsCpu)) /
    median(lone.map((l) => l.shoalCpu));
  lines.push(
    "",
    `CPU per response, ${n} nodes ÷ 1 node (medians): ${ratio.toFixed(2)}× for shoal, ${
      withNats.toFixed(2)
    }× with nats-server's. Target: ≤ 1.5×; forward round trip p99 ≤ 2 ms.`,
  );
  return lines.join("\n");
}
