/**
 * Scrapes waiting for their parts: a scrape's info hashes may belong to several request
 * workers, so the socket worker that received it collects their entries (`records.ts`) into
 * one slot, and answers in its protocol once the last part arrived.
 *
 * A fixed number of slots, each with room for a whole scrape, preallocated and reused. A slot
 * whose parts do not all come back within `TIMEOUT_S` (a request worker was replaced) is freed
 * by `expire`, so the table cannot fill up for good.
 *
 * @module
 */

import { ADDR_LEN } from "../shared/net/address.ts";
import { SCRAPE_ENTRY_LEN } from "./records.ts";

/** Seconds after which an incomplete scrape is given up. */
export const TIMEOUT_S = 5;

const SLOT_BITS = 12;

/** Pending scrapes of one socket worker. */
export class PendingScrapes {
  /** Scrape entries of every slot (`maxHashes` each), in the order of the scrape's hashes. */
  readonly entries: Uint8Array;
  /** Client address of every slot (18 bytes each). */
  readonly addrs: Uint8Array;
  /** The info hashes of every slot (20 × `maxHashes` each), kept when asked for (HTTP). */
  readonly hashes: Uint8Array | null;
  /** Most hashes per slot. */
  readonly maxHashes: number;
  /** Scrapes in flight. */
  inFlight = 0;
  #family: Uint8Array;
  #token: Uint32Array;
  #gen: Uint32Array;
  #parts: Uint16Array;
  #count: Uint16Array;
  #opened: Uint32Array;
  #free: Int32Array;
  #freeTop: number;

  /**
   * Creates `slots` (at most 4096) slots for scrapes of up to `maxHashes` hashes; with
   * `keepHashes`, each slot keeps its scrape's hashes too (an HTTP reply names them).
   */
  constructor(slots: number, maxHashes: number, keepHashes = false) {
    slots = Math.min(slots, 1 << SLOT_BITS);
    this.maxHashes = maxHashes;
    this.hashes = keepHashes ? new Uint8Array(slots * 20 * maxHashes) : null;
    this.entries = new Uint8Array(slots * SCRAPE_ENTRY_LEN * maxHashes);
    this.addrs = new Uint8Array(slots * ADDR_LEN);
    this.#family = new Uint8Array(slots);
    this.#token = new Uint32Array(slots);
    this.#gen = new Uint32Array(slots);
    this.#parts = new Uint16Array(slots);
    this.#count = new Uint16Array(slots);
    this.#opened = new Uint32Array(slots);
    this.#free = new Int32Array(slots);
    for (let i = 0; i < slots; i++) this.#free[i] = slots - 1 - i;
    this.#freeTop = slots;
  }

  /**
   * Opens a slot for a scrape of `count` hashes (at `data[hashes]`, kept if the table keeps
   * them) in `parts` parts from the client at `addrs[a]`, answered under `token`; returns its
   * id, or -1 when every slot is busy.
   */
  open(
    family: number,
    addrs: Uint8Array,
    a: number,
    token: number,
    count: number,
    parts: number,
    now: number,
    data: Uint8Array,
    hashes: number,
  ): number {
    if (this.#freeTop === 0) return -1;
    const s = this.#free[--this.#freeTop];
    const gen = (this.#gen[s] + 1) & 0xfffff;
    this.#gen[s] = gen;
    this.#family[s] = family;
    this.#token[s] = token;
    this.#parts[s] = parts;
    this.#count[s] = count;
    this.#opened[s] = now;
    for (let j = 0; j < ADDR_LEN; j++) this.addrs[s * ADDR_LEN + j] = addrs[a + j];
    if (this.hashes !== null) {
      this.hashes.set(data.subarray(hashes, hashes + 20 * count), this.hashesOffset(s));
    }
    this.inFlight++;
    return ((gen << SLOT_BITS) | s) >>> 0;
  }

  /** Slot of `id`, or -1 when the id is stale (the slot expired or was reused). */
  slotOf(id: number): number {
    const s = id & ((1 << SLOT_BITS) - 1);
    if (s >= this.#gen.length || this.#gen[s] !== id >>> SLOT_BITS || this.#parts[s] === 0) {
      return -1;
    }
    return s;
  }

  /** Offset in `hashes` of slot `s`'s first info hash. */
  hashesOffset(s: number): number {
    return s * 20 * this.maxHashes;
  }

  /** Offset in `entries` of entry `idx` of slot `s`. */
  entryOffset(s: number, idx: number): number {
    return (s * this.maxHashes + idx) * SCRAPE_ENTRY_LEN;
  }

  /** Marks one part of slot `s` done; true when the scrape is complete. */
  partDone(s: number): boolean {
    return --this.#parts[s] === 0;
  }

  /** Family of slot `s`. */
  family(s: number): 4 | 6 {
    return this.#family[s] === 6 ? 6 : 4;
  }

  /** The token slot `s` is answered under. */
  token(s: number): number {
    return this.#token[s];
  }

  /** Hashes (and entries) of slot `s`. */
  count(s: number): number {
    return this.#count[s];
  }

  /** Frees slot `s` (after its response was sent). */
  release(s: number): void {
    this.#parts[s] = 0;
    this.#free[this.#freeTop++] = s;
    this.inFlight--;
  }

  /** Frees slots older than `TIMEOUT_S`; returns how many. */
  expire(now: number): number {
    let n = 0;
    for (let s = 0; s < this.#parts.length; s++) {
      if (this.#parts[s] !== 0 && now - this.#opened[s] > TIMEOUT_S) {
        this.release(s);
        n++;
      }
    }
    return n;
  }
}
