/**
 * Control messages between the main thread and the WebSocket workers.
 *
 * @module
 */

import type { WsConfig } from "./config.ts";
import type { AccessListData } from "../shared/access_list.ts";
import type { ConnectionCounters } from "./connections.ts";
import type { WsSwarmCounters } from "./swarms.ts";
import type { Refusals } from "../shared/limit_log.ts";

/** Start-up message of a ws socket worker. */
export interface WsSocketInit {
  /** Discriminator. */
  type: "init";
  /** Worker index. */
  index: number;
  /** The whole configuration. */
  config: WsConfig;
  /** IP address to bind. */
  hostname: string;
  /** Port to bind (0 only for the first socket worker). */
  port: number;
  /** Transport: libc epoll (plain TCP on Linux) or Deno's listeners. */
  io: "ffi" | "deno";
  /** Check that no other process holds the port (first socket worker only). */
  checkFree: boolean;
  /** PEM certificate and key when serving wss. */
  tls: { cert: string; key: string } | null;
  /** This worker's share of `limits.max_connections`. */
  maxConnections: number;
  /** `maxConnections` is what the open-file limit leaves room for (its refusals: `open_files`). */
  connectionsFitFiles: boolean;
  /** Shard key (2 words), shared by all socket workers. */
  shardKey: Uint32Array;
  /** One port per request worker. */
  ports: MessagePort[];
  /** Where the worker records its libc descriptors (closed by the main thread if it dies). */
  fds: SharedArrayBuffer;
  /** "", or "throw@MS"/"hang@MS": misbehave MS ms after start (fault injection, tests). */
  fault: string;
}

/** Start-up message of a ws request worker. */
export interface WsRequestInit {
  /** Discriminator. */
  type: "init";
  /** Worker index. */
  index: number;
  /** The whole configuration. */
  config: WsConfig;
  /** The access list. */
  access: AccessListData;
  /** This worker's share of the state file (`shared/state_file.ts` entries), if any. */
  state: Uint8Array | null;
  /** One port per socket worker. */
  ports: MessagePort[];
  /** "", or "throw@MS"/"hang@MS": misbehave MS ms after start (fault injection, tests). */
  fault: string;
}

/** A socket worker's reply to its init: the bound port, or why it could not bind. */
export type WsBound =
  | { type: "bound"; port: number }
  | { type: "bound"; code: string; message: string };

/** New TLS material for the socket workers (SIGUSR1). */
export interface WsTlsUpdate {
  /** Discriminator. */
  type: "tls";
  /** PEM certificate chain. */
  cert: string;
  /** PEM private key. */
  key: string;
}

/** A socket worker's statistics. */
export interface WsSocketStats {
  /** Discriminator. */
  type: "stats";
  /** Worker kind. */
  role: "socket";
  /** Worker index. */
  index: number;
  /** Open connections. */
  connections: number;
  /** Cumulative counters. */
  counters: ConnectionCounters;
  /** Connections refused so far, by limit. */
  refused: Refusals;
}

/** A request worker's statistics. */
export interface WsRequestStats {
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
  /** Cumulative counters. */
  counters: WsSwarmCounters;
  /** Announces refused so far, by limit. */
  refused: Refusals;
}
