/**
 * The peers of one torrent in one address family, packed as fixed-size records in one
 * `Uint8Array`, so a million peers cost a million records rather than a million objects.
 *
 * Record layout (`ipLen` is 4 or 16):
 *
 * | offset | bytes | field |
 * |---|---|---|
 * | 0 | 20 | peer id |
 * | 20 | ipLen | IP |
 * | 20 + ipLen | 2 | port (big-endian, so IP+port is the compact peer of the response) |
 * | 22 + ipLen | 1 | flags: seeder, sent `completed` |
 * | 24 + ipLen | 4 | last announce, seconds (little-endian) |
 * | 28 + ipLen | 4 | keyed hash of (peer id, IP), for the index |
 *
 * A peer is identified by (peer id, IP), as aquatic does: another host cannot replace or stop
 * it, and a client that changes its port keeps its place. Small lists are scanned; lists over
 * `INDEX_AT` peers also keep an open-addressing index of record numbers.
 *
 * @module
 */

import { getU32LE as get32, setU32LE as set32 } from "../shared/bytes.ts";
import type { HalfSipHash13 } from "../shared/hash.ts";

/** Flag: the peer announced `left = 0`. */
export const FLAG_SEEDER = 1;
/** Flag: the peer has sent a `completed` event (counted once per peer). */
export const FLAG_COMPLETED = 2;

/** Lists longer than this keep a hash index; shorter ones are scanned. */
export const INDEX_AT = 24;

/** Greatest common divisor, for picking strides that visit every record. */
function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Peers of one torrent and one address family. */
export class PeerList {
  /** Number of peers. */
  n = 0;
  /** Number of peers with `left = 0`. */
  seeders = 0;
  /** Record storage; `n` records are in use. */
  data: Uint8Array;
  /** Bytes of IP: 4 or 16. */
  readonly ipLen: number;
  /** Bytes per record. */
  readonly recLen: number;
  /** Bytes of the identifying key (peer id + IP). */
  readonly keyLen: number;
  #index: Int32Array | null = null;
  #hasher: HalfSipHash13;

  /** Creates an empty list for `ipLen`-byte IPs, hashing keys with `hasher`. */
  constructor(ipLen: 4 | 16, hasher: HalfSipHash13, capacity = 2) {
    this.ipLen = ipLen;
    this.recLen = 32 + ipLen;
    this.keyLen = 20 + ipLen;
    this.data = new Uint8Array(capacity * this.recLen);
    this.#hasher = hasher;
  }

  /** Record capacity. */
  get capacity(): number {
    return this.data.length / this.recLen;
  }

  /** Number of leechers. */
  get leechers(): number {
    return this.n - this.seeders;
  }

  /** Flags of record `r`. */
  flags(r: number): number {
    return this.data[r * this.recLen + 22 + this.ipLen];
  }

  /** Last-announce time of record `r`. */
  seen(r: number): number {
    return get32(this.data, r * this.recLen + 24 + this.ipLen);
  }

  /** Record number of the peer whose key (peer id then IP) is at `key[k]`, or -1. */
  find(key: Uint8Array, k: number): number {
    const data = this.data, recLen = this.recLen, keyLen = this.keyLen;
    const index = this.#index;
    if (index === null) {
      for (let r = 0, base = 0; r < this.n; r++, base += recLen) {
        let j = 0;
        while (j < keyLen && data[base + j] === key[k + j]) j++;
        if (j === keyLen) return r;
      }
      return -1;
    }
    const h = this.#hasher.hash(key, k, keyLen);
    const mask = index.length - 1;
    for (let s = h & mask;; s = (s + 1) & mask) {
      const e = index[s];
      if (e === 0) return -1;
      const base = (e - 1) * recLen;
      if (get32(data, base + 28 + this.ipLen) !== h) continue;
      let j = 0;
      while (j < keyLen && data[base + j] === key[k + j]) j++;
      if (j === keyLen) return e - 1;
    }
  }

