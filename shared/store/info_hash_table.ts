/**
 * Info hashes as dense ids: a hash index from 20-byte info hashes to ids (open addressing,
 * linear probing, backward-shift deletion), and the info hash and completed count of each id
 * in typed arrays. The UDP swarms use it for their torrents (no object per torrent; the peer
 * lists of an id live in `PeerLists`), the access list as a set. Hashes are keyed so that
 * chosen info hashes cannot pile up.
 *
 * @module
 */

import { HalfSipHash13 } from "../base/hash.ts";

const MIN_SLOTS = 16;

/** Info hash → dense id. */
export class InfoHashTable {
  /** Torrents held. */
  size = 0;
  /** Completed downloads by id. */
  completed: Uint32Array;
  #hasher: HalfSipHash13;
  /** Slot `s` is `#slots[2s]`, id + 1 (0 for empty), beside `#slots[2s + 1]`, its hash. */
  #slots: Uint32Array;
  #keys: Uint8Array; // 20 bytes by id
  #live: Uint8Array; // 1 for a live id
  #freeIds: number[] = [];
  #nextId = 0;
  #onGrow: (ids: number) => void;

  /**
   * Creates an empty table keyed by `k0`, `k1`; `onGrow(ids)` is called when the id space
   * grows, so that per-id arrays elsewhere can follow.
   */
  constructor(k0: number, k1: number, onGrow: (ids: number) => void) {
    this.#hasher = new HalfSipHash13(k0, k1);
    this.#slots = new Uint32Array(2 * MIN_SLOTS);
    this.#keys = new Uint8Array(MIN_SLOTS * 20);
    this.completed = new Uint32Array(MIN_SLOTS);
    this.#live = new Uint8Array(MIN_SLOTS);
    this.#onGrow = onGrow;
  }

  /** Size of the id space: every id is below this. */
  get idCapacity(): number {
    return this.completed.length;
  }

  /** Ids ever handed out (ids below this may be live or free). */
  get idLimit(): number {
    return this.#nextId;
  }

  #sameKey(id: number, b: Uint8Array, off: number): boolean {
    const keys = this.#keys, base = id * 20;
    for (let i = 0; i < 20; i++) if (keys[base + i] !== b[off + i]) return false;
    return true;
  }

  /** The id of the info hash at `b[off]`, or -1. */
  find(b: Uint8Array, off: number): number {
    const h = this.#hasher.hash(b, off, 20);
    const slots = this.#slots, mask = (slots.length >> 1) - 1;
    for (let s = h & mask;; s = (s + 1) & mask) {
      const e = slots[2 * s];
      if (e === 0) return -1;
      if (slots[2 * s + 1] === h && this.#sameKey(e - 1, b, off)) return e - 1;
    }
  }

  /** Adds the info hash at `b[off]` (not present); returns its new id. */
  insert(b: Uint8Array, off: number): number {
    const count = this.#slots.length >> 1;
    if ((this.size + 1) * 2 > count) this.#rehash(2 * count);
    let id: number;
    if (this.#freeIds.length > 0) {
      id = this.#freeIds.pop()!;
    } else {
      id = this.#nextId++;
      if (id >= this.completed.length) this.#growIds(this.completed.length * 2);
    }
    const keys = this.#keys, base = id * 20;
    for (let i = 0; i < 20; i++) keys[base + i] = b[off + i];
    this.completed[id] = 0;
    this.#live[id] = 1;
    this.#place(this.#hasher.hash(b, off, 20), id);
    this.size++;
    return id;
  }

  #place(h: number, id: number): void {
    const slots = this.#slots, mask = (slots.length >> 1) - 1;
    let s = h & mask;
    while (slots[2 * s] !== 0) s = (s + 1) & mask;
    slots[2 * s] = id + 1;
    slots[2 * s + 1] = h;
  }

  /** Removes torrent `id`; its id may be handed out again. */
  remove(id: number): void {
    const slots = this.#slots, mask = (slots.length >> 1) - 1;
    let hole = this.#hasher.hash(this.#keys, id * 20, 20) & mask;
    while (slots[2 * hole] !== id + 1) hole = (hole + 1) & mask;
    for (let j = (hole + 1) & mask;; j = (j + 1) & mask) {
      if (slots[2 * j] === 0) break;
      const home = slots[2 * j + 1] & mask;
      // Move j into the hole unless its home lies cyclically in (hole, j].
      const stays = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (stays) continue;
      slots[2 * hole] = slots[2 * j];
      slots[2 * hole + 1] = slots[2 * j + 1];
      hole = j;
    }
    slots[2 * hole] = 0;
    this.#live[id] = 0;
    this.#freeIds.push(id);
    this.size--;
  }

  /** True when `id` is live (ids below `idLimit` may be free). */
  isLive(id: number): boolean {
    return this.#live[id] === 1;
  }

  /** Copies the info hash of `id` into `out[off]`. */
  keyOf(id: number, out: Uint8Array, off: number): void {
    const keys = this.#keys, base = id * 20;
    for (let i = 0; i < 20; i++) out[off + i] = keys[base + i];
  }

  /** Shrinks the hash index after a cleaning pass left it mostly empty. */
  compact(): void {
    let want = MIN_SLOTS;
    while (want < this.size * 4) want *= 2;
    if (want < this.#slots.length / 4) this.#rehash(want);
  }

  #rehash(n: number): void {
    const old = this.#slots;
    this.#slots = new Uint32Array(2 * n);
    for (let s = 0; s < old.length; s += 2) if (old[s] !== 0) this.#place(old[s + 1], old[s] - 1);
  }

  #growIds(n: number): void {
    const keys = new Uint8Array(n * 20);
    keys.set(this.#keys);
    this.#keys = keys;
    const completed = new Uint32Array(n);
    completed.set(this.completed);
    this.completed = completed;
    const live = new Uint8Array(n);
    live.set(this.#live);
    this.#live = live;
    this.#onGrow(n);
  }
}
