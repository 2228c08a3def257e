/**
 * A hash map from fixed-length byte keys (info hashes) to values, without a string or an
 * object per key: keys live in one `Uint8Array`, hashes in a `Uint32Array`, values in one
 * array. Open addressing with linear probing and backward-shift deletion (no tombstones).
 * Hashes are keyed (HalfSipHash-1-3 with a random key) so that chosen keys cannot pile up.
 *
 * @module
 */

import { HalfSipHash13 } from "./hash.ts";

const MIN_CAPACITY = 16;

/** Map from `keyLen`-byte keys to values of type `V`. */
export class ByteMap<V> {
  /** Number of entries. */
  size = 0;
  readonly #keyLen: number;
  readonly #hasher: HalfSipHash13;
  #mask: number;
  #hashes: Uint32Array;
  #keys: Uint8Array;
  #values: (V | undefined)[];

  /** Creates an empty map for keys of `keyLen` bytes; `k0`, `k1` key the hash. */
  constructor(keyLen: number, k0: number, k1: number, capacity = MIN_CAPACITY) {
    this.#keyLen = keyLen;
    this.#hasher = new HalfSipHash13(k0, k1);
    const cap = pow2AtLeast(capacity);
    this.#mask = cap - 1;
    this.#hashes = new Uint32Array(cap);
    this.#keys = new Uint8Array(cap * keyLen);
    this.#values = new Array(cap).fill(undefined);
  }

  /** Number of slots; `valueAt(i)` for `i` below this walks every entry. */
  get capacity(): number {
    return this.#mask + 1;
  }

  /** The value in slot `i`, or undefined for an empty slot. */
  valueAt(i: number): V | undefined {
    return this.#values[i];
  }

  /** The hash of the key at `b[off]`. */
  hashOf(b: Uint8Array, off: number): number {
    return this.#hasher.hash(b, off, this.#keyLen);
  }

  #sameKey(slot: number, b: Uint8Array, off: number): boolean {
    const keys = this.#keys, n = this.#keyLen;
    const base = slot * n;
    for (let i = 0; i < n; i++) if (keys[base + i] !== b[off + i]) return false;
    return true;
  }

  /** The value for the key at `b[off]`, or undefined. */
  get(b: Uint8Array, off: number): V | undefined {
    const h = this.hashOf(b, off);
    const values = this.#values, hashes = this.#hashes, mask = this.#mask;
    for (let i = h & mask;; i = (i + 1) & mask) {
      const v = values[i];
      if (v === undefined) return undefined;
      if (hashes[i] === h && this.#sameKey(i, b, off)) return v;
    }
  }

  /** Inserts `value` for the key at `b[off]`, which must not be in the map. */
  insert(b: Uint8Array, off: number, value: V): void {
    if ((this.size + 1) * 2 > this.capacity) this.#resize(this.capacity * 2);
    this.#place(this.hashOf(b, off), b, off, value);
    this.size++;
  }

  #place(h: number, b: Uint8Array, off: number, value: V): void {
    const values = this.#values, mask = this.#mask, n = this.#keyLen;
    let i = h & mask;
    while (values[i] !== undefined) i = (i + 1) & mask;
    values[i] = value;
    this.#hashes[i] = h;
    const keys = this.#keys, base = i * n;
    for (let j = 0; j < n; j++) keys[base + j] = b[off + j];
  }

  /** Copies the key of slot `i` into `out[off]`. */
  keyAt(i: number, out: Uint8Array, off: number): void {
    const keys = this.#keys, n = this.#keyLen, base = i * n;
    for (let j = 0; j < n; j++) out[off + j] = keys[base + j];
  }

  /** Removes the entry in slot `i`, shifting later entries of its probe run back. */
  deleteAt(i: number): void {
    const values = this.#values, hashes = this.#hashes, keys = this.#keys;
    const mask = this.#mask, n = this.#keyLen;
    let hole = i;
    for (let j = (i + 1) & mask;; j = (j + 1) & mask) {
      if (values[j] === undefined) break;
      const home = hashes[j] & mask;
      // Move j into the hole unless its home lies cyclically in (hole, j].
      const stays = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (stays) continue;
      values[hole] = values[j];
      hashes[hole] = hashes[j];
      keys.copyWithin(hole * n, j * n, j * n + n);
      hole = j;
    }
    values[hole] = undefined;
    this.size--;
  }

  /** Shrinks the table when it is mostly empty (after a cleaning pass). */
  compact(): void {
    const want = pow2AtLeast(Math.max(MIN_CAPACITY, this.size * 4));
    if (want < this.capacity / 2) this.#resize(want);
  }

  #resize(cap: number): void {
    const oldValues = this.#values, oldHashes = this.#hashes, oldKeys = this.#keys;
    const n = this.#keyLen;
    this.#mask = cap - 1;
    this.#hashes = new Uint32Array(cap);
    this.#keys = new Uint8Array(cap * n);
    this.#values = new Array(cap).fill(undefined);
    for (let i = 0; i < oldValues.length; i++) {
      const v = oldValues[i];
      if (v !== undefined) this.#place(oldHashes[i], oldKeys, i * n, v);
    }
  }
}

function pow2AtLeast(n: number): number {
  let c = MIN_CAPACITY;
  while (c < n) c *= 2;
  return c;
}