  /**
   * Adds a peer with the key at `key[k]`, port bytes `portHi`/`portLo`, `flags` and time `now`;
   * returns its record number. The key must not be in the list.
   */
  add(key: Uint8Array, k: number, portHi: number, portLo: number, flags: number, now: number) {
    if (this.n === this.capacity) this.#grow(this.n * 2);
    const r = this.n++;
    const data = this.data, base = r * this.recLen, ipLen = this.ipLen;
    for (let j = 0; j < this.keyLen; j++) data[base + j] = key[k + j];
    data[base + 20 + ipLen] = portHi;
    data[base + 21 + ipLen] = portLo;
    data[base + 22 + ipLen] = flags;
    set32(data, base + 24 + ipLen, now);
    const h = this.#index !== null || this.n > INDEX_AT
      ? this.#hasher.hash(key, k, this.keyLen)
      : 0;
    set32(data, base + 28 + ipLen, h);
    if (flags & FLAG_SEEDER) this.seeders++;
    if (this.#index !== null) this.#indexInsert(r, h);
    else if (this.n > INDEX_AT) this.#buildIndex();
    return r;
  }

  /** Updates record `r` after a repeated announce. */
  update(r: number, portHi: number, portLo: number, flags: number, now: number): void {
    const data = this.data, base = r * this.recLen, ipLen = this.ipLen;
    const was = data[base + 22 + ipLen];
    this.seeders += (flags & FLAG_SEEDER) - (was & FLAG_SEEDER);
    data[base + 20 + ipLen] = portHi;
    data[base + 21 + ipLen] = portLo;
    data[base + 22 + ipLen] = flags;
    set32(data, base + 24 + ipLen, now);
  }

  /** Removes record `r`; the last record takes its place. */
  remove(r: number): void {
    const data = this.data, recLen = this.recLen, ipLen = this.ipLen;
    const base = r * recLen;
    if (data[base + 22 + ipLen] & FLAG_SEEDER) this.seeders--;
    const last = this.n - 1;
    if (this.#index !== null) {
      this.#indexDelete(r, get32(data, base + 28 + ipLen));
      if (r !== last) this.#indexRenumber(last, r, get32(data, last * recLen + 28 + ipLen));
    }
    if (r !== last) data.copyWithin(base, last * recLen, last * recLen + recLen);
    this.n = last;
    if (this.#index !== null && this.n < INDEX_AT / 2) this.#index = null;
  }

  /** Removes peers last seen before `cutoff`; returns how many were removed. */
  removeOlderThan(cutoff: number): number {
    let removed = 0;
    for (let r = this.n - 1; r >= 0; r--) {
      if (this.seen(r) < cutoff) {
        this.remove(r);
        removed++;
      }
    }
    if (this.n * 4 < this.capacity && this.capacity > 4) this.#grow(Math.max(2, this.n * 2));
    return removed;
  }

  /**
   * Writes up to `want` compact peers (IP then port) into `out[o]`, leaving out record `skip`
   * (-1 for none). Picks a random start and a random stride coprime with `n`, so every call
   * returns a different selection when there are more peers than wanted. Returns the count.
   */
  select(out: Uint8Array, o: number, want: number, skip: number): number {
    const n = this.n, data = this.data, recLen = this.recLen;
    const compactLen = this.ipLen + 2;
    const avail = skip >= 0 ? n - 1 : n;
    if (avail <= 0 || want <= 0) return 0;
    let r = 0, stride = 1;
    if (want < avail) {
      r = Math.floor(Math.random() * n);
      stride = 1 + Math.floor(Math.random() * (n - 1));
      while (gcd(stride, n) !== 1) stride++;
    } else {
      want = avail;
    }
    let written = 0;
    while (written < want) {
      if (r !== skip) {
        const src = r * recLen + 20;
        for (let j = 0; j < compactLen; j++) out[o + j] = data[src + j];
        o += compactLen;
        written++;
      }
      r += stride;
      if (r >= n) r -= n;
    }
    return written;
  }

  #grow(capacity: number): void {
    const data = new Uint8Array(capacity * this.recLen);
    data.set(this.data.subarray(0, this.n * this.recLen));
    this.data = data;
    if (this.#index !== null) this.#buildIndex();
  }

  #buildIndex(): void {
    let size = 64;
    while (size < this.capacity * 2) size *= 2;
    this.#index = new Int32Array(size);
    const data = this.data, recLen = this.recLen, ipLen = this.ipLen;
    for (let r = 0; r < this.n; r++) {
      const base = r * recLen;
      const h = this.#hasher.hash(data, base, this.keyLen);
      set32(data, base + 28 + ipLen, h);
      this.#indexInsert(r, h);
    }
  }

  #indexInsert(r: number, h: number): void {
    const index = this.#index!;
    if (index.length < this.capacity * 2) return this.#buildIndex();
    const mask = index.length - 1;
    let s = h & mask;
    while (index[s] !== 0) s = (s + 1) & mask;
    index[s] = r + 1;
  }

  #indexSlot(r: number, h: number): number {
    const index = this.#index!, mask = index.length - 1;
    let s = h & mask;
    while (index[s] !== r + 1) s = (s + 1) & mask;
    return s;
  }

  #indexRenumber(from: number, to: number, h: number): void {
    this.#index![this.#indexSlot(from, h)] = to + 1;
  }

  /** Backward-shift deletion of record `r`'s slot. */
  #indexDelete(r: number, h: number): void {
    const index = this.#index!, mask = index.length - 1;
    const data = this.data, recLen = this.recLen, hashAt = 28 + this.ipLen;
    let hole = this.#indexSlot(r, h);
    for (let j = (hole + 1) & mask;; j = (j + 1) & mask) {
      const e = index[j];
      if (e === 0) break;
      const home = get32(data, (e - 1) * recLen + hashAt) & mask;
      const stays = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (stays) continue;
      index[hole] = e;
      hole = j;
    }
    index[hole] = 0;
  }
}
