/**
 * What both threads of the UDP floor responder (`udp_floor.ts`, `udp_floor_worker.ts`) write:
 * announce replies of the size shoal's would have, with a fixed block of peers.
 *
 * @module
 */

import { ADDR_LEN } from "../../udp/datagram.ts";
import { ANNOUNCE_LEN, readI32, writeAnnounceHeader } from "../../udp/codec.ts";

/** The announce reply (`peers` compact IPv4 peers) for the packet at `pkt[off]`, into `out[o]`. */
export function writeAnnounceReply(
  pkt: Uint8Array,
  off: number,
  out: Uint8Array,
  o: number,
  peers: Uint8Array,
): number {
  const len = writeAnnounceHeader(out, o, readI32(pkt, off + 12), 900, 10, 40);
  out.set(peers, o + len);
  return len + peers.length;
}

/** A block of `n` compact IPv4 peers (127.0.0.1, ports 1..n). */
export function peerBlock(n: number): Uint8Array {
  const b = new Uint8Array(6 * n);
  for (let i = 0; i < n; i++) {
    b.set([127, 0, 0, 1, (i + 1) >> 8, (i + 1) & 0xff], 6 * i);
  }
  return b;
}

/** Bytes of one announce crossing to the worker: address, then the 98-byte packet. */
export const HOP_REQ: number = ADDR_LEN + ANNOUNCE_LEN;
