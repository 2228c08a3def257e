/**
 * What `shoal udp` shows of itself: Prometheus metrics and the statistics page's data, built
 * from the workers' statistics replies.
 *
 * @module
 */

import { MetricsText } from "../shared/prometheus.ts";
import { refusalMetrics } from "../shared/limit_log.ts";
import type { SwarmDetails } from "../shared/details.ts";
import { VERSION } from "../shared/version.ts";
import type { HistorySample } from "../shared/history.ts";
import { type RequestStats, type SocketStats, Stat, STAT_COUNT, total } from "./stats.ts";

/** A statistics reply from any UDP worker. */
export type UdpStats = SocketStats | RequestStats;

const TYPES = [["connect", Stat.Connect], ["announce", Stat.Announce], [
  "scrape",
  Stat.Scrape,
]] as const;
const RESPONSES = [
  ["connect", Stat.SentConnect],
  ["announce", Stat.SentAnnounce],
  ["scrape", Stat.SentScrape],
  ["error", Stat.SentError],
] as const;

/** Prometheus text for the replies. */
export function udpMetrics(replies: UdpStats[], uptime: number): string {
  const m = new MetricsText();
  m.gauge("shoal_info", "Constant 1, labelled with the protocol and version.", 1, {
    protocol: "udp",
    version: VERSION,
  });
  m.gauge("shoal_uptime_seconds", "Seconds since the tracker started.", uptime);
  for (const r of replies) {
    if (r.role !== "socket") continue;
    const worker = r.index, c = r.counters;
    for (const v of [4, 6] as const) {
      const at = v === 4 ? 0 : STAT_COUNT, ip_version = v;
      for (const [type, s] of TYPES) {
        m.counter(
          "shoal_udp_requests_total",
          "Requests with a valid header (and ID, but for connects), by type.",
          c[at + s],
          { type, ip_version, worker },
        );
      }
      for (const [type, s] of RESPONSES) {
        m.counter("shoal_udp_responses_total", "Responses sent, by type.", c[at + s], {
          type,
          ip_version,
          worker,
        });
      }
      m.counter(
        "shoal_udp_ignored_total",
        "Datagrams not answered, by reason.",
        c[at + Stat.Invalid],
        { reason: "invalid", ip_version, worker },
      );
      m.counter(
        "shoal_udp_ignored_total",
        "Datagrams not answered, by reason.",
        c[at + Stat.BadConnectionId],
        { reason: "bad_connection_id", ip_version, worker },
      );
      m.counter(
        "shoal_udp_received_bytes_total",
        "Bytes of datagrams received.",
        c[at + Stat.ReceivedBytes],
        { ip_version, worker },
      );
      m.counter("shoal_udp_sent_bytes_total", "Bytes of datagrams sent.", c[at + Stat.SentBytes], {
        ip_version,
        worker,
      });
      m.counter(
        "shoal_udp_dropped_total",
        "Requests dropped inside shoal, by reason.",
        c[at + Stat.Dropped],
        { reason: "pending_scrapes_full", ip_version, worker },
      );
    }
    m.counter("shoal_udp_dropped_total", "Requests dropped inside shoal, by reason.", r.sendDrops, {
      reason: "send_buffer_full",
      ip_version: "any",
      worker,
    });
  }
  for (const r of replies) {
    if (r.role !== "request") continue;
    m.gauge("shoal_torrents", "Torrents held, by request worker.", r.torrents, { worker: r.index });
    refusalMetrics(m, r.refused, r.index);
    m.gauge("shoal_peers", "Peers held, by kind and request worker.", r.seeders, {
      kind: "seeder",
      worker: r.index,
    });
    m.gauge("shoal_peers", "Peers held, by kind and request worker.", r.peers - r.seeders, {
      kind: "leecher",
      worker: r.index,
    });
  }
  return m.toString();
}

/** Cumulative totals over all socket workers, for rates. */
export function udpTotals(replies: UdpStats[]): Record<string, number> {
  const sum = new Float64Array(2 * STAT_COUNT);
  for (const r of replies) {
    if (r.role === "socket") { for (let k = 0; k < sum.length; k++) sum[k] += r.counters[k]; }
  }
  const t = (s: number) => total(sum, s);
  return {
    requests: t(Stat.Connect) + t(Stat.Announce) + t(Stat.Scrape),
    responses: t(Stat.SentConnect) + t(Stat.SentAnnounce) + t(Stat.SentScrape) + t(Stat.SentError),
    announces: t(Stat.SentAnnounce),
    scrapes: t(Stat.SentScrape),
    connects: t(Stat.SentConnect),
    errors: t(Stat.SentError),
    ignored: t(Stat.Invalid) + t(Stat.BadConnectionId),
    bytesIn: t(Stat.ReceivedBytes),
    bytesOut: t(Stat.SentBytes),
  };
}

/** The history's sample: requests and responses by socket worker, peers by request worker. */
export function udpSample(replies: UdpStats[]): HistorySample {
  const requests: Record<number, number> = {}, responses: Record<number, number> = {};
  const peers: Record<number, number> = {};
  for (const r of replies) {
    if (r.role === "request") {
      peers[r.index] = r.peers;
    } else {
      const t = (k: number) => total(r.counters, k);
      requests[r.index] = t(Stat.Connect) + t(Stat.Announce) + t(Stat.Scrape);
      responses[r.index] = t(Stat.SentConnect) + t(Stat.SentAnnounce) + t(Stat.SentScrape) +
        t(Stat.SentError);
    }
  }
  return { requests, responses, peers };
}

/** The statistics page's data. */
export function udpPage(
  replies: UdpStats[],
  rates: Record<string, number>,
  details: SwarmDetails,
  uptime: number,
) {
  let torrents = 0, peers = 0, seeders = 0;
  for (const r of replies) {
    if (r.role !== "request") continue;
    torrents += r.torrents;
    peers += r.peers;
    seeders += r.seeders;
  }
  const rate = (k: string) => Math.round(rates[k] ?? 0);
  return {
    protocol: "udp",
    version: VERSION,
    uptimeSeconds: Math.round(uptime),
    cards: [
      { id: "requests", label: "requests/s", value: rate("requests") },
      { id: "responses", label: "responses/s", value: rate("responses") },
      { id: "announces", label: "announces/s", value: rate("announces") },
      { id: "scrapes", label: "scrapes/s", value: rate("scrapes") },
      { id: "connects", label: "connects/s", value: rate("connects") },
      { id: "errors", label: "errors/s", value: rate("errors") },
      { id: "ignored", label: "ignored/s", value: rate("ignored") },
      { id: "torrents", label: "torrents", value: torrents },
      { id: "peers", label: "peers", value: peers },
      { id: "seeders", label: "seeders", value: seeders },
      { id: "leechers", label: "leechers", value: peers - seeders },
      { id: "in", label: "MB/s in", value: Math.round((rates.bytesIn ?? 0) / 1e4) / 100 },
      { id: "out", label: "MB/s out", value: Math.round((rates.bytesOut ?? 0) / 1e4) / 100 },
    ],
    ...details,
  };
}
