/**
 * Control messages between the main thread and the UDP workers (start-up, statistics). The
 * request/response traffic itself uses the binary batches of `messages.ts`.
 *
 * @module
 */

import type { UdpConfig } from "./config.ts";
import type { Family } from "./io.ts";
import type { AccessListData } from "../shared/access_list.ts";

/** An address a socket worker should bind. */
export interface Bind {
  /** Address family. */
  family: Family;
  /** IP address. */
  hostname: string;
  /** Port (0 only for the first socket worker). */
  port: number;
}

/** Start-up message of a socket worker. */
export interface SocketWorkerInit {
  /** Discriminator. */
  type: "init";
  /** Worker index. */
  index: number;
  /** The whole configuration. */
  config: UdpConfig;
  /** Resolved I/O backend. */
  io: "ffi" | "deno";
  /** Addresses to bind. */
  binds: Bind[];
  /** Check that no other process holds the ports (first socket worker only). */
  checkFree: boolean;
  /** Connection ID key (4 words). */
  connectionKey: Uint32Array;
  /** Shard key (2 words). */
  shardKey: Uint32Array;
  /** One port per request worker. */
  ports: MessagePort[];
  /** Where the worker records its libc descriptors (closed by the main thread if it dies). */
  fds: SharedArrayBuffer;
  /** "", or "throw@MS"/"hang@MS": misbehave MS ms after start (fault injection, tests). */
  fault: string;
}

/** Start-up message of a request worker. */
export interface RequestWorkerInit {
  /** Discriminator. */
  type: "init";
  /** Worker index. */
  index: number;
  /** The whole configuration. */
  config: UdpConfig;
  /** Hash table key (4 words). */
  swarmKey: Uint32Array;
  /** The access list. */
  access: AccessListData;
  /** This worker's share of the state file (`shared/state_file.ts` entries), if any. */
  state: Uint8Array | null;
  /** One port per socket worker. */
  ports: MessagePort[];
  /** "", or "throw@MS"/"hang@MS": misbehave MS ms after start (fault injection, tests). */
  fault: string;
}

/** Result of binding one address. */
export type BindResult =
  | { family: Family; port: number }
  | { family: Family; code: string; message: string };

/** A socket worker's reply to its init. */
export interface BoundMessage {
  /** Discriminator. */
  type: "bound";
  /** One result per requested bind. */
  results: BindResult[];
}

/** A request worker's reply to its init. */
export interface ReadyMessage {
  /** Discriminator. */
  type: "ready";
}
