/**
 * Hostile input through the real parsing code, seeded and reproducible: a million random and
 * mutated UDP datagrams through the whole data path (router, request batches, responses), and
 * a hundred thousand mutated WebTorrent messages through connection handling and the swarms,
 * plus random byte streams through the WebSocket engine. No exception may escape; every
 * answer must be a well-formed response; nothing unauthenticated may be answered with more
 * bytes than it sent.
 */
import assert from "assert";
import { Router, type Sender } from "../../udp/router.ts";
import { handleRequestBatch } from "../../core/request_batch.ts";
import { Swarms } from "../../core/swarms.ts";
import { BatchWriter } from "../../shared/runtime/channel.ts";
import { AccessList } from "../../shared/store/access_list.ts";
import { encodeAddr } from "../../shared/net/address.ts";
import { ADDR_LEN, type PacketBatch } from "../../udp/io.ts";
import {
  decodeResponse,
  encodeAnnounceRequest,
  encodeConnectRequest,
  encodeScrapeRequest,
} from "../../udp/codec.ts";
import { Connections, type Peer } from "../../ws/connections.ts";
import type { Batch } from "../../ws/messages.ts";
import { BatchOutbox } from "../../ws/outbox.ts";
import type { Link } from "../../shared/runtime/link.ts";
import { readServerTexts } from "../helpers/server_frames.ts";
import { Sharder } from "../../shared/store/shard.ts";
import { WsSwarms } from "../../ws/swarms.ts";
import { WireConnection } from "../../ws/wire.ts";
import { scanMessage, Scanned } from "../../ws/scan.ts";
import { FUZZ_SEED as SEED, prng } from "../helpers/prng.ts";

const enc = new TextEncoder();
const scanned = new Scanned();

Deno.test("fuzz: 1,000,000 random and mutated UDP datagrams through the whole data path", () => {
  const rnd = prng(SEED);
  const NOW = 1_800_000_000;
  const router = new Router({
    requestWorkers: 2,
    maxScrapeTorrents: 50,
    maxConnectionAge: 300,
    responsePeers: { 4: 50, 6: 50 },
    connectionKey: new Uint32Array([1, 2, 3, 4]),
    cluster: null,
    shardKey: new Uint32Array([5, 6]),
  });
  const swarms = [0, 1].map((i) => new Swarms({ interval: 900 }, new Uint32Array([i, 7, 8, 9])));
  const back = new BatchWriter(), access = new AccessList();
  // Replies, attributed to the datagram they answer by the client address (unique per datagram).
  const replies = new Map<number, Uint8Array[]>();
  const sock: Sender = {
    send(p, off, len, addrs, a) {
      const key = addrs[a + 17]; // the port names the datagram within its batch
      const list = replies.get(key) ?? [];
      list.push(p.slice(off, off + len));
      replies.set(key, list);
    },
    sendParts(head, headLen, body, off, len, addrs, a) {
      const b = new Uint8Array(headLen + len);
      b.set(head.subarray(0, headLen));
      b.set(body.subarray(off, off + len), headLen);
      this.send(b, 0, b.length, addrs, a);
    },
  };
  // A valid connection ID for the first client, to mutate requests that carry it.
  const addrs = new Uint8Array(64 * ADDR_LEN);
  const data = new Uint8Array(64 * 512);
  const batch: PacketBatch = {
    count: 0,
    data,
    offsets: new Int32Array(64),
    lengths: new Int32Array(64),
    addrs,
  };
  encodeAddr("10.0.0.1", 1, addrs, 0);
  data.set(encodeConnectRequest(1), 0);
  batch.count = 1;
  batch.lengths[0] = 16;
  router.handleBatch(
    batch,
    4,
    { send() {}, sendParts: (head) => data.set(head.subarray(8, 16), 20000) },
    NOW,
  );
  const cid = data.slice(20000, 20008);

  const templates = [
    encodeConnectRequest(7),
    encodeAnnounceRequest({
      connectionId: cid,
      transactionId: 7,
      infoHash: new Uint8Array(20).fill(1),
      peerId: new Uint8Array(20).fill(2),
      left: 0n,
      port: 6881,
      numWant: 30,
    }),
    encodeScrapeRequest(cid, 7, [new Uint8Array(20).fill(1), new Uint8Array(20).fill(3)]),
  ];
  let sent = 0, answered = 0, unauthenticatedAnswers = 0;
  const TOTAL = 1_000_000;
  for (let round = 0; sent < TOTAL; round++) {
    replies.clear();
    const sizes: number[] = [];
    const authentic: boolean[] = [];
    for (let i = 0; i < 64; i++, sent++) {
      let pkt: Uint8Array;
      if (rnd.chance(0.4)) {
        pkt = new Uint8Array(rnd.below(120));
        for (let j = 0; j < pkt.length; j++) pkt[j] = rnd.next();
      } else {
        const t = templates[rnd.below(3)];
        pkt = new Uint8Array(Math.max(0, t.length + (rnd.chance(0.3) ? rnd.below(60) - 30 : 0)));
        pkt.set(t.subarray(0, Math.min(t.length, pkt.length)));
        for (let k = rnd.below(4); k > 0 && pkt.length > 0; k--) {
          pkt[rnd.below(pkt.length)] = rnd.next();
        }
      }
      data.set(pkt.subarray(0, 500), i * 512);
      batch.offsets[i] = i * 512;
      batch.lengths[i] = Math.min(pkt.length, 500);
      // The first client has the ID; the others are strangers (and 1 in 1000 is truncated).
      const stranger = rnd.chance(0.5);
      encodeAddr(stranger ? `10.9.${i}.${round & 255}` : "10.0.0.1", i, addrs, i * ADDR_LEN);
      if (rnd.chance(0.001)) batch.lengths[i] = -1;
      sizes.push(Math.max(0, batch.lengths[i]));
      authentic.push(
        !stranger && batch.lengths[i] >= 16 && pkt.subarray(0, 8).every((b, j) => b === cid[j]),
      );
    }
    batch.count = 64;
    router.handleBatch(batch, 4, sock, NOW);
    router.forward.writers.forEach((w, j) => {
      if (w.count === 0) return;
      handleRequestBatch(swarms[j], access, w.buf.slice(0, w.len), back, NOW);
      w.len = w.count = 0;
      router.handleResponses(back.buf.slice(0, back.len), [sock, null]);
      back.len = back.count = 0;
    });
    for (const [key, list] of replies) {
      const i = key;
      for (const r of list) {
        answered++;
        const decoded = decodeResponse(r, false); // throws on a malformed response
        assert.ok(decoded.action >= 0 && decoded.action <= 3);
        if (!authentic[i]) {
          unauthenticatedAnswers++;
          assert.equal(decoded.action, 0, "only connects are answered without a valid ID");
          assert.ok(
            r.length <= sizes[i],
            `a ${r.length}-byte reply to a ${sizes[i]}-byte datagram`,
          );
        }
      }
    }
  }
  console.log(
    `fuzz udp: ${sent} datagrams (seed ${SEED}), ${answered} answers, ${unauthenticatedAnswers} to connects`,
  );
  // Beyond connects: the authenticated requests reached the swarms and were answered.
  assert.ok(answered - unauthenticatedAnswers > 10000, "the mutations reached the swarms");
});

