/**
 * The peers of every torrent in one address family, as fixed-size records in blocks of an
 * `Arena`, with the per-torrent bookkeeping (block, count, seeders) in typed arrays indexed by
 * torrent id. A million peers cost a million records and no object each.
 *
 * Record layout (`ipLen` is 4 or 16):
 *
 * | offset | bytes | field |
 * |---|---|---|
 * | 0 | ipLen | IP |
 * | ipLen | 2 | port (big-endian: IP and port are the compact peer of a response) |
 * | ipLen + 2 | 20 | peer id |
 * | ipLen + 22 | 1 | flags: seeder, sent `completed` |
 * | ipLen + 24 | 4 | last announce, monotonic seconds (little-endian) |
 * | ipLen + 28 | 4 | keyed hash of (IP, port), for the index |
 *
 * A peer is identified by its address, IP and port, as opentracker and aquatic do: a client
 * that restarts with a new peer id on the same address replaces its old record. (Spoofed
 * sources cannot: UDP connection IDs authenticate the IP.) Small lists are scanned; lists
 * over `INDEX_AT` peers also keep an open-addressing index of record numbers.
 *
 * @module
 */

import { Arena } from "../shared/store/arena.ts";
import { getU32LE as get32, setU32LE as set32 } from "../shared/base/bytes.ts";
import type { HalfSipHash13 } from "../shared/base/hash.ts";

/** Flag: the peer announced `left = 0`. */
export const FLAG_SEEDER = 1;
/** Flag: the peer has sent a `completed` event (counted once per peer). */
export const FLAG_COMPLETED = 2;

/** Lists longer than this keep a hash index; shorter ones are scanned. */
export const INDEX_AT = 24;

/** The peer lists of one address family, by torrent id. */
export class PeerLists {
  /** Bytes of IP: 4 or 16. */
  readonly ipLen: number;
  /** Bytes per record. */
  readonly recLen: number;
  /** Bytes of the identifying key, the compact address (IP + port). */
  readonly keyLen: number;
  /** The records. */
  readonly arena: Arena;
  /** Peers by torrent id. */
  n: Uint32Array;
  /** Seeders by torrent id. */
  seeders: Uint32Array;
  #addr: Uint32Array;
  #cls: Int8Array; // size class of the block, -1 for none
  #idx: Int32Array; // index of the hash index in #indexes, -1 for none
  #indexes: (Int32Array | null)[] = [];
  #freeIndexes: number[] = [];
  #hasher: HalfSipHash13;
  #peerIdAt: number;
  #seenAt: number;
  #flagsAt: number;
  #hashAt: number;

  /** Creates lists for `ipLen`-byte IPs and `ids` torrent ids, hashing keys with `hasher`. */
  constructor(ipLen: 4 | 16, hasher: HalfSipHash13, ids: number) {
    this.ipLen = ipLen;
    this.recLen = 32 + ipLen;
    this.keyLen = 2 + ipLen;
    this.#peerIdAt = 2 + ipLen;
    this.#flagsAt = 22 + ipLen;
    this.#seenAt = 24 + ipLen;
    this.#hashAt = 28 + ipLen;
    this.arena = new Arena(this.recLen);
    this.#hasher = hasher;
    this.n = new Uint32Array(ids);
    this.seeders = new Uint32Array(ids);
    this.#addr = new Uint32Array(ids);
    this.#cls = new Int8Array(ids).fill(-1);
    this.#idx = new Int32Array(ids).fill(-1);
  }

