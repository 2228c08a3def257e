/**
 * The peers of every torrent in one address family, in blocks of an `Arena`, with the
 * per-torrent bookkeeping (block, count, seeders) in typed arrays indexed by torrent id. A
 * million peers cost a million records and no object each.
 *
 * A block of capacity `C` holds two arrays, in the same order: first `C` compact addresses (IP
 * then big-endian port, `ipLen + 2` bytes: exactly a compact peer of a response), then `C`
 * records of the rest:
 *
 * | offset | bytes | field |
 * |---|---|---|
 * | 0 | 20 | peer id |
 * | 20 | 1 | flags: seeder, sent `completed` |
 * | 22 | 4 | last announce, monotonic seconds (little-endian) |
 *
 * So a selection of neighbouring peers is one run of bytes (a 50-peer IPv4 answer reads five
 * cache lines, not fifty records), and a scan or index probe compares dense addresses.
 *
 * A peer is identified by its address, IP and port, as opentracker and aquatic do: a client
 * that restarts with a new peer id on the same address replaces its old record. (Spoofed
 * sources cannot: UDP connection IDs authenticate the IP.) Small lists are scanned; lists
 * over `INDEX_AT` peers also keep an open-addressing index of record numbers, keyed by a hash
 * of the address (recomputed when needed, not stored).
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

/** Bytes of a peer's record after its address: peer id, flags, a spare byte, last announce. */
const REST_LEN = 26;
const FLAGS_AT = 20;
const SEEN_AT = 22;

/** The peer lists of one address family, by torrent id. */
export class PeerLists {
  /** Bytes of IP: 4 or 16. */
  readonly ipLen: number;
  /** Bytes per peer: address and record. */
  readonly recLen: number;
  /** Bytes of the identifying key, the compact address (IP + port). */
  readonly keyLen: number;
  /** The blocks. */
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

