/**
 * `deno bench` micro-benchmarks of the UDP hot paths: connection-ID check, hashing, announce
 * handling with peer selection, and the socket-side routing of a receive batch; and of ws, how
 * a forwarded offer becomes the bytes of a frame.
 */
import { ConnectionIds } from "../../udp/connection_id.ts";
import { HalfSipHash13 } from "../../shared/base/hash.ts";
import { Swarms } from "../../core/swarms.ts";
import { Router, type Sender } from "../../udp/router.ts";
import { responsePeers, udpSchema } from "../../udp/config.ts";
import { defaults } from "../../shared/config/schema.ts";
import { ADDR_LEN, type PacketBatch } from "../../udp/io.ts";
import { encodeAddr } from "../../shared/net/address.ts";
import { encodeAnnounceRequest } from "../../udp/codec.ts";
import { handleRequestBatch } from "../../core/request_batch.ts";
import { Forwarder } from "../../core/forward.ts";
import { ANNOUNCE_SEEDER } from "../../core/records.ts";
import { BatchWriter } from "../../shared/runtime/channel.ts";
import { AccessList } from "../../shared/store/access_list.ts";
import { ByteBuffer } from "../../shared/base/byte_buffer.ts";
import { writeForwardFrame, writeTextFrame } from "../../ws/frames.ts";
import { offerMessage, validate } from "../../ws/protocol.ts";
import { scanMessage, Scanned } from "../../ws/scan.ts";

const NOW = Math.floor(Date.now() / 1000);
const addr = new Uint8Array(18);
encodeAddr("10.1.2.3", 6881, addr, 0);

const ids = new ConnectionIds(new Uint32Array([1, 2, 3, 4]), 300);
const cid = new Uint8Array(8);
ids.write(cid, 0, addr, 0, NOW);
Deno.bench("connection ID check", () => {
  ids.check(cid, 0, addr, 0, NOW);
});

const half = new HalfSipHash13(1, 2);
const hashIn = crypto.getRandomValues(new Uint8Array(20));
Deno.bench("HalfSipHash-1-3 of 20 bytes", () => {
  half.hash(hashIn, 0, 20);
});

// A swarm store with 10k torrents; announces spread over them with 50 peers wanted.
const swarms = new Swarms({ interval: 900 }, new Uint32Array([1, 2, 3, 4]));
// The same announces as the core's records (`core/records.ts`), as a socket worker writes them.
const toCore = new Forwarder(new Uint32Array([5, 6]), 1, 1);
const packets: Uint8Array[] = [];
const addrs: Uint8Array[] = [];
for (let i = 0; i < 20000; i++) {
  const infoHash = new Uint8Array(20);
  new DataView(infoHash.buffer).setUint32(0, Math.floor(Math.random() ** 3 * 10000));
  packets.push(encodeAnnounceRequest({
    connectionId: cid,
    transactionId: i,
    infoHash,
    peerId: crypto.getRandomValues(new Uint8Array(20)),
    left: i % 4 === 0 ? 1n : 0n,
    port: 1 + (i % 60000),
    numWant: 50,
  }));
  const a = new Uint8Array(18);
  encodeAddr(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 6881, a, 0);
  addrs.push(a);
}
const records = packets.map((p, i) => {
  const w = toCore.writers[0];
  const port = (p[96] << 8) | p[97];
  toCore.announce(4, addrs[i], 0, p, 16, p, 36, port, 0, i % 4 === 0 ? 0 : ANNOUNCE_SEEDER, 50, i);
  const rec = w.buf.slice(0, w.len);
  w.clear();
  return rec;
});
const out = new Uint8Array(64 + 18 * 255);
for (let i = 0; i < records.length; i++) swarms.announce(records[i], 0, NOW, out, 0);
let k = 0;
Deno.bench("announce (10k torrents, 20k peers, numwant 50)", () => {
  const i = k++ % records.length;
  swarms.announce(records[i], 0, NOW, out, 0);
});

// The socket worker's routing of a 64-packet batch, then the request worker's batch handling,
// with the settings a default `shoal udp` gives its socket workers (two request workers).
const udp = defaults(udpSchema);
const router = new Router({
  requestWorkers: 2,
  maxScrapeTorrents: udp.protocol.max_scrape_torrents,
  maxConnectionAge: udp.cleaning.max_connection_age,
  responsePeers: responsePeers(udp.protocol),
  connectionKey: new Uint32Array([1, 2, 3, 4]),
  cluster: null,
  shardKey: new Uint32Array([5, 6]),
});
const batchData = new Uint8Array(64 * 128);
const batch: PacketBatch = {
  count: 64,
  data: batchData,
  offsets: new Int32Array(64),
  lengths: new Int32Array(64),
  addrs: new Uint8Array(64 * ADDR_LEN),
};
for (let i = 0; i < 64; i++) {
  batchData.set(packets[i], i * 128);
  batch.offsets[i] = i * 128;
  batch.lengths[i] = 98;
  batch.addrs.set(addr, i * ADDR_LEN);
}
const nobody: Sender = { send() {}, sendParts() {} };
const back = new BatchWriter();
const access = new AccessList();
Deno.bench("route 64 announces, handle them, route 64 responses", () => {
  router.handleBatch(batch, 4, nobody, NOW);
  for (const w of router.forward.writers) {
    const b = w.buf.subarray(0, w.len);
    handleRequestBatch(swarms, access, b, back, NOW);
    router.handleResponses(back.buf.subarray(0, back.len), [nobody, null]);
    back.len = 0;
    back.count = 0;
    w.len = 0;
    w.count = 0;
  }
});