  /** Follows the torrent table when its id space grows. */
  grow(ids: number): void {
    const grow32 = (a: Uint32Array) => {
      const b = new Uint32Array(ids);
      b.set(a);
      return b;
    };
    this.n = grow32(this.n);
    this.seeders = grow32(this.seeders);
    this.#addr = grow32(this.#addr);
    const cls = new Int8Array(ids).fill(-1);
    cls.set(this.#cls);
    this.#cls = cls;
    const idx = new Int32Array(ids).fill(-1);
    idx.set(this.#idx);
    this.#idx = idx;
  }

  /** Flags of record `r` of torrent `id`. */
  flags(id: number, r: number): number {
    const a = this.#addr[id];
    return this.arena.chunk(a)[this.arena.offset(a) + r * this.recLen + this.#flagsAt];
  }

  /** Last-announce time of record `r` of torrent `id`. */
  seen(id: number, r: number): number {
    const a = this.#addr[id];
    return get32(this.arena.chunk(a), this.arena.offset(a) + r * this.recLen + this.#seenAt);
  }

  /** Copies the address (IP, port) and peer id of record `r` of torrent `id` to `out[o]`. */
  copyOut(id: number, r: number, out: Uint8Array, o: number): void {
    const a = this.#addr[id];
    const at = this.arena.offset(a) + r * this.recLen;
    out.set(this.arena.chunk(a).subarray(at, at + this.#peerIdAt + 20), o);
  }

  /** The first 8 bytes of the peer id of record `r` of torrent `id`, as a string. */
  peerIdPrefix(id: number, r: number): string {
    const a = this.#addr[id], data = this.arena.chunk(a);
    const at = this.arena.offset(a) + r * this.recLen + this.#peerIdAt;
    return String.fromCharCode(
      data[at],
      data[at + 1],
      data[at + 2],
      data[at + 3],
      data[at + 4],
      data[at + 5],
      data[at + 6],
      data[at + 7],
    );
  }

  /** Record number of the peer whose address (IP then port) is at `key[k]`, or -1. */
  find(id: number, key: Uint8Array, k: number): number {
    const n = this.n[id];
    if (n === 0) return -1;
    const a = this.#addr[id];
    const data = this.arena.chunk(a), base = this.arena.offset(a);
    const recLen = this.recLen, keyLen = this.keyLen;
    const ix = this.#idx[id];
    if (ix < 0) {
      for (let r = 0, at = base; r < n; r++, at += recLen) {
        let j = 0;
        while (j < keyLen && data[at + j] === key[k + j]) j++;
        if (j === keyLen) return r;
      }
      return -1;
    }
    const index = this.#indexes[ix]!, mask = index.length - 1;
    const h = this.#hasher.hash(key, k, keyLen);
    for (let s = h & mask;; s = (s + 1) & mask) {
      const e = index[s];
      if (e === 0) return -1;
      const at = base + (e - 1) * recLen;
      if (get32(data, at + this.#hashAt) !== h) continue;
      let j = 0;
      while (j < keyLen && data[at + j] === key[k + j]) j++;
      if (j === keyLen) return e - 1;
    }
  }

  /**
   * Adds a peer with the address (IP, port) at `key[k]`, the peer id at `pid[p]`, `flags` and
   * time `now` to torrent `id`; returns its record number, or -1 when the list cannot grow
   * (its largest block is full).
   */
  add(
    id: number,
    key: Uint8Array,
    k: number,
    pid: Uint8Array,
    p: number,
    flags: number,
    now: number,
  ): number {
    const r = this.n[id];
    if (this.#cls[id] < 0 || r === this.arena.capacities[this.#cls[id]]) {
      if (!this.#resize(id, r + 1)) return -1;
    }
    const a = this.#addr[id];
    const data = this.arena.chunk(a), at = this.arena.offset(a) + r * this.recLen;
    for (let j = 0; j < this.keyLen; j++) data[at + j] = key[k + j];
    const pidAt = at + this.#peerIdAt;
    for (let j = 0; j < 20; j++) data[pidAt + j] = pid[p + j];
    data[at + this.#flagsAt] = flags;
    set32(data, at + this.#seenAt, now);
    this.n[id] = r + 1;
    if (flags & FLAG_SEEDER) this.seeders[id]++;
    const ix = this.#idx[id];
    if (ix >= 0) {
      const h = this.#hasher.hash(key, k, this.keyLen);
      set32(data, at + this.#hashAt, h);
      this.#indexInsert(this.#indexes[ix]!, h, r);
    } else if (r + 1 > INDEX_AT) {
      this.#buildIndex(id);
    }
    return r;
  }

  /**
   * Updates record `r` of torrent `id` after a repeated announce: the peer id at `pid[p]` (a
   * client that restarted has a new one), `flags` and time `now`.
   */
  update(id: number, r: number, pid: Uint8Array, p: number, flags: number, now: number): void {
    const a = this.#addr[id];
    const data = this.arena.chunk(a), at = this.arena.offset(a) + r * this.recLen;
    const was = data[at + this.#flagsAt];
    this.seeders[id] += (flags & FLAG_SEEDER) - (was & FLAG_SEEDER);
    const pidAt = at + this.#peerIdAt;
    for (let j = 0; j < 20; j++) data[pidAt + j] = pid[p + j];
    data[at + this.#flagsAt] = flags;
    set32(data, at + this.#seenAt, now);
  }

  /** Removes record `r` of torrent `id`; the last record takes its place. */
  remove(id: number, r: number): void {
    const a = this.#addr[id], recLen = this.recLen;
    const data = this.arena.chunk(a), base = this.arena.offset(a), at = base + r * recLen;
    if (data[at + this.#flagsAt] & FLAG_SEEDER) this.seeders[id]--;
    const last = this.n[id] - 1;
    const ix = this.#idx[id];
    if (ix >= 0) {
      const index = this.#indexes[ix]!;
      this.#indexDelete(index, data, base, r);
      if (r !== last) {
        index[this.#indexSlot(index, get32(data, base + last * recLen + this.#hashAt), last)] = r +
          1;
      }
    }
    if (r !== last) data.copyWithin(at, base + last * recLen, base + last * recLen + recLen);
    this.n[id] = last;
    if (ix >= 0 && last < INDEX_AT / 2) this.#dropIndex(id);
  }

  /** Removes peers of torrent `id` last seen before `cutoff`; returns how many. */
  removeOlderThan(id: number, cutoff: number): number {
    let removed = 0;
    for (let r = this.n[id] - 1; r >= 0; r--) {
      if (this.seen(id, r) < cutoff) {
        this.remove(id, r);
        removed++;
      }
    }
    const n = this.n[id], c = this.#cls[id];
    if (n === 0) this.release(id);
    else if (c > 0 && n * 4 < this.arena.capacities[c]) this.#resize(id, n * 2);
    return removed;
  }

  /** Frees the block and index of torrent `id` (its list must be empty or be dropped). */
  release(id: number): void {
    if (this.#cls[id] >= 0) this.arena.free(this.#addr[id], this.#cls[id]);
    this.#cls[id] = -1;
    this.n[id] = 0;
    this.seeders[id] = 0;
    if (this.#idx[id] >= 0) this.#dropIndex(id);
  }

  /**
   * Writes up to `want` compact peers (IP then port) of torrent `id` into `out[o]`, leaving
   * out record `skip` (-1 for none), and with `ids` each one's 20-byte peer id there from `io`.
   * Takes a run of neighbouring records from a random start, so calls return different
   * selections when there are more peers than wanted (records move as peers leave, so runs
   * mix over time). Returns how many it wrote.
   */
  select(
    id: number,
    out: Uint8Array,
    o: number,
    want: number,
    skip: number,
    ids: Uint8Array | null = null,
    io = 0,
  ): number {
    const n = this.n[id];
    const avail = skip >= 0 ? n - 1 : n;
    if (avail <= 0 || want <= 0) return 0;
    const a = this.#addr[id];
    const data = this.arena.chunk(a), base = this.arena.offset(a);
    const recLen = this.recLen, compactLen = this.keyLen;
    // A run of neighbouring records from a random start (wrapping), as opentracker and
    // aquatic take them: the records are read in order, not one cache miss each.
    let r = 0;
    if (want < avail) r = Math.floor(Math.random() * n);
    else want = avail;
    let src = base + r * recLen;
    const end = base + n * recLen, skipAt = skip >= 0 ? base + skip * recLen : -1;
    for (let written = 0; written < want;) {
      if (src !== skipAt) {
        for (let j = 0; j < compactLen; j++) out[o + j] = data[src + j];
        o += compactLen;
        if (ids !== null) {
          const pid = src + this.#peerIdAt;
          for (let j = 0; j < 20; j++) ids[io + j] = data[pid + j];
          io += 20;
        }
        written++;
      }
      src += recLen;
      if (src === end) src = base;
    }
    return want;
  }

  /** Moves the list of `id` into the smallest class holding `units`; false if none does. */
  #resize(id: number, units: number): boolean {
    const c = this.arena.classFor(units);
    if (c < 0) return false;
    const old = this.#cls[id];
    if (c === old) return true;
    const addr = this.arena.alloc(c);
    if (addr < 0) return false;
    if (old >= 0) {
      const from = this.#addr[id];
      const src = this.arena.chunk(from), s = this.arena.offset(from);
      this.arena.chunk(addr).set(
        src.subarray(s, s + this.n[id] * this.recLen),
        this.arena.offset(addr),
      );
      this.arena.free(from, old);
    }
    this.#addr[id] = addr;
    this.#cls[id] = c;
    if (this.#idx[id] >= 0) this.#buildIndex(id);
    return true;
  }

  #buildIndex(id: number): void {
    const cap = this.arena.capacities[this.#cls[id]];
    let size = 64;
    while (size < cap * 2) size *= 2;
    let ix = this.#idx[id];
    if (ix < 0) {
      ix = this.#freeIndexes.length > 0 ? this.#freeIndexes.pop()! : this.#indexes.length;
      this.#idx[id] = ix;
    }
    const index = new Int32Array(size);
    this.#indexes[ix] = index;
    const a = this.#addr[id];
    const data = this.arena.chunk(a), base = this.arena.offset(a);
    for (let r = 0; r < this.n[id]; r++) {
      const at = base + r * this.recLen;
      const h = this.#hasher.hash(data, at, this.keyLen);
      set32(data, at + this.#hashAt, h);
      this.#indexInsert(index, h, r);
    }
  }

  #dropIndex(id: number): void {
    const ix = this.#idx[id];
    this.#indexes[ix] = null;
    this.#freeIndexes.push(ix);
    this.#idx[id] = -1;
  }

  #indexInsert(index: Int32Array, h: number, r: number): void {
    const mask = index.length - 1;
    let s = h & mask;
    while (index[s] !== 0) s = (s + 1) & mask;
    index[s] = r + 1;
  }

  #indexSlot(index: Int32Array, h: number, r: number): number {
    const mask = index.length - 1;
    let s = h & mask;
    while (index[s] !== r + 1) s = (s + 1) & mask;
    return s;
  }

  /** Backward-shift deletion of record `r`'s slot. */
  #indexDelete(index: Int32Array, data: Uint8Array, base: number, r: number): void {
    const mask = index.length - 1, recLen = this.recLen, hashAt = this.#hashAt;
    let hole = this.#indexSlot(index, get32(data, base + r * recLen + hashAt), r);
    for (let j = (hole + 1) & mask;; j = (j + 1) & mask) {
      const e = index[j];
      if (e === 0) break;
      const home = get32(data, base + (e - 1) * recLen + hashAt) & mask;
      const stays = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (stays) continue;
      index[hole] = e;
      hole = j;
    }
    index[hole] = 0;
  }
}
