/**
 * A WebSocket socket worker's start-up data, reply and statistics. (The control messages every
 * worker shares are in `shared/runtime/control.ts`.)
 *
 * @module
 */

import type { SocketBase } from "../shared/runtime/mesh.ts";
import type { SocketStatsBase } from "../shared/observe/view.ts";
import type { Refusals } from "../shared/store/details.ts";
import type { WsConfig } from "./config.ts";
import type { ConnectionCounters } from "./connections.ts";

/** Start-up data of a ws socket worker. */
export interface WsSocketInit extends SocketBase {
  /** The whole configuration. */
  config: WsConfig;
  /** IP address to bind. */
  hostname: string;
  /** Port to bind (0 only for the first socket worker). */
  port: number;
  /** Transport: libc epoll (plain TCP on Linux) or Deno's listeners. */
  io: "ffi" | "deno";
  /** Check that no other process holds the port (the first socket worker at start). */
  checkFree: boolean;
  /** PEM certificate and key when serving wss. */
  tls: { cert: string; key: string } | null;
  /** This worker's share of `limits.max_connections`. */
  maxConnections: number;
  /** `maxConnections` is what the open-file limit leaves room for (its refusals: `open_files`). */
  connectionsFitFiles: boolean;
}

/** A socket worker's start-up reply: the bound port, or why it could not bind. */
export type WsBound = { port: number } | { code: string; message: string };

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
