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
import type { ConnectionCounters } from "./connections.ts";

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
