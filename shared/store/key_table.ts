/**
 * Passkeys as every worker of a private tracker holds them: the main thread loads them from
 * the database and sends them here (`KeyUpdate`), so no request ever waits on the database and
 * a flood of made-up keys costs a hash lookup, nothing more.
 *
 * A key keeps one index for the life of the process (the main thread never reuses one), so an
 * announce record carries the index, not the text, and a key deleted and created again is the
 * same key. Lookups read the key's bytes where they lie (a request's buffer) without making a
 * string.
 *
 * @module
 */

import { randomWords } from "../base/hash.ts";
import { mixHash } from "../base/mix_hash.ts";

/** What a key's check says (0: valid). */
export const KeyCheck = { Valid: 0, Missing: 1, Unknown: 2, Expired: 3, Revoked: 4 } as const;

/** A key's state as it crosses to workers. */
export const KeyState = { Deleted: 0, Active: 1, Revoked: 2 } as const;

/** What the main thread sends workers: keys by index, new or changed. */
export interface KeyUpdate {
  /** The key texts (ASCII), in the order of `index`. */
  keys: string[];
  /** Each key's index. */
  index: Uint32Array;
  /** Each key's expiry, unix seconds (`Infinity`: none). */
  validUntil: Float64Array;
  /** Each key's `KeyState`. */
  state: Uint8Array;
}

/** Most keys a table holds (an index fits 24 bits of a slot). */
export const MAX_KEYS = 0xfffffe;

/** Longest key text. */
export const MAX_KEY_LEN = 64;

/** The keys a worker checks announces against. */
export class KeyTable {
  /** Keys known (any state). */
  size = 0;
  /**
   * Slot → key index + 1 in the low 24 bits and the key's length in the high 8 (0: empty), so
   * a probe reads its length without another array; open addressing, linear probing.
   */
  #slots = new Uint32Array(1024);
  /** Key bytes by index, `MAX_KEY_LEN` each, and their lengths. */
  #bytes = new Uint8Array(0);
  #len = new Uint8Array(0);
  /** Expiry (unix seconds) by index. */
  validUntil: Float64Array = new Float64Array(0);
  /** `KeyState` by index. */
  state: Uint8Array = new Uint8Array(0);
  #seed = randomWords(2);

  /** Applies an update from the main thread. */
  apply(u: KeyUpdate): void {
    const enc = new TextEncoder();
    for (let k = 0; k < u.keys.length; k++) {
      const i = u.index[k];
      if (i >= MAX_KEYS) continue;
      this.#ensure(i + 1);
      if (this.#len[i] === 0) {
        const text = enc.encode(u.keys[k]);
        if (text.length === 0 || text.length > MAX_KEY_LEN) continue;
        this.#bytes.set(text, i * MAX_KEY_LEN);
        this.#len[i] = text.length;
        this.#insert(i);
      }
      this.validUntil[i] = u.validUntil[k];
      this.state[i] = u.state[k];
    }
  }

  /** The index of the key `b[start, end)`, or -1. */
  find(b: Uint8Array, start: number, end: number): number {
    const n = end - start;
    if (n <= 0 || n > MAX_KEY_LEN) return -1;
    const mask = this.#slots.length - 1, bytes = this.#bytes;
    for (let s = this.#hash(b, start, end) & mask;; s = (s + 1) & mask) {
      const v = this.#slots[s];
      if (v === 0) return -1;
      if (v >>> 24 !== n) continue;
      const i = (v & 0xffffff) - 1;
      let j = 0;
      const o = i * MAX_KEY_LEN;
      while (j < n && bytes[o + j] === b[start + j]) j++;
      if (j === n) return i;
    }
  }

  /** Writes key `i`'s bytes to `out[o]`; returns how many (0: no such key). */
  copyKey(i: number, out: Uint8Array, o: number): number {
    if (!this.has(i)) return 0;
    const n = this.#len[i], from = i * MAX_KEY_LEN, bytes = this.#bytes;
    for (let j = 0; j < n; j++) out[o + j] = bytes[from + j];
    return n;
  }

  /** True when key index `i` was ever given to this table. */
  has(i: number): boolean {
    return i >= 0 && i < this.#len.length && this.#len[i] !== 0;
  }

  /**
   * The check of key index `i` (-1: not found) now, or at `nowSeconds` (unix) when given; the
   * clock is read only for a key that expires.
   */
  check(i: number, nowSeconds?: number): number {
    if (i < 0 || i >= this.state.length) return KeyCheck.Unknown;
    const st = this.state[i];
    if (st === KeyState.Deleted) return KeyCheck.Unknown;
    if (st === KeyState.Revoked) return KeyCheck.Revoked;
    const until = this.validUntil[i];
    if (until === Infinity) return KeyCheck.Valid;
    return (nowSeconds ?? Date.now() / 1000) > until ? KeyCheck.Expired : KeyCheck.Valid;
  }

  /** The check of the key `b[start, end)` (as `check`); its index is left in `lastIndex`. */
  checkBytes(b: Uint8Array, start: number, end: number, nowSeconds?: number): number {
    if (end <= start) {
      this.lastIndex = -1;
      return KeyCheck.Missing;
    }
    const i = this.lastIndex = this.find(b, start, end);
    return this.check(i, nowSeconds);
  }

  /** The index the last `checkBytes` found (-1: none). */
  lastIndex = -1;

  #hash(b: Uint8Array, start: number, end: number): number {
    return mixHash(b, start, end - start, this.#seed[0], this.#seed[1]);
  }

  #insert(i: number): void {
    if (++this.size * 2 > this.#slots.length) this.#rehash(this.#slots.length * 2);
    this.#place(i);
  }

  #place(i: number): void {
    const mask = this.#slots.length - 1, o = i * MAX_KEY_LEN;
    let s = this.#hash(this.#bytes, o, o + this.#len[i]) & mask;
    while (this.#slots[s] !== 0) s = (s + 1) & mask;
    this.#slots[s] = ((i + 1) | (this.#len[i] << 24)) >>> 0;
  }

  #rehash(capacity: number): void {
    const old = this.#slots;
    this.#slots = new Uint32Array(capacity);
    for (let s = 0; s < old.length; s++) if (old[s] !== 0) this.#place((old[s] & 0xffffff) - 1);
  }

  #ensure(n: number): void {
    if (n <= this.#len.length) return;
    const cap = Math.max(n, this.#len.length * 2, 256);
    const bytes = new Uint8Array(cap * MAX_KEY_LEN);
    bytes.set(this.#bytes);
    this.#bytes = bytes;
    const len = new Uint8Array(cap);
    len.set(this.#len);
    this.#len = len;
    const vu = new Float64Array(cap);
    vu.set(this.validUntil);
    this.validUntil = vu;
    const st = new Uint8Array(cap);
    st.set(this.state);
    this.state = st;
  }
}
