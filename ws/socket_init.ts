/**
 * A WebSocket socket worker's start-up data and statistics. (What every socket worker starts
 * with is `shared/runtime/socket_group.ts`'s `SocketInit`.)
 *
 * @module
 */

import type { SocketInit } from "../shared/runtime/socket_group.ts";
import type { SocketStatsBase } from "../shared/observe/view.ts";
import type { Refusals } from "../shared/store/details.ts";
import type { WsConfig } from "./config.ts";

/** Start-up data of a ws socket worker. */
export interface WsSocketInit extends SocketInit {
  /** The whole configuration. */
  config: WsConfig;
  /** This worker's share of `limits.max_connections`. */
  maxConnections: number;
  /** `maxConnections` is what the open-file limit leaves room for (its refusals: `open_files`). */
  connectionsFitFiles: boolean;
}

/** A socket worker's statistics. */
export interface WsSocketStats extends SocketStatsBase {
  /** The protocol. */
  protocol: "ws";
  /** Open connections. */
  connections: number;
  /** Cumulative counters. */
  counters: ConnectionCounters;
  /** Connections refused so far, by limit. */
  refused: Refusals;
}

/** Counters of a socket worker. */
export interface ConnectionCounters {
  /** Connections accepted. */
  accepted: number;
  /** Connections closed, for any reason. */
  closed: number;
  /** Text messages received. */
  messagesIn: number;
  /**
   * Bytes of text received: UTF-8 for what the fast path takes; UTF-16 units, close to bytes,
   * for the rest.
   */
  bytesIn: number;
  /** Announces (without answer) received. */
  announces: number;
  /** Answers received. */
  answers: number;
  /** Scrapes received. */
  scrapes: number;
  /** Messages refused: invalid JSON or fields. */
  invalid: number;
  /** Messages sent. */
  messagesOut: number;
  /**
   * Bytes of text sent: UTF-8 for what request workers send; UTF-16 units, close to bytes, for
   * the socket worker's own replies (failures, scrapes).
   */
  bytesOut: number;
  /** Closed for a protocol violation (binary or oversized frames, bad UTF-8, invalid JSON flood). */
  violations: number;
  /** Closed for being too slow to read what was sent to them. */
  slow: number;
  /** Closed for being idle. */
  idle: number;
  /** Messages for connections that were already gone. */
  undeliverable: number;
}
