/**
 * A private tracker's check in front of the core, the same in every socket worker (UDP, HTTP,
 * ws): the request's key (found in its path by `net/key_path.ts`, or in UDP's URL data)
 * against the keys the main thread sent, and the client's peer-id prefix against the allowed
 * ones. No database query, no allocation: a flood of made-up keys costs a lookup each.
 *
 * @module
 */

import { KeyCheck, KeyTable, type KeyUpdate } from "./key_table.ts";

/** Why the gate refused (0: it did not): `KeyCheck`'s reasons, then these. */
export const Gate = { ...KeyCheck, Client: 5, Malformed: 6 } as const;

/** Reasons in metrics, by `Gate` value. */
export const GATE_REASONS = [
  "",
  "missing_key",
  "unknown_key",
  "expired_key",
  "revoked_key",
  "client",
  "malformed",
] as const;

/** What each refusal tells the client (a protocol may say `Missing` its own way). */
export const GATE_TEXT: readonly string[] = [
  "",
  "this tracker is private: announce with the URL that holds your passkey, from the site",
  "unknown passkey: get your announce URL from the site again",
  "passkey expired: get a new announce URL from the site",
  "passkey revoked: get a new announce URL from the site",
  "client not allowed on this tracker",
  "malformed passkey data in the request",
];

/** The keys and allowed clients one socket worker checks against. */
export class PrivateGate {
  /** The keys. */
  readonly keys: KeyTable = new KeyTable();
  /** Refusals so far, by `Gate` value. */
  readonly refused: Float64Array = new Float64Array(GATE_TEXT.length);
  /** The key index of the last request that passed. */
  key = -1;
  #clients: Uint8Array[];

  /** A gate over `keys`, allowing only peer ids that start with one of `clients` (if any). */
  constructor(keys: KeyUpdate, clients: string[]) {
    this.keys.apply(keys);
    const enc = new TextEncoder();
    this.#clients = clients.map((c) => enc.encode(c));
  }

  /**
   * Checks the key at `b[start, end)` (empty: none), and the peer id at `pid[p]` when `pid`
   * is given; returns 0 (its index is in `key`) or a `Gate` reason, counted.
   */
  check(
    b: Uint8Array,
    start: number,
    end: number,
    pid: Uint8Array | null,
    p: number,
  ): number {
    let why: number = this.keys.checkBytes(b, start, end);
    if (why === 0 && pid !== null && !this.clientAllowed(pid, p)) why = Gate.Client;
    if (why !== 0) {
      this.refused[why]++;
      return why;
    }
    this.key = this.keys.lastIndex;
    return 0;
  }

  /** Counts a refusal found before a key was looked at (malformed URL data). */
  refuse(why: number): number {
    this.refused[why]++;
    return why;
  }

  /** True when the peer id at `pid[p]` starts with an allowed prefix, or any is allowed. */
  clientAllowed(pid: Uint8Array, p: number): boolean {
    const cs = this.#clients;
    if (cs.length === 0) return true;
    outer: for (const c of cs) {
      for (let j = 0; j < c.length && j < 20; j++) if (pid[p + j] !== c[j]) continue outer;
      return true;
    }
    return false;
  }
}
