/**
 * Stateless, unforgeable BEP 15 connection IDs.
 *
 * An ID is 8 bytes: the issue time (u32 seconds since the Unix epoch) and a 32-bit SipHash-2-4
 * tag of (client IP, issue time) under a random key made at start and shared by all socket
 * workers. Only the IP is authenticated, not the port, so a client may use the ID from any of
 * its sockets. A spoofed source cannot learn the tag, so it gets no answer: no amplification.
 *
 * In a cluster (`cluster/`), the key comes from the secret every node shares and the time is
 * the wall clock's, which every node agrees on within `skew` seconds: an ID from one node is
 * valid on every other. A previous secret's key may be accepted beside it while a new one is
 * rolled in.
 *
 * @module
 */

import { SipHash24 } from "../shared/base/hash.ts";
import { readU32, writeU32 } from "./codec.ts";

/** Issues and checks connection IDs. */
export class ConnectionIds {
  #mac: SipHash24;
  #previous: SipHash24 | null;
  #scratch = new Uint8Array(20);
  #maxAge: number;
  #skew: number;

  /**
   * `key` is four 32-bit words shared by every socket worker (random, or a cluster's);
   * `maxAge` is how many seconds an ID stays valid; an ID up to `skew` seconds in the future
   * is accepted; IDs made with `previous` (a cluster's old secret) are accepted too.
   */
  constructor(key: Uint32Array, maxAge: number, skew = 5, previous: Uint32Array | null = null) {
    this.#mac = new SipHash24(key);
    this.#previous = previous === null ? null : new SipHash24(previous);
    this.#maxAge = maxAge;
    this.#skew = skew;
  }

  #tag(mac: SipHash24, addrs: Uint8Array, addrOff: number, time: number): number {
    const s = this.#scratch;
    for (let i = 0; i < 16; i++) s[i] = addrs[addrOff + i];
    writeU32(s, 16, time);
    return mac.hash(s, 0, 20);
  }

  /** Writes an ID for the client at `addrs[addrOff]` (18-byte record), issued at `now`. */
  write(out: Uint8Array, o: number, addrs: Uint8Array, addrOff: number, now: number): void {
    writeU32(out, o, now);
    writeU32(out, o + 4, this.#tag(this.#mac, addrs, addrOff, now));
  }

  /**
   * True when the 8 bytes at `b[o]` are an ID this tracker (or its cluster) issued to this
   * client's IP within `maxAge` seconds of `now`. An ID up to `skew` seconds in the future is
   * accepted: a worker's clock may lag the process clock until its first heartbeat aligns it
   * (`shared/clock.ts`), and nodes' wall clocks differ a little.
   */
  check(b: Uint8Array, o: number, addrs: Uint8Array, addrOff: number, now: number): boolean {
    const time = readU32(b, o);
    if (time > now + this.#skew || now - time > this.#maxAge) return false;
    const tag = readU32(b, o + 4);
    if (tag === this.#tag(this.#mac, addrs, addrOff, time)) return true;
    return this.#previous !== null && tag === this.#tag(this.#previous, addrs, addrOff, time);
  }
}
