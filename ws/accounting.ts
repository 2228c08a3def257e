/**
 * A private WebTorrent tracker's accounting in a request worker: each announce's `REQ_ACCOUNT`
 * record (`messages.ts`) into the per-peer accounting every tracker shares
 * (`shared/store/peer_accounts.ts`). A revoked key's peers leave with their connections, which
 * the socket worker closes, so nothing here takes a peer out of a swarm.
 *
 * @module
 */

import { getU32LE } from "../shared/base/bytes.ts";
import { PeerAccounts, WHERE_LEN } from "../shared/store/peer_accounts.ts";
import { WsEvent } from "./protocol.ts";

/** `WsEvent` as BEP 15's event numbers, which the accounting reads. */
const BEP15_EVENT: Record<number, number> = {
  [WsEvent.None]: 0,
  [WsEvent.Completed]: 1,
  [WsEvent.Started]: 2,
  [WsEvent.Stopped]: 3,
  [WsEvent.Paused]: 0,
};

/** The accounting of one ws request worker. */
export class WsAccounting {
  /** The peers' accounting. */
  readonly accounts: PeerAccounts = new PeerAccounts();
  #where = new Uint8Array(WHERE_LEN);
  #f64 = new Float64Array(2);
  #f64b = new Uint8Array(this.#f64.buffer);

  /** Accounts the `REQ_ACCOUNT` record at `b[p]` at `now`, under key index `key`. */
  record(b: Uint8Array, p: number, now: number, key = getU32LE(b, p + 8)): void {
    for (let j = 0; j < 16; j++) this.#f64b[j] = b[p + 52 + j];
    this.accounts.record(
      key,
      b,
      p + 12,
      p + 32,
      this.#f64[0],
      this.#f64[1],
      BEP15_EVENT[b[p + 1]] ?? 0,
      b[p + 2] === 1,
      now,
      this.#where,
      0,
    );
  }
}
