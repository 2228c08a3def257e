/**
 * A UDP socket worker's start-up data. (What every socket worker starts with is
 * `shared/runtime/socket_group.ts`'s `SocketInit`; the request traffic is the core's records.)
 *
 * @module
 */

import type { SocketInit } from "../shared/runtime/socket_group.ts";
import type { UdpConfig } from "./config.ts";

/** Start-up data of a UDP socket worker. */
export interface UdpSocketInit extends SocketInit {
  /** The whole configuration. */
  config: UdpConfig;
  /** Connection ID key (4 words), shared by every socket worker. */
  connectionKey: Uint32Array;
  /** A cluster's connection IDs (`cluster/connection_keys.ts`); null: this process's own. */
  clusterIds: { previousKey: Uint32Array | null; skew: number } | null;
}
