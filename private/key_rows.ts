/**
 * The keys as the main thread holds them: every key the database had since the start, each
 * with the index it keeps for the life of the process (workers know keys by index), its user,
 * expiry, state and totals (what is not yet written included). A key the site deleted keeps
 * its index, marked deleted, so that it is the same key if it comes back.
 *
 * @module
 */

import { KeyState, type KeyUpdate } from "../shared/store/key_table.ts";
import type { KeyRow } from "./db.ts";

/** Keys by index and by text, and users' keys. */
export class KeyRows {
  /** Rows by index. */
  readonly rows: KeyRow[] = [];
  /** Whether each index's key was deleted from the database. */
  readonly deleted: boolean[] = [];
  #index = new Map<string, number>();
  #byUser = new Map<string, Set<number>>();
  /** Each index's place in the keys' byte order; null until asked for after a new key. */
  #rank: Uint32Array | null = null;

  /** Keys known, revoked included, deleted not. */
  get count(): number {
    return this.rows.length - this.deleted.filter((d) => d).length;
  }

  /** The index of `key` (deleted or not), or undefined. */
  indexOf(key: string): number | undefined {
    return this.#index.get(key);
  }

  /** The row of `key` when it is live (not deleted), else null. */
  live(key: string): KeyRow | null {
    const i = this.#index.get(key);
    return i === undefined || this.deleted[i] ? null : this.rows[i];
  }

  /** The live rows of `user`'s keys. */
  ofUser(user: string): KeyRow[] {
    return [...this.#byUser.get(user) ?? []].filter((i) => !this.deleted[i]).map((i) =>
      this.rows[i]
    );
  }

  /** Puts `row` in place (a new key, or one that was deleted); returns its index. */
  put(row: KeyRow): number {
    let i = this.#index.get(row.key);
    if (i === undefined) {
      i = this.rows.length;
      this.#rank = null;
      this.#index.set(row.key, i);
      this.rows.push(row);
      this.deleted.push(false);
    } else {
      this.#byUser.get(this.rows[i].user)?.delete(i);
      this.rows[i] = row;
      this.deleted[i] = false;
    }
    this.#userOf(row.user).add(i);
    return i;
  }

  /**
   * Each key index's place when the keys are sorted as the database's primary key sorts them
   * (bytes; keys are ASCII, so UTF-16 order is the same). Writes go in this order: SQLite then
   * meets its B-tree pages one after another instead of at random (measured in
   * bench/results/2026-12-07.md). Made once after keys are added, not per write.
   */
  rank(): Uint32Array {
    if (this.#rank !== null && this.#rank.length === this.rows.length) return this.#rank;
    const order = this.rows.map((_, i) => i);
    const rows = this.rows;
    order.sort((a, b) => rows[a].key < rows[b].key ? -1 : rows[a].key > rows[b].key ? 1 : 0);
    const rank = new Uint32Array(rows.length);
    for (let k = 0; k < order.length; k++) rank[order[k]] = k;
    return this.#rank = rank;
  }

  /**
   * Makes these keys the database's `rows`: new keys added (with their totals), changed users,
   * expiry and revocations taken, keys gone marked deleted. Totals of known keys are kept (they
   * include what is not yet written). Returns the indices that changed.
   */
  sync(rows: KeyRow[]): number[] {
    const changed: number[] = [];
    const seen = new Set<number>();
    for (const r of rows) {
      let i = this.#index.get(r.key);
      if (i === undefined) {
        i = this.put(r);
        changed.push(i);
      } else {
        const m = this.rows[i];
        if (
          this.deleted[i] || m.user !== r.user || m.validUntil !== r.validUntil ||
          m.revoked !== r.revoked
        ) {
          if (m.user !== r.user) {
            this.#byUser.get(m.user)?.delete(i);
            this.#userOf(r.user).add(i);
            m.user = r.user;
          }
          m.validUntil = r.validUntil;
          m.revoked = r.revoked;
          this.deleted[i] = false;
          changed.push(i);
        }
      }
      seen.add(i);
    }
    for (let i = 0; i < this.rows.length; i++) {
      if (!seen.has(i) && !this.deleted[i]) {
        this.deleted[i] = true;
        changed.push(i);
      }
    }
    return changed;
  }

  /** The keys at `indices` as they cross to workers. */
  update(indices: number[]): KeyUpdate {
    const n = indices.length;
    const u: KeyUpdate = {
      keys: new Array(n),
      index: new Uint32Array(n),
      validUntil: new Float64Array(n),
      state: new Uint8Array(n),
    };
    for (let k = 0; k < n; k++) {
      const i = indices[k], r = this.rows[i];
      u.keys[k] = r.key;
      u.index[k] = i;
      u.validUntil[k] = r.validUntil ?? Infinity;
      u.state[k] = this.deleted[i]
        ? KeyState.Deleted
        : r.revoked
        ? KeyState.Revoked
        : KeyState.Active;
    }
    return u;
  }

  /** Every key as it crosses to workers. */
  all(): KeyUpdate {
    return this.update(this.rows.map((_, i) => i));
  }

  #userOf(user: string): Set<number> {
    let s = this.#byUser.get(user);
    if (s === undefined) this.#byUser.set(user, s = new Set());
    return s;
  }
}
