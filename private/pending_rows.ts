/**
 * Accounting waiting to be written, per (key, torrent): what the request workers posted since
 * the last write, summed, in typed arrays keyed by the key's index and the 20-byte info hash.
 * No string or object is made per posted record; hex info hashes are made once per row, when
 * it is written.
 *
 * @module
 */

import { HalfSipHash13, randomWords } from "../shared/base/hash.ts";
import { getU32LE } from "../shared/base/bytes.ts";

/** The ASCII codes of the hex digits. */
const HEX = new TextEncoder().encode("0123456789abcdef");
const LATIN1 = new TextDecoder("latin1");

/** Bytes of a row's identity: key index (u32 LE), then the info hash. */
export const ROW_ID_LEN = 24;

/** A set of pending rows, taken whole by `take`. */
export class PendingRows {
  /** Rows held. */
  size = 0;
  /** Row identities, `ROW_ID_LEN` bytes each. */
  ids: Uint8Array = new Uint8Array(0);
  /** Uploaded, downloaded and completed per row. */
  vals: Float64Array = new Float64Array(0);
  /** Whether the key seeded the torrent, per row. */
  seeded: Uint8Array = new Uint8Array(0);
  #slots = new Int32Array(0);
  #hasher: HalfSipHash13;
  #max: number;

  /** An empty set of at most `max` rows. */
  constructor(max: number) {
    this.#max = max;
    const k = randomWords(2);
    this.#hasher = new HalfSipHash13(k[0], k[1]);
    this.#resize(1024);
  }

  /** Key index of row `r`. */
  keyOf(r: number): number {
    return getU32LE(this.ids, r * ROW_ID_LEN);
  }

  /**
   * Every row's info hash as 40 lowercase hex, one after another in one string (row `r` at
   * `40 × r`): made in one pass over bytes and one decode, not a string per byte.
   */
  allHex(): string {
    const out = new Uint8Array(this.size * 40), ids = this.ids;
    for (let r = 0, o = 0; r < this.size; r++) {
      for (let j = r * ROW_ID_LEN + 4; j < (r + 1) * ROW_ID_LEN; j++, o += 2) {
        out[o] = HEX[ids[j] >> 4];
        out[o + 1] = HEX[ids[j] & 15];
      }
    }
    return LATIN1.decode(out);
  }

  /**
   * Adds to the row whose identity is at `b[o]` (`ROW_ID_LEN` bytes); false when the set is
   * full and the row is new (nothing added).
   */
  add(b: Uint8Array, o: number, up: number, down: number, done: number, seeded: boolean): boolean {
    const mask = this.#slots.length - 1, ids = this.ids;
    let s = this.#hasher.hash(b, o, ROW_ID_LEN) & mask;
    for (;; s = (s + 1) & mask) {
      const v = this.#slots[s];
      if (v === 0) break;
      const r = v - 1;
      let j = 0;
      while (j < ROW_ID_LEN && ids[r * ROW_ID_LEN + j] === b[o + j]) j++;
      if (j === ROW_ID_LEN) return this.#sum(r, up, down, done, seeded);
    }
    if (this.size >= this.#max) return false;
    if ((this.size + 1) * 2 > this.#slots.length) {
      this.#resize(this.#slots.length * 2);
      return this.add(b, o, up, down, done, seeded);
    }
    const r = this.size++;
    for (let j = 0; j < ROW_ID_LEN; j++) this.ids[r * ROW_ID_LEN + j] = b[o + j];
    this.vals[3 * r] = this.vals[3 * r + 1] = this.vals[3 * r + 2] = 0;
    this.seeded[r] = 0;
    this.#slots[s] = r + 1;
    return this.#sum(r, up, down, done, seeded);
  }

  #sum(r: number, up: number, down: number, done: number, seeded: boolean): boolean {
    this.vals[3 * r] += up;
    this.vals[3 * r + 1] += down;
    this.vals[3 * r + 2] += done;
    if (seeded) this.seeded[r] = 1;
    return true;
  }

  /** Every row of `other` added here (a failed write's rows put back); returns rows not kept. */
  addAll(other: PendingRows): number {
    let lost = 0;
    for (let r = 0; r < other.size; r++) {
      const v = other.vals;
      if (
        !this.add(
          other.ids,
          r * ROW_ID_LEN,
          v[3 * r],
          v[3 * r + 1],
          v[3 * r + 2],
          other.seeded[r] === 1,
        )
      ) lost++;
    }
    return lost;
  }

  #resize(slots: number): void {
    const ids = new Uint8Array(slots / 2 * ROW_ID_LEN);
    ids.set(this.ids.subarray(0, this.size * ROW_ID_LEN));
    const vals = new Float64Array(slots / 2 * 3);
    vals.set(this.vals.subarray(0, this.size * 3));
    const seeded = new Uint8Array(slots / 2);
    seeded.set(this.seeded.subarray(0, this.size));
    this.ids = ids;
    this.vals = vals;
    this.seeded = seeded;
    this.#slots = new Int32Array(slots);
    const mask = slots - 1;
    for (let r = 0; r < this.size; r++) {
      let s = this.#hasher.hash(ids, r * ROW_ID_LEN, ROW_ID_LEN) & mask;
      while (this.#slots[s] !== 0) s = (s + 1) & mask;
      this.#slots[s] = r + 1;
    }
  }
}
