/**
 * What a private tracker gives every worker it starts (and every replacement): the keys as
 * they are now, and the registered torrents when only those are served. Later changes follow
 * as `keys` and `registered` control messages (`control.ts`).
 *
 * @module
 */

import type { KeyUpdate } from "../store/key_table.ts";

/** A private tracker's start-up data for a worker. */
export interface PrivateInit {
  /** Every key. */
  keys: KeyUpdate;
  /** Registered torrents (20 bytes each) when only those are served, else null. */
  registered: Uint8Array | null;
  /** Peer-id prefixes of the only clients allowed (empty: any). */
  clients: string[];
}