// Why `shared/net/libc.ts` hands `read`/`send` their length as a bigint: a number for a
// `usize` parameter leaves V8's fast FFI path. `send` on descriptor -1 fails at once (EBADF),
// so this times the call itself. Needs --allow-ffi.
const ffi = Deno.permissions.querySync({ name: "ffi" }).state === "granted"
  ? Deno.dlopen("libc.so.6", {
    send: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  }).symbols
  : null;
const ffiBuf = new Uint8Array(512);
const len300 = 300n;
Deno.bench({
  name: "libc send via FFI, usize length as a number",
  group: "ffi",
  ignore: ffi === null,
  fn: () => {
    ffi!.send(-1, ffiBuf, 300 as unknown as bigint, 0);
  },
});
Deno.bench({
  name: "libc send via FFI, usize length as a bigint",
  group: "ffi",
  baseline: true,
  ignore: ffi === null,
  fn: () => {
    ffi!.send(-1, ffiBuf, len300, 0);
  },
});

// A forwarded offer (a 450-character SDP with CRLFs), 100 at a time, into frame bytes: written
// from its parts as a request batch holds them (`ws/frames.ts`: ids as 20 bytes, the SDP as the
// JSON string text it came in; what shoal does) or as `JSON.stringify` of the message then
// `TextEncoder.encodeInto` (what it did until 2026-12-06). WebTorrent's ids are binary: code
// points 128-255 take V8's slow UTF-8 path, and control characters need escapes.
const sdp = "v=0\r\no=- 4327394824 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
  "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n" +
  "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=ice-options:trickle\r\n" +
  "a=fingerprint:sha-256 " + "AB:CD:EF:01:23:45:67:89:".repeat(4).slice(0, -1) + "\r\n" +
  "a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n";
const idsOf = (f: (i: number, k: number) => number) =>
  Array.from(
    { length: 100 },
    (_, i) =>
      [0, 1, 2].map((j) =>
        String.fromCharCode(...Array.from({ length: 20 }, (_, k) => f(i * 3 + j, k)))
      ),
  );
const offerIds = {
  "ASCII ids": idsOf((i, k) => 97 + (i * 7 + k * 13) % 26),
  "binary ids": idsOf((i, k) => (i * 31 + k * 97) % 256),
};
// The parts as a request batch holds them: 60 bytes of ids per offer, then the SDP's text once.
const sdpText = new TextEncoder().encode(JSON.stringify(sdp).slice(1, -1));
const batchOf = (list: string[][]) => {
  const b = new Uint8Array(60 * list.length + sdpText.length);
  list.forEach((ids, i) =>
    ids.forEach((id, j) => {
      for (let k = 0; k < 20; k++) b[60 * i + 20 * j + k] = id.charCodeAt(k);
    })
  );
  b.set(sdpText, 60 * list.length);
  return b;
};
const frames = new ByteBuffer(1 << 16);
for (const [label, list] of Object.entries(offerIds)) {
  const batch = batchOf(list), sdpAt = 60 * list.length;
  Deno.bench({
    name: `ws: 100 offers to frames from their parts, ${label}`,
    group: `ws offer ${label}`,
    fn: () => {
      frames.len = 0;
      for (let i = 0, at = 0; i < list.length; i++, at += 60) {
        writeForwardFrame(frames, "offer", batch, at, at + 20, at + 40, sdpAt, sdpText.length);
      }
    },
  });
  Deno.bench({
    name: `ws: 100 offers to frames by JSON.stringify and encodeInto, ${label}`,
    group: `ws offer ${label}`,
    baseline: true,
    fn: () => {
      frames.len = 0;
      for (const [h, p, o] of list) {
        writeTextFrame(frames, offerMessage(h, p, o, { type: "offer", sdp }));
      }
    },
  });
}

// An incoming announce with 5 offers (as WebTorrent sends one, ~2.6 kB) made ready for the
// request worker: scanned in place (`ws/scan.ts`, what shoal does) or decoded, parsed and
// validated (the general path, which every message took until 2026-12-06).
for (const [label, list] of Object.entries(offerIds)) {
  const [h, p] = list[0];
  const announce = new TextEncoder().encode(JSON.stringify({
    numwant: 5,
    uploaded: 0,
    downloaded: 0,
    left: 1000,
    event: "started",
    action: "announce",
    info_hash: h,
    peer_id: p,
    offers: list.slice(1, 6).map(([, , o]) => ({ offer: { type: "offer", sdp }, offer_id: o })),
  }));
  const scanned = new Scanned(), decoder = new TextDecoder("utf-8", { fatal: true });
  const limits = { maxOffers: 10, maxScrapeTorrents: 10 };
  Deno.bench({
    name: `ws: 100 announces with 5 offers scanned, ${label}`,
    group: `ws announce ${label}`,
    fn: () => {
      for (let i = 0; i < 100; i++) {
        if (!scanMessage(announce, 10, scanned)) throw new Error("not scanned");
      }
    },
  });
  Deno.bench({
    name: `ws: 100 announces with 5 offers decoded, parsed and validated, ${label}`,
    group: `ws announce ${label}`,
    baseline: true,
    fn: () => {
      for (let i = 0; i < 100; i++) {
        if (validate(JSON.parse(decoder.decode(announce)), limits).kind !== "announce") {
          throw new Error("not an announce");
        }
      }
    },
  });
}