  /** Creates lists for `ipLen`-byte IPs and `ids` torrent ids, hashing keys with `hasher`. */
  constructor(ipLen: 4 | 16, hasher: HalfSipHash13, ids: number) {
    this.ipLen = ipLen;
    this.keyLen = 2 + ipLen;
    this.recLen = this.keyLen + REST_LEN;
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

  /** Where the records of torrent `id` start in its chunk (after its block's addresses). */
  #rest(id: number, base: number): number {
    return base + this.arena.capacities[this.#cls[id]] * this.keyLen;
  }

  /** Flags of record `r` of torrent `id`. */
  flags(id: number, r: number): number {
    const a = this.#addr[id];
    const rest = this.#rest(id, this.arena.offset(a));
    return this.arena.chunk(a)[rest + r * REST_LEN + FLAGS_AT];
  }

  /** Last-announce time of record `r` of torrent `id`. */
  seen(id: number, r: number): number {
    const a = this.#addr[id];
    const rest = this.#rest(id, this.arena.offset(a));
    return get32(this.arena.chunk(a), rest + r * REST_LEN + SEEN_AT);
  }

  /** Copies the address (IP, port) and peer id of record `r` of torrent `id` to `out[o]`. */
  copyOut(id: number, r: number, out: Uint8Array, o: number): void {
    const a = this.#addr[id], data = this.arena.chunk(a), base = this.arena.offset(a);
    const k = this.keyLen, at = base + r * k, pid = this.#rest(id, base) + r * REST_LEN;
    out.set(data.subarray(at, at + k), o);
    out.set(data.subarray(pid, pid + 20), o + k);
  }

  /** The first 8 bytes of the peer id of record `r` of torrent `id`, as a string. */
  peerIdPrefix(id: number, r: number): string {
    const a = this.#addr[id], data = this.arena.chunk(a);
    const at = this.#rest(id, this.arena.offset(a)) + r * REST_LEN;
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
    const keyLen = this.keyLen;
    const ix = this.#idx[id];
    if (ix < 0) {
      for (let r = 0, at = base; r < n; r++, at += keyLen) {
        let j = keyLen - 1;
        while (j >= 0 && data[at + j] === key[k + j]) j--;
        if (j < 0) return r;
      }
      return -1;
    }
    const index = this.#indexes[ix]!, mask = index.length - 1;
    for (let s = this.#hasher.hash(key, k, keyLen) & mask;; s = (s + 1) & mask) {
      const e = index[s];
      if (e === 0) return -1;
      const at = base + (e - 1) * keyLen;
      let j = keyLen - 1;
      while (j >= 0 && data[at + j] === key[k + j]) j--;
      if (j < 0) return e - 1;
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
    const a = this.#addr[id], keyLen = this.keyLen;
    const data = this.arena.chunk(a), base = this.arena.offset(a), at = base + r * keyLen;
    for (let j = 0; j < keyLen; j++) data[at + j] = key[k + j];
    const rec = this.#rest(id, base) + r * REST_LEN;
    for (let j = 0; j < 20; j++) data[rec + j] = pid[p + j];
    data[rec + FLAGS_AT] = flags;
    set32(data, rec + SEEN_AT, now);
    this.n[id] = r + 1;
    if (flags & FLAG_SEEDER) this.seeders[id]++;
    const ix = this.#idx[id];
    if (ix >= 0) {
      this.#indexInsert(this.#indexes[ix]!, this.#hasher.hash(key, k, keyLen), r);
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
    const data = this.arena.chunk(a), rec = this.#rest(id, this.arena.offset(a)) + r * REST_LEN;
    const was = data[rec + FLAGS_AT];
    this.seeders[id] += (flags & FLAG_SEEDER) - (was & FLAG_SEEDER);
    for (let j = 0; j < 20; j++) data[rec + j] = pid[p + j];
    data[rec + FLAGS_AT] = flags;
    set32(data, rec + SEEN_AT, now);
  }

  /** Removes record `r` of torrent `id`; the last peer takes its place. */
  remove(id: number, r: number): void {
    const a = this.#addr[id], keyLen = this.keyLen;
    const data = this.arena.chunk(a), base = this.arena.offset(a), rest = this.#rest(id, base);
    if (data[rest + r * REST_LEN + FLAGS_AT] & FLAG_SEEDER) this.seeders[id]--;
    const last = this.n[id] - 1;
    const ix = this.#idx[id];
    if (ix >= 0) {
      const index = this.#indexes[ix]!;
      this.#indexDelete(index, data, base, r);
      if (r !== last) index[this.#indexSlot(index, this.#keyHash(data, base, last), last)] = r + 1;
    }
    if (r !== last) {
      data.copyWithin(base + r * keyLen, base + last * keyLen, base + last * keyLen + keyLen);
      const from = rest + last * REST_LEN;
      data.copyWithin(rest + r * REST_LEN, from, from + REST_LEN);
    }
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
   * Takes a run of neighbouring peers from a random start, so calls return different
   * selections when there are more peers than wanted (peers move as others leave, so runs
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
    const data = this.arena.chunk(a), base = this.arena.offset(a), keyLen = this.keyLen;
    // A run of neighbouring peers from a random start (wrapping), as opentracker and aquatic
    // take them: in this layout, one or two runs of address bytes. (Copied in a loop: a native
    // `set` needs a `subarray` object per run, and an announce allocates nothing.)
    let r = 0;
    if (want < avail) r = Math.floor(Math.random() * n);
    else want = avail;
    const rest = ids !== null ? this.#rest(id, base) : 0;
    for (let written = 0; written < want;) {
      if (r >= n) r = 0;
      if (r === skip) {
        r++;
        continue;
      }
      // Up to the end of the list, the skipped peer, or enough.
      const stop = skip > r ? skip : n;
      const take = Math.min(want - written, stop - r);
      const from = base + r * keyLen, bytes = take * keyLen;
      for (let j = 0; j < bytes; j++) out[o + j] = data[from + j];
      o += bytes;
      if (ids !== null) {
        for (let t = 0; t < take; t++, io += 20) {
          const pid = rest + (r + t) * REST_LEN;
          for (let j = 0; j < 20; j++) ids[io + j] = data[pid + j];
        }
      }
      written += take;
      r += take;
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
      // The addresses, then the records, each to its place in the new block.
      const from = this.#addr[id], caps = this.arena.capacities, n = this.n[id], k = this.keyLen;
      const src = this.arena.chunk(from), s = this.arena.offset(from);
      const dst = this.arena.chunk(addr), d = this.arena.offset(addr);
      dst.set(src.subarray(s, s + n * k), d);
      const sr = s + caps[old] * k;
      dst.set(src.subarray(sr, sr + n * REST_LEN), d + caps[c] * k);
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
    for (let r = 0; r < this.n[id]; r++) this.#indexInsert(index, this.#keyHash(data, base, r), r);
  }

  /** The index hash of the address of record `r` in the block at `data[base]`. */
  #keyHash(data: Uint8Array, base: number, r: number): number {
    return this.#hasher.hash(data, base + r * this.keyLen, this.keyLen);
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
    const mask = index.length - 1;
    let hole = this.#indexSlot(index, this.#keyHash(data, base, r), r);
    for (let j = (hole + 1) & mask;; j = (j + 1) & mask) {
      const e = index[j];
      if (e === 0) break;
      const home = this.#keyHash(data, base, e - 1) & mask;
      const stays = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (stays) continue;
      index[hole] = e;
      hole = j;
    }
    index[hole] = 0;
  }
}
