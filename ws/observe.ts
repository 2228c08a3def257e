/**
 * What `shoal ws` shows of itself: Prometheus metrics and the statistics page's data, built
 * from the workers' statistics replies.
 *
 * @module
 */

import { MetricsText } from "../shared/prometheus.ts";
import { refusalMetrics } from "../shared/limit_log.ts";
import type { SwarmDetails } from "../shared/details.ts";
import { VERSION } from "../shared/version.ts";
import type { HistorySample } from "../shared/history.ts";
import type { WsRequestStats, WsSocketStats } from "./control.ts";

/** A statistics reply from any ws worker. */
export type WsStats = WsSocketStats | WsRequestStats;

/** Prometheus text for the replies. */
export function wsMetrics(replies: WsStats[], uptime: number): string {
  const m = new MetricsText();
  m.gauge("shoal_info", "Constant 1, labelled with the protocol and version.", 1, {
    protocol: "ws",
    version: VERSION,
  });
  m.gauge("shoal_uptime_seconds", "Seconds since the tracker started.", uptime);
  for (const r of replies) {
    if (r.role !== "socket") continue;
    const c = r.counters, worker = r.index;
    m.gauge("shoal_ws_connections", "Open WebSocket connections.", r.connections, { worker });
    m.counter(
      "shoal_ws_connections_accepted_total",
      "WebSocket connections accepted.",
      c.accepted,
      { worker },
    );
    const closed = "WebSocket connections closed, by reason.";
    m.counter("shoal_ws_connections_closed_total", closed, c.violations, {
      reason: "violation",
      worker,
    });
    m.counter("shoal_ws_connections_closed_total", closed, c.slow, { reason: "slow", worker });
    m.counter("shoal_ws_connections_closed_total", closed, c.idle, { reason: "idle", worker });
    m.counter(
      "shoal_ws_connections_closed_total",
      closed,
      c.closed - c.violations - c.slow - c.idle,
      { reason: "other", worker },
    );
    const recv = "Messages received, by type.";
    m.counter("shoal_ws_messages_received_total", recv, c.announces, { type: "announce", worker });
    m.counter("shoal_ws_messages_received_total", recv, c.answers, { type: "answer", worker });
    m.counter("shoal_ws_messages_received_total", recv, c.scrapes, { type: "scrape", worker });
    m.counter("shoal_ws_messages_received_total", recv, c.invalid, { type: "invalid", worker });
    m.counter("shoal_ws_messages_sent_total", "Messages sent.", c.messagesOut, { worker });
    m.counter("shoal_ws_received_bytes_total", "Bytes of text messages received.", c.bytesIn, {
      worker,
    });
    m.counter("shoal_ws_sent_bytes_total", "Bytes of text messages sent.", c.bytesOut, { worker });
    refusalMetrics(m, r.refused, worker);
  }
  for (const r of replies) {
    if (r.role !== "request") continue;
    const worker = r.index;
    m.gauge("shoal_torrents", "Torrents held, by request worker.", r.torrents, { worker });
    refusalMetrics(m, r.refused, worker);
    m.gauge("shoal_peers", "Peers held, by kind and request worker.", r.seeders, {
      kind: "seeder",
      worker,
    });
    m.gauge("shoal_peers", "Peers held, by kind and request worker.", r.peers - r.seeders, {
      kind: "leecher",
      worker,
    });
    m.counter(
      "shoal_ws_offers_forwarded_total",
      "Offers forwarded to peers.",
      r.counters.offersForwarded,
      { worker },
    );
    m.counter(
      "shoal_ws_answers_forwarded_total",
      "Answers forwarded to offerers.",
      r.counters.answersForwarded,
      { worker },
    );
    m.counter(
      "shoal_ws_failures_total",
      "Requests refused with a failure reason by the swarms.",
      r.counters.failures,
      { worker },
    );
  }
  return m.toString();
}

/** Cumulative totals over all workers, for rates. */
export function wsTotals(replies: WsStats[]): Record<string, number> {
  const t = { messagesIn: 0, messagesOut: 0, offers: 0, answers: 0, bytesIn: 0, bytesOut: 0 };
  for (const r of replies) {
    if (r.role === "socket") {
      t.messagesIn += r.counters.messagesIn;
      t.messagesOut += r.counters.messagesOut;
      t.bytesIn += r.counters.bytesIn;
      t.bytesOut += r.counters.bytesOut;
    } else {
      t.offers += r.counters.offersForwarded;
      t.answers += r.counters.answersForwarded;
    }
  }
  return t;
}

/** The history's sample: messages in and out by socket worker, peers by request worker. */
export function wsSample(replies: WsStats[]): HistorySample {
  const requests: Record<number, number> = {}, responses: Record<number, number> = {};
  const peers: Record<number, number> = {};
  for (const r of replies) {
    if (r.role === "request") {
      peers[r.index] = r.peers;
    } else {
      requests[r.index] = r.counters.messagesIn;
      responses[r.index] = r.counters.messagesOut;
    }
  }
  return { requests, responses, peers };
}

/** Connections, torrents, peers and seeders over all workers. */
export function wsSizes(replies: WsStats[]) {
  let connections = 0, torrents = 0, peers = 0, seeders = 0;
  for (const r of replies) {
    if (r.role === "socket") {
      connections += r.connections;
    } else {
      torrents += r.torrents;
      peers += r.peers;
      seeders += r.seeders;
    }
  }
  return { connections, torrents, peers, seeders };
}

/** The statistics page's data. */
export function wsPage(
  replies: WsStats[],
  rates: Record<string, number>,
  details: SwarmDetails,
  uptime: number,
) {
  const s = wsSizes(replies);
  const rate = (k: string) => Math.round(rates[k] ?? 0);
  return {
    protocol: "ws",
    version: VERSION,
    uptimeSeconds: Math.round(uptime),
    cards: [
      { id: "requests", label: "messages/s in", value: rate("messagesIn") },
      { id: "responses", label: "messages/s out", value: rate("messagesOut") },
      { id: "offers", label: "offers/s", value: rate("offers") },
      { id: "answers", label: "answers/s", value: rate("answers") },
      { id: "connections", label: "connections", value: s.connections },
      { id: "torrents", label: "torrents", value: s.torrents },
      { id: "peers", label: "peers", value: s.peers },
      { id: "seeders", label: "seeders", value: s.seeders },
      { id: "leechers", label: "leechers", value: s.peers - s.seeders },
      { id: "in", label: "MB/s in", value: Math.round((rates.bytesIn ?? 0) / 1e4) / 100 },
      { id: "out", label: "MB/s out", value: Math.round((rates.bytesOut ?? 0) / 1e4) / 100 },
    ],
    ...details,
  };
}
