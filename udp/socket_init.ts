/**
 * A UDP socket worker's start-up data and reply. (The control messages every worker shares
 * are in `shared/runtime/control.ts`; the request traffic uses the batches of `messages.ts`.)
 *
 * @module
 */

import type { SocketBase } from "../shared/runtime/mesh.ts";
import type { UdpConfig } from "./config.ts";
import type { Family } from "./io.ts";

/** An address a socket worker should bind. */
export interface Bind {
  /** Address family. */
  family: Family;
  /** IP address. */
  hostname: string;
  /** Port (0 only for the first socket worker). */
  port: number;
}

/** Start-up data of a UDP socket worker. */
export interface UdpSocketInit extends SocketBase {
  /** The whole configuration. */
  config: UdpConfig;
  /** Resolved I/O backend. */
  io: "ffi" | "deno";
  /** Addresses to bind. */
  binds: Bind[];
  /** Check that no other process holds the ports (the first socket worker at start). */
  checkFree: boolean;
  /** Connection ID key (4 words), shared by every socket worker. */
  connectionKey: Uint32Array;
}

/** Result of binding one address. */
export type BindResult =
  | { family: Family; port: number }
  | { family: Family; code: string; message: string };
