/**
 * The floor of shoal's UDP design on this machine, measured: a responder built from shoal's own
 * parts (the ffi socket of `udp/io_ffi.ts`, and with `--hop` a worker behind the `Link` rings of
 * `shared/runtime/link.ts`) that answers every request with a reply of the size shoal's would have
 * (connect 16 bytes, announce 20 + 6 × `--peers`, scrape 8 + 12 per hash) and does nothing else:
 * no connection-ID check, no swarms, no counters. Run under the bench's load (`deno task bench --
 * --floor`), its CPU per response is what the kernel, Deno's FFI and, with `--hop`, the hop to a
 * request worker and back cost before any tracker work; shoal cannot go below it.
 *
 * With `--hop`, announces cross to the worker as shoal's do (the 18-byte address and the 98-byte
 * packet, in batches through the ring) and come back as finished replies; connects and scrapes are
 * answered in place, which only lowers the floor.
 *
 * Usage: `deno run --allow-ffi --allow-read bench/floor/udp_floor.ts [--port 0] [--hop] [--peers 50]`;
 * prints `listening on udp://127.0.0.1:PORT` and serves until killed.
 *
 * @module
 */

import { parseArgs } from "args";
import { openFfiSocket } from "../../udp/io_ffi.ts";
import { ADDR_LEN, type PacketBatch } from "../../udp/datagram.ts";
import { Link } from "../../shared/runtime/link.ts";
import { pollRings } from "../../shared/runtime/thread_poll.ts";
import { BatchWriter } from "../../shared/runtime/channel.ts";
import { getU16LE } from "../../shared/base/bytes.ts";
import {
  Action,
  ANNOUNCE_LEN,
  readI32,
  SCRAPE_ENTRY_LEN,
  SCRAPE_RESPONSE_HEADER_LEN,
  scrapeHashCount,
  writeConnectResponse,
  writeScrapeHeader,
} from "../../udp/codec.ts";
import { HOP_REQ, peerBlock, writeAnnounceReply } from "./floor_replies.ts";

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args.filter((a) => a !== "--"),
    options: {
      port: { type: "string", default: "0" },
      hop: { type: "boolean", default: false },
      peers: { type: "string", default: "50" },
    },
  });
  const npeers = Number(values.peers);
  if (!Number.isInteger(npeers) || npeers < 0 || npeers > 200) {
    console.error("udp_floor: --peers must be an integer from 0 to 200");
    Deno.exit(2);
  }
  const peers = peerBlock(npeers);
  const sock = openFfiSocket({
    hostname: "127.0.0.1",
    port: Number(values.port),
    family: 4,
    reusePort: false,
    recvBufferSize: 4 << 20,
    checkFree: false,
    batchSize: 256,
  });
  const out = new Uint8Array(SCRAPE_RESPONSE_HEADER_LEN + SCRAPE_ENTRY_LEN * 1024);

  // Connects and scrapes (and without --hop, announces) are answered in place.
  const answerHere = (b: PacketBatch, i: number): boolean => {
    const off = b.offsets[i], len = b.lengths[i], d = b.data, a = i * ADDR_LEN;
    if (len < 16) return true;
    const action = readI32(d, off + 8), tid = readI32(d, off + 12);
    if (action === Action.Connect) {
      sock.send(out, 0, writeConnectResponse(out, 0, tid, 0x07070707, 0x07070707), b.addrs, a);
      return true;
    }
    if (action === Action.Scrape) {
      const at = writeScrapeHeader(out, 0, tid);
      const end = at + SCRAPE_ENTRY_LEN * Math.min(1024, scrapeHashCount(len));
      out.fill(0, at, end);
      sock.send(out, 0, end, b.addrs, a);
      return true;
    }
    return action !== Action.Announce || len < ANNOUNCE_LEN;
  };

  pollRings(true); // as shoal's socket workers wait
  if (!values.hop) {
    sock.serve((b) => {
      for (let i = 0; i < b.count; i++) {
        if (answerHere(b, i)) continue;
        const len = writeAnnounceReply(b.data, b.offsets[i], out, 0, peers);
        sock.send(out, 0, len, b.addrs, i * ADDR_LEN);
      }
      sock.flush();
    });
  } else {
    const ch = new MessageChannel();
    const worker = new Worker(new URL("./udp_floor_worker.ts", import.meta.url), {
      type: "module",
    });
    worker.postMessage({ port: ch.port2, peers: npeers }, [ch.port2]);
    const link = new Link(ch.port1, 512 << 10);
    const w = new BatchWriter();
    link.onmessage = (data) => {
      // Replies: address, u16 length, the datagram.
      const r = data as Uint8Array;
      for (let p = 0; p < r.length;) {
        const len = getU16LE(r, p + ADDR_LEN);
        sock.send(r, p + ADDR_LEN + 2, len, r, p);
        p += ADDR_LEN + 2 + len;
      }
      sock.flush();
    };
    sock.serve((b) => {
      for (let i = 0; i < b.count; i++) {
        if (answerHere(b, i)) continue;
        const at = w.reserve(HOP_REQ), buf = w.buf, a = i * ADDR_LEN, off = b.offsets[i];
        for (let j = 0; j < ADDR_LEN; j++) buf[at + j] = b.addrs[a + j];
        for (let j = 0; j < ANNOUNCE_LEN; j++) buf[at + ADDR_LEN + j] = b.data[off + j];
        w.commit(at + HOP_REQ);
      }
      sock.flush();
      w.flushTo(link);
    });
  }
  console.log(`listening on udp://127.0.0.1:${sock.port}`);
}
