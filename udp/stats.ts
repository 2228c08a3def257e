/**
 * Counters of `shoal udp`, kept per worker in a `Float64Array` and summed by the main thread.
 *
 * @module
 */

import type { Refusals } from "../shared/limit_log.ts";

/** Counter indices of a socket worker, per address family. */
export const Stat = {
  /** Datagrams received. */
  Received: 0,
  /** Bytes received. */
  ReceivedBytes: 1,
  /** Connect requests. */
  Connect: 2,
  /** Announce requests with a valid connection ID. */
  Announce: 3,
  /** Scrape requests with a valid connection ID. */
  Scrape: 4,
  /** Datagrams ignored: too short, wrong magic, truncated. */
  Invalid: 5,
  /** Requests ignored for a missing, forged or expired connection ID. */
  BadConnectionId: 6,
  /** Connect responses sent. */
  SentConnect: 7,
  /** Announce responses sent. */
  SentAnnounce: 8,
  /** Scrape responses sent. */
  SentScrape: 9,
  /** Error responses sent. */
  SentError: 10,
  /** Bytes sent. */
  SentBytes: 11,
  /** Requests dropped inside shoal (pending-scrape table full). */
  Dropped: 12,
} as const;

/** Counters per family. */
export const STAT_COUNT = 13;

/** What a socket worker reports to the main thread. */
export interface SocketStats {
  /** Discriminator. */
  type: "stats";
  /** Worker kind. */
  role: "socket";
  /** Worker index. */
  index: number;
  /** Cumulative counters, `2 * STAT_COUNT` (IPv4 then IPv6). */
  counters: Float64Array;
  /** Datagrams the kernel refused to queue (send buffer full). */
  sendDrops: number;
}

/** What a request worker reports to the main thread. */
export interface RequestStats {
  /** Discriminator. */
  type: "stats";
  /** Worker kind. */
  role: "request";
  /** Worker index. */
  index: number;
  /** Torrents held. */
  torrents: number;
  /** Peers held. */
  peers: number;
  /** Seeders among them. */
  seeders: number;
  /** Announces refused so far, by limit. */
  refused: Refusals;
}

/** Sums socket worker counters over both families. */
export function total(counters: Float64Array, stat: number): number {
  return counters[stat] + counters[STAT_COUNT + stat];
}

/** Formats one statistics line from summed counters over `seconds`. */
export function formatSummary(
  now: Float64Array,
  before: Float64Array,
  seconds: number,
  torrents: number,
  peers: number,
  seeders: number,
): string {
  const rate = (s: number) => Math.round((total(now, s) - total(before, s)) / seconds);
  const requests = rate(Stat.Connect) + rate(Stat.Announce) + rate(Stat.Scrape);
  const responses = rate(Stat.SentConnect) + rate(Stat.SentAnnounce) + rate(Stat.SentScrape) +
    rate(Stat.SentError);
  const mb = (s: number) => (rate(s) / 1e6).toFixed(2);
  return `stats: ${requests} requests/s (connect ${rate(Stat.Connect)}, announce ${
    rate(Stat.Announce)
  }, scrape ${rate(Stat.Scrape)}, ignored ${
    rate(Stat.Invalid) + rate(Stat.BadConnectionId)
  }); ${responses} responses/s (connect ${rate(Stat.SentConnect)}, announce ${
    rate(Stat.SentAnnounce)
  }, scrape ${rate(Stat.SentScrape)}, error ${rate(Stat.SentError)}); ${
    mb(Stat.ReceivedBytes)
  } MB/s in, ${
    mb(Stat.SentBytes)
  } MB/s out; torrents ${torrents}, peers ${peers} (seeders ${seeders}, leechers ${
    peers - seeders
  })`;
}
