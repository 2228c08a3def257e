/**
 * An HTTP socket worker's start-up data and statistics. (What every socket worker starts with
 * is `shared/runtime/socket_group.ts`'s `SocketInit`.)
 *
 * @module
 */

import type { SocketStatsBase } from "../shared/observe/view.ts";
import type { SocketInit } from "../shared/runtime/socket_group.ts";
import type { Refusals } from "../shared/store/details.ts";
import type { HttpSettings } from "./config.ts";
import type { ConnectionCounters } from "./connection.ts";

/** Start-up data of an HTTP socket worker. */
export interface HttpSocketInit extends SocketInit {
  /** Its settings. */
  http: HttpSettings;
  /** This worker's share of `max_connections`. */
  maxConnections: number;
  /** `maxConnections` is what the open-file limit leaves room for (its refusals: `open_files`). */
  connectionsFitFiles: boolean;
}

/** A socket worker's statistics. */
export interface HttpSocketStats extends SocketStatsBase {
  /** The protocol. */
  protocol: "http";
  /** Open connections. */
  connections: number;
  /** Cumulative counters. */
  counters: HttpCounters;
  /** Connections refused so far, by limit. */
  refused: Refusals;
}

/** Counters of an HTTP socket worker. */
export interface HttpCounters extends ConnectionCounters {
  /** Connections accepted. */
  accepted: number;
  /** Connections closed, for any reason. */
  closed: number;
  /** Closed for a request head not sent in time. */
  timedOut: number;
  /** Closed for being idle too long between requests. */
  idle: number;
  /** Announces received (well-formed or not). */
  announces: number;
  /** Scrapes received. */
  scrapes: number;
  /** Responses with a `failure reason`. */
  failures: number;
  /** Trusted `ip`, `ipv4`, `ipv6` parameters ignored for not being a literal address. */
  ignoredIps: number;
}