Deno.test("fuzz: 100,000 mutated WebTorrent messages through connections and swarms", () => {
  const rnd = prng(SEED + 1);
  const outbox = new BatchOutbox(), toSocket: (Batch | Uint8Array)[] = [];
  const link = {
    postMessage: (m: unknown) => toSocket.push(m as Batch),
    sendBytes: (b: Uint8Array, len: number) => toSocket.push(b.slice(0, len)),
  } as unknown as Link;
  const swarms = new WsSwarms({ interval: 120, maxOfferAge: 60, maxOffers: 10 }, outbox);
  const sent: string[] = [];
  const peers: Peer[] = [];
  const conns = new Connections(new Sharder(new Uint32Array([1, 2]), 1), 1, {
    maxOffers: 10,
    maxScrapeTorrents: 20,
    maxOutgoingBuffer: 1 << 20,
    maxIdle: 1000,
  }, () => {});
  const ids: number[] = [];
  for (let i = 0; i < 20; i++) {
    const peer: Peer = {
      send: (t) => sent.push(t),
      sendFrames: (b, off, len) => sent.push(...readServerTexts(b, off, len)),
      close: () => {},
      bufferedAmount: 0,
    };
    peers.push(peer);
    ids.push(conns.open(peer, `10.0.0.${i}`, 1000));
  }
  const b20 = () => String.fromCharCode(...Array.from({ length: 20 }, () => rnd.below(256)));
  const hashes = Array.from({ length: 5 }, b20), peerIds = Array.from({ length: 20 }, b20);
  const values = () => {
    const pick = rnd.below(12);
    return [null, true, 0, -1, 1e308, "x", "", b20(), b20().slice(1), [], {}, [b20()]][pick];
  };
  const template = (i: number) => {
    const kind = rnd.below(4);
    if (kind === 0) {
      return { action: "scrape", info_hash: rnd.chance(0.5) ? hashes[rnd.below(5)] : hashes };
    }
    const m: Record<string, unknown> = {
      action: "announce",
      info_hash: hashes[rnd.below(5)],
      peer_id: peerIds[i],
      left: rnd.below(2),
    };
    if (kind === 2) {
      m.offers = Array.from(
        { length: rnd.below(15) },
        () => ({ offer_id: b20(), offer: { type: "offer", sdp: "v=0" } }),
      );
    }
    if (kind === 3) {
      Object.assign(m, {
        to_peer_id: peerIds[rnd.below(20)],
        offer_id: b20(),
        answer: { type: "answer", sdp: "v=0" },
      });
    }
    return m;
  };
  let failures = 0;
  for (let n = 0; n < 100_000; n++) {
    const i = rnd.below(20);
    const m = template(i) as Record<string, unknown>;
    // Mutate: replace, delete or add fields, nest deeply, truncate or garble the text.
    for (let k = rnd.below(3); k > 0; k--) {
      const keys = Object.keys(m);
      const key = rnd.chance(0.8)
        ? keys[rnd.below(keys.length)]
        : ["event", "numwant", "offers", "x"][rnd.below(4)];
      if (rnd.chance(0.3)) delete m[key];
      else m[key] = values();
    }
    let text = JSON.stringify(m);
    if (rnd.chance(0.05)) text = "[".repeat(rnd.below(5000)) + "]".repeat(rnd.below(5000));
    if (rnd.chance(0.05)) text = text.slice(0, rnd.below(text.length + 1));
    if (rnd.chance(0.05)) {
      text = text.replace(
        /./g,
        (c) => (rnd.chance(0.05) ? String.fromCharCode(rnd.below(0x3000)) : c),
      );
    }
    // As the engine hands them over: bytes to the fast path, decoded text when it declines.
    if (!conns.message(ids[i], enc.encode(text), 1000)) conns.text(ids[i], text, 1000);
    // The request worker's side, then delivery back, each batch copied as a link would.
    const batch = conns.batches[0];
    swarms.receive(0, batch.buf.slice(0, batch.len), 1000);
    batch.len = 0;
    outbox.flush([link]);
    for (const b of toSocket.splice(0)) conns.deliver(structuredClone(b));
  }
  for (const t of sent) {
    const r = JSON.parse(t); // every reply is JSON
    assert.ok(typeof r === "object" && r !== null);
    if ("failure reason" in r) failures++;
    else assert.ok(r.action === "announce" || r.action === "scrape", t.slice(0, 100));
  }
  console.log(
    `fuzz ws: 100000 messages (seed ${SEED + 1}), ${sent.length} replies, ${failures} failures`,
  );
  assert.ok(sent.length > 50_000 && failures > 1000 && failures < sent.length);
});

