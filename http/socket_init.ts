/**
 * An HTTP socket worker's start-up data, reply and statistics. (The control messages every
 * worker shares are in `shared/runtime/control.ts`.)
 *
 * @module
 */

import type { SocketBase } from "../shared/runtime/mesh.ts";
import type { SocketStatsBase } from "../shared/observe/view.ts";
import type { Refusals } from "../shared/store/details.ts";
import type { Bind, BindResult } from "../udp/socket_init.ts";
import type { HttpSettings } from "./config.ts";
import type { HttpCounters } from "./front.ts";

export type { Bind, BindResult };

/** Start-up data of an HTTP socket worker. */
export interface HttpSocketInit extends SocketBase {
  /** Its settings. */
  http: HttpSettings;
  /** Where the connection limits are configured (`network` or `http`), for the log. */
  section: string;
  /** Transport: libc epoll (plain TCP on Linux) or Deno's listeners. */
  io: "ffi" | "deno";
  /** Addresses to bind. */
  binds: Bind[];
  /** Check that no other process holds the ports (the first socket worker at start). */
  checkFree: boolean;
  /** PEM certificate and key when serving HTTPS. */
  tls: { cert: string; key: string } | null;
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
