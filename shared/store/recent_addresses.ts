/**
 * IP addresses seen lately, in a fixed table: a private UDP tracker lets an address scrape
 * only if it announced with a valid key within `max_peer_age` (BEP 41's URL data, which holds
 * the key, rides only on announces). Direct-mapped by a keyed hash of the 16-byte IP: a full
 * table forgets an address when another lands on its slot (that address's client announces
 * again within an interval), so memory stays fixed whatever arrives.
 *
 * @module
 */

import { randomWords } from "../base/hash.ts";
import { mixHash } from "../base/mix_hash.ts";

/** Addresses one table holds at most (2^18: 4 MiB of IPs and 2 MiB of times). */
const SLOTS = 1 << 18;

/** Recently seen IPs with the time each was last seen. */
export class RecentAddresses {
  #ips = new Uint8Array(SLOTS * 16);
  #seen = new Float64Array(SLOTS).fill(-Infinity);
  #seed = randomWords(2);

  /** Notes the IP at `b[off]` (16 bytes, v4-mapped for IPv4) as seen at `now`. */
  mark(b: Uint8Array, off: number, now: number): void {
    const s = this.#slot(b, off);
    for (let j = 0; j < 16; j++) this.#ips[s * 16 + j] = b[off + j];
    this.#seen[s] = now;
  }

  #slot(b: Uint8Array, off: number): number {
    return mixHash(b, off, 16, this.#seed[0], this.#seed[1]) & (SLOTS - 1);
  }

  /** True when the IP at `b[off]` was seen at or after `since`. */
  seenSince(b: Uint8Array, off: number, since: number): boolean {
    const s = this.#slot(b, off);
    if (this.#seen[s] < since) return false;
    for (let j = 0; j < 16; j++) if (this.#ips[s * 16 + j] !== b[off + j]) return false;
    return true;
  }
}