Deno.test("fuzz: random byte streams through the WebSocket engine", () => {
  const rnd = prng(SEED + 2);
  const upgrade = new TextEncoder().encode(
    "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  let closes = 0, texts = 0;
  for (let n = 0; n < 20_000; n++) {
    let ended = false;
    const ws = new WireConnection(
      { write: () => {}, queued: 0, end: () => (ended = true), pause: () => {} },
      {
        maxFrameSize: 4096,
        maxMessageSize: 8192,
        healthCheck: true,
        ipHeader: null,
      },
      {
        open: () => true,
        // The fast path's scanner reads whatever the engine accepts as a text message.
        message: (_w, b) => scanMessage(b, 10, scanned) && ++texts > 0,
        text: () => texts++,
        closed: () => closes++,
      },
      "10.0.0.1",
    );
    if (rnd.chance(0.8)) ws.receive(upgrade, 0, upgrade.length);
    const stream = new Uint8Array(rnd.below(600));
    for (let j = 0; j < stream.length; j++) stream[j] = rnd.next();
    // Mostly plausible frames: a FIN text header with a mask bit, sometimes.
    if (stream.length > 2 && rnd.chance(0.5)) {
      stream[0] = 0x81;
      stream[1] = 0x80 | rnd.below(126);
    }
    for (let at = 0; at < stream.length;) {
      const step = 1 + rnd.below(64);
      ws.receive(stream, at, Math.min(step, stream.length - at));
      at += step;
    }
    ws.gone();
    assert.ok(ended || ws.done);
  }
  console.log(`fuzz wire: 20000 streams (seed ${SEED + 2}), ${texts} messages, ${closes} closes`);
});
