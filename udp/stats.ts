/**
 * Counters of `shoal udp`, kept per worker in a `Float64Array` and summed by the main thread.
 *
 * @module
 */

import type { SocketStatsBase } from "../shared/observe/view.ts";

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
export interface SocketStats extends SocketStatsBase {
  /** The protocol. */
  protocol: "udp";
  /** Cumulative counters, `2 * STAT_COUNT` (IPv4 then IPv6). */
  counters: Float64Array;
  /** Datagrams the kernel refused to queue (send buffer full). */
  sendDrops: number;
}

/** Sums socket worker counters over both families. */
export function total(counters: Float64Array, stat: number): number {
  return counters[stat] + counters[STAT_COUNT + stat];
}
