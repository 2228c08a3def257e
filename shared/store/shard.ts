/**
 * Which request worker owns an info hash: the one sharding function of shoal. Socket workers
 * route requests with it, and the main thread splits a state file with it, under one key made
 * at start, so both always agree.
 *
 * @module
 */

import { HalfSipHash13 } from "../base/hash.ts";

/** Spreads info hashes over `n` request workers under a key shared by the whole process. */
export class Sharder {
  #hash: HalfSipHash13;
  #n: number;
  #bytes = new Uint8Array(20);

  /** A sharder over `n` workers; `key` is two random words made at start. */
  constructor(key: Uint32Array, n: number) {
    this.#hash = new HalfSipHash13(key[0], key[1]);
    this.#n = n;
  }

  /** The worker that owns the info hash at `b[off]` (20 bytes). */
  of(b: Uint8Array, off: number): number {
    // One request worker (the default) owns every hash: no hash to compute per request.
    return this.#n === 1 ? 0 : this.#hash.hash(b, off, 20) % this.#n;
  }

  /** The worker that owns `infoHash`, a 20-character binary string (WebTorrent's form). */
  ofString(infoHash: string): number {
    const b = this.#bytes;
    for (let i = 0; i < 20; i++) b[i] = infoHash.charCodeAt(i);
    return this.of(b, 0);
  }
}
