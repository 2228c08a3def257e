/**
 * Stateless, unforgeable BEP 15 connection IDs.
 *
 * An ID is 8 bytes: the issue time (u32 seconds since the Unix epoch) and a 32-bit SipHash-2-4
 * tag of (client IP, issue time) under a random key made at start and shared by all socket
 * workers. Only the IP is authenticated, not the port, so a client may use the ID from any of
 * its sockets. A spoofed source cannot learn the tag, so it gets no answer: no amplification.
 *
 * @module
 */

import { SipHash24 } from "../shared/base/hash.ts";
import { readU32, writeU32 } from "./codec.ts";

/** Issues and checks connection IDs. */
export class ConnectionIds {
  #mac: SipHash24;
  #scratch = new Uint8Array(20);
  #maxAge: number;

  /**
   * `key` is four random 32-bit words shared by every socket worker; `maxAge` is how many
   * seconds an ID stays valid.
   */
  constructor(key: Uint32Array, maxAge: number) {
    this.#mac = new SipHash24(key);
    this.#maxAge = maxAge;
  }

  #tag(addrs: Uint8Array, addrOff: number, time: number): number {
    const s = this.#scratch;
    for (let i = 0; i < 16; i++) s[i] = addrs[addrOff + i];
    writeU32(s, 16, time);
    return this.#mac.hash(s, 0, 20);
  }

  /** Writes an ID for the client at `addrs[addrOff]` (18-byte record), issued at `now`. */
  write(out: Uint8Array, o: number, addrs: Uint8Array, addrOff: number, now: number): void {
    writeU32(out, o, now);
    writeU32(out, o + 4, this.#tag(addrs, addrOff, now));
  }

  /**
   * True when the 8 bytes at `b[o]` are an ID this tracker issued to this client's IP within
   * `maxAge` seconds of `now`. An ID up to 5 s in the future is accepted: a worker's clock
   * may lag the process clock until its first heartbeat aligns it (`shared/clock.ts`).
   */
  check(b: Uint8Array, o: number, addrs: Uint8Array, addrOff: number, now: number): boolean {
    const time = readU32(b, o);
    if (time > now + 5 || now - time > this.#maxAge) return false;
    return readU32(b, o + 4) === this.#tag(addrs, addrOff, time);
  }
}
