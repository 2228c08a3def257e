/**
 * What travels between WebSocket socket workers and request workers: arrays of these items,
 * one array per batch and destination, as structured-clone messages.
 *
 * @module
 */

import type { AnnounceRequest, AnswerRequest } from "./protocol.ts";
import type { ScrapeEntry } from "./swarms.ts";
import { HalfSipHash13 } from "../shared/hash.ts";

/** Socket worker → request worker: one item of a batch. */
export type ToRequest =
  | { c: number; r: AnnounceRequest | AnswerRequest }
  | { c: number; id: number; h: string[] }
  | { c: number; closed: true };

/** Request worker → socket worker: one item of a batch. */
export type ToSocket =
  | { c: number; m: string }
  | { c: number; id: number; files: ScrapeEntry[] };

/** Picks the request worker that owns an info hash (a 20-character binary string). */
export class Sharder {
  #hash: HalfSipHash13;
  #n: number;
  #bytes = new Uint8Array(20);

  /** Spreads hashes over `n` request workers under a key shared by all socket workers. */
  constructor(key: Uint32Array, n: number) {
    this.#hash = new HalfSipHash13(key[0], key[1]);
    this.#n = n;
  }

  /** The request worker of `infoHash`. */
  shardOf(infoHash: string): number {
    const b = this.#bytes;
    for (let i = 0; i < 20; i++) b[i] = infoHash.charCodeAt(i);
    return this.#hash.hash(b, 0, 20) % this.#n;
  }
}
