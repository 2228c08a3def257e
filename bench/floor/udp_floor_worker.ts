/**
 * The worker of `udp_floor.ts --hop`: the request worker's place with no swarms. Each
 * announce that crosses (address, 98-byte packet) goes back as a finished reply (address, u16
 * length, datagram) in one batch per batch received, through the same `Link` rings as shoal's.
 *
 * @module
 */
/// <reference lib="deno.worker" />

import { blockingWaits, Link } from "../../shared/runtime/link.ts";
import { BatchWriter } from "../../shared/runtime/channel.ts";
import { setU16LE } from "../../shared/base/bytes.ts";
import { ADDR_LEN } from "../../udp/datagram.ts";
import { HOP_REQ, peerBlock, writeAnnounceReply } from "./floor_replies.ts";

self.onmessage = (e: MessageEvent<{ port: MessagePort; peers: number }>) => {
  blockingWaits(true); // as shoal's request workers wait
  const peers = peerBlock(e.data.peers);
  const link = new Link(e.data.port, 512 << 10);
  const w = new BatchWriter();
  link.onmessage = (data) => {
    const b = data as Uint8Array;
    for (let p = 0; p + HOP_REQ <= b.length; p += HOP_REQ) {
      const at = w.reserve(ADDR_LEN + 2 + 20 + peers.length), out = w.buf;
      for (let j = 0; j < ADDR_LEN; j++) out[at + j] = b[p + j];
      const len = writeAnnounceReply(b, p + ADDR_LEN, out, at + ADDR_LEN + 2, peers);
      setU16LE(out, at + ADDR_LEN, len);
      w.commit(at + ADDR_LEN + 2 + len);
    }
    w.flushTo(link);
  };
};
