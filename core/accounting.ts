/**
 * A private tracker's side of a request worker: the keys (to refuse a key revoked while its
 * announce was on its way, and to take a revoked key's peers out of the swarms) and the
 * accounting of keyed announces (`shared/store/peer_accounts.ts`). An open tracker never makes
 * one: its announces carry no key.
 *
 * @module
 */

import { getU32LE } from "../shared/base/bytes.ts";
import { KeyState, KeyTable, type KeyUpdate } from "../shared/store/key_table.ts";
import { PeerAccounts, WHERE_LEN } from "../shared/store/peer_accounts.ts";
import { A_ADDR, A_EVENT, A_FLAGS, A_INFO_HASH, A_PEER_ID, A_PORT } from "./records.ts";
import { ANNOUNCE_SEEDER, K_KEY, K_UPLOADED, REC_FAMILY } from "./records.ts";
import { Refusal } from "./records.ts";

/** Takes a peer out of its swarm: its place (`WHERE_LEN` bytes at `where[w]`), info hash at `b[ih]`. */
export type DropPeer = (where: Uint8Array, w: number, b: Uint8Array, ih: number) => void;

/** Keys and accounting of one request worker. */
export class SwarmAccounting {
  /** The keys, by index. */
  readonly keys = new KeyTable();
  /** The peers' accounting. */
  readonly accounts = new PeerAccounts();
  /** Peers taken out of swarms because their key was revoked or deleted. */
  dropped = 0;
  #drop: DropPeer;
  #where = new Uint8Array(WHERE_LEN);
  #f64 = new Float64Array(2);
  #f64b = new Uint8Array(this.#f64.buffer);

  /** Accounting that calls `drop` for each peer of a revoked key. */
  constructor(drop: DropPeer) {
    this.#drop = drop;
  }

  /** Applies a key update; the peers of keys now revoked or deleted leave their swarms. */
  update(u: KeyUpdate): void {
    const gone: number[] = [];
    for (let k = 0; k < u.keys.length; k++) {
      const i = u.index[k];
      const was = this.keys.has(i) ? this.keys.state[i] : KeyState.Deleted;
      if (u.state[k] !== KeyState.Active && was === KeyState.Active) gone.push(i);
    }
    this.keys.apply(u);
    for (const i of gone) this.dropped += this.accounts.revoke(i, this.#drop);
  }

  /** `Refusal.KeyRevoked` when the keyed announce at `b[p]` names a key revoked here, else 0. */
  keyRefusal(b: Uint8Array, p: number): number {
    const i = getU32LE(b, p + K_KEY);
    // A key this worker has not heard of yet was checked by the socket worker: let it pass.
    if (!this.keys.has(i)) return 0;
    return this.keys.state[i] === KeyState.Active ? 0 : Refusal.KeyRevoked;
  }

  /** Accounts the keyed announce at `b[p]` at `now`. */
  account(b: Uint8Array, p: number, now: number): void {
    const where = this.#where;
    where[0] = b[p + REC_FAMILY] === 6 ? 6 : 4;
    for (let j = 0; j < 16; j++) where[1 + j] = b[p + A_ADDR + j];
    where[17] = b[p + A_PORT];
    where[18] = b[p + A_PORT + 1];
    for (let j = 0; j < 16; j++) this.#f64b[j] = b[p + K_UPLOADED + j];
    this.accounts.record(
      getU32LE(b, p + K_KEY),
      b,
      p + A_INFO_HASH,
      p + A_PEER_ID,
      this.#f64[0],
      this.#f64[1],
      b[p + A_EVENT],
      (b[p + A_FLAGS] & ANNOUNCE_SEEDER) !== 0,
      now,
      where,
      0,
    );
  }
}
