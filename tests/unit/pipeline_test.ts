/**
 * The socket-worker router and the request-worker batch logic wired together in one thread:
 * the whole data path without sockets or workers.
 */
import assert from "assert";
import { Router, type Sender } from "../../udp/router.ts";
import { handleRequestBatch } from "../../core/request_batch.ts";
import { Swarms } from "../../core/swarms.ts";
import { BatchWriter } from "../../shared/runtime/channel.ts";
import { encodeAddr, formatAddrIp } from "../../shared/net/address.ts";
import { ADDR_LEN, type PacketBatch, type SendParts } from "../../udp/io.ts";
import {
  AnnounceEvent,
  decodeResponse,
  encodeAnnounceRequest,
  encodeConnectRequest,
  encodeScrapeRequest,
  type Response,
} from "../../udp/codec.ts";
import { Stat } from "../../udp/stats.ts";
import { AccessList } from "../../shared/store/access_list.ts";

const NOW = 1_700_000_000;

class Recorder implements Sender {
  sent: { to: string; bytes: Uint8Array }[] = [];
  send(p: Uint8Array, off: number, len: number, addrs: Uint8Array, a: number): void {
    const port = (addrs[a + 16] << 8) | addrs[a + 17];
    this.sent.push({ to: `${formatAddrIp(addrs, a)}:${port}`, bytes: p.slice(off, off + len) });
  }
  sendParts: SendParts = (head, headLen, body, off, len, addrs, a) => {
    const b = new Uint8Array(headLen + len);
    b.set(head.subarray(0, headLen));
    b.set(body.subarray(off, off + len), headLen);
    this.send(b, 0, b.length, addrs, a);
  };
}

class Harness {
  router: Router;
  swarms: Swarms[];
  back: BatchWriter[];
  sock = new Recorder();
  access = new AccessList();
  constructor(shards: number, maxScrape = 255) {
    this.router = new Router({
      requestWorkers: shards,
      maxScrapeTorrents: maxScrape,
      maxConnectionAge: 300,
      responsePeers: { 4: 50, 6: 50 },
      connectionKey: new Uint32Array([9, 8, 7, 6]),
      cluster: null,
      shardKey: new Uint32Array([1, 2]),
    });
    this.swarms = Array.from(
      { length: shards },
      (_, i) => new Swarms({ interval: 900 }, new Uint32Array([i, 2, 3, 4])),
    );
    this.back = this.swarms.map(() => new BatchWriter());
  }

  /** Sends datagrams from `host:port` through the whole path; returns what was answered. */
  roundTrip(packets: Uint8Array[], host: string, port: number, now = NOW): Response[] {
    const data = new Uint8Array(65536);
    const offsets = new Int32Array(packets.length);
    const lengths = new Int32Array(packets.length);
    const addrs = new Uint8Array(packets.length * ADDR_LEN);
    let o = 0;
    packets.forEach((p, i) => {
      data.set(p, o);
      offsets[i] = o;
      lengths[i] = p.length;
      o += p.length;
      encodeAddr(host, port, addrs, i * ADDR_LEN);
    });
    const batch: PacketBatch = { count: packets.length, data, offsets, lengths, addrs };
    const family = host.includes(":") ? 6 : 4;
    this.sock.sent = [];
    this.router.handleBatch(batch, family, this.sock, now);
    // Each request worker answers its batch; responses go back through the router.
    this.router.forward.writers.forEach((w, j) => {
      if (w.count === 0) return;
      const msg = new Uint8Array(w.buf.slice(0, w.len));
      w.len = 0;
      w.count = 0;
      handleRequestBatch(this.swarms[j], this.access, msg, this.back[j], now);
      const res = this.back[j];
      this.router.handleResponses(res.buf.slice(0, res.len), [this.sock, this.sock]);
      res.len = 0;
      res.count = 0;
    });
    return this.sock.sent.map((s) => decodeResponse(s.bytes, family === 6));
  }

  connect(host: string, port: number): Uint8Array {
    const [r] = this.roundTrip([encodeConnectRequest(1)], host, port);
    assert.equal(r.action, 0);
    return (r as { connectionId: Uint8Array }).connectionId;
  }
}

function hash(n: number): Uint8Array {
  const h = new Uint8Array(20);
  new DataView(h.buffer).setUint32(0, n * 2654435761);
  return h;
}

function ann(cid: Uint8Array, torrent: number, peer: number, extra = {}) {
  return encodeAnnounceRequest({
    connectionId: cid,
    transactionId: 1000 + peer,
    infoHash: hash(torrent),
    peerId: new Uint8Array(20).fill(peer),
    left: 10n,
    port: 6000 + peer,
    ...extra,
  });
}

Deno.test("pipeline: connect, announce and see each other across request workers", () => {
  const h = new Harness(3);
  const c1 = h.connect("10.0.0.1", 5000);
  const c2 = h.connect("10.0.0.2", 5000);
  assert.equal(h.roundTrip([ann(c1, 1, 1)], "10.0.0.1", 5000).length, 1);
  const [r] = h.roundTrip([ann(c2, 1, 2)], "10.0.0.2", 5000);
  assert.equal(r.action, 1);
  assert.equal(r.transactionId, 1002);
  if (r.action === 1) assert.deepEqual(r.peers, ["10.0.0.1:6001"]);
  // Many torrents end up on every request worker.
  for (let t = 0; t < 30; t++) h.roundTrip([ann(c1, 100 + t, 1)], "10.0.0.1", 5000);
  assert.ok(h.swarms.every((s) => s.torrents.size > 0), "all shards used");
  assert.equal(h.swarms.reduce((n, s) => n + s.torrents.size, 0), 31);
});

Deno.test("pipeline: requests without a valid connection ID get no answer at all", () => {
  const h = new Harness(2);
  const c1 = h.connect("10.0.0.1", 5000);
  const forged = c1.slice();
  forged[7] ^= 0x40;
  const replies = h.roundTrip(
    [
      ann(forged, 1, 1),
      ann(new Uint8Array(8), 1, 1),
      encodeScrapeRequest(forged, 1, [hash(1)]),
      new Uint8Array(16), // connect without magic
      new Uint8Array(5),
    ],
    "10.0.0.1",
    5000,
  );
  assert.equal(replies.length, 0);
  // Someone else's ID: no answer either.
  assert.equal(h.roundTrip([ann(c1, 1, 1)], "10.0.0.9", 5000).length, 0);
  // Expired ID.
  assert.equal(h.roundTrip([ann(c1, 1, 1)], "10.0.0.1", 5000, NOW + 301).length, 0);
  const c = h.router.counters;
  assert.equal(c[Stat.BadConnectionId], 5);
  assert.equal(c[Stat.Invalid], 2);
});

Deno.test("pipeline: malformed requests with a valid ID get error responses", () => {
  const h = new Harness(1);
  const cid = h.connect("10.0.0.1", 5000);
  const short = ann(cid, 1, 1).subarray(0, 60);
  const noHash = encodeScrapeRequest(cid, 4, []);
  const badAction = encodeScrapeRequest(cid, 5, []);
  badAction[11] = 7;
  const replies = h.roundTrip(
    [
      short,
      noHash,
      badAction,
      ann(cid, 1, 1, { port: 0 }),
      ann(cid, 1, 1, { event: 9 }),
    ],
    "10.0.0.1",
    5000,
  );
  assert.deepEqual(
    replies.map((r) => r.action === 3 ? r.message : `action ${r.action}`),
    [
      "invalid announce request: too short",
      "invalid scrape request: no info hash",
      "invalid action",
      "invalid announce request: port 0",
      "invalid announce request: unknown event",
    ],
  );
  assert.equal(h.swarms[0].peers, 0);
});

Deno.test("pipeline: a scrape over several request workers is merged in order and cut", () => {
  const h = new Harness(4, 20);
  const cid = h.connect("10.0.0.1", 5000);
  for (let t = 0; t < 25; t++) {
    for (let p = 0; p <= t % 3; p++) {
      h.roundTrip([ann(cid, t, p, { left: p === 0 ? 0n : 5n })], "10.0.0.1", 5000);
    }
  }
  h.roundTrip([ann(cid, 3, 9, { left: 0n, event: AnnounceEvent.Completed })], "10.0.0.1", 5000);
  const hashes = Array.from({ length: 25 }, (_, t) => hash(t));
  hashes[4] = hash(999); // unknown
  const [r] = h.roundTrip([encodeScrapeRequest(cid, 77, hashes)], "10.0.0.1", 5000);
  assert.equal(r.action, 2);
  if (r.action !== 2) return;
  assert.equal(r.transactionId, 77);
  assert.equal(r.torrents.length, 20, "cut at max_scrape_torrents");
  r.torrents.forEach((e, t) => {
    if (t === 4) return assert.deepEqual(e, { seeders: 0, completed: 0, leechers: 0 });
    const want = t === 3
      ? { seeders: 2, completed: 1, leechers: 0 }
      : { seeders: 1, completed: 0, leechers: t % 3 };
    assert.deepEqual(e, want, `torrent ${t}`);
  });
  assert.equal(h.router.forward.pending.inFlight, 0);
});

Deno.test("pipeline: IPv6 peers get 18-byte peers of their own family only", () => {
  const h = new Harness(2);
  const c4 = h.connect("10.0.0.1", 5000);
  const c6 = h.connect("2001:db8::1", 5000);
  const c6b = h.connect("2001:db8::2", 5000);
  h.roundTrip([ann(c4, 1, 1)], "10.0.0.1", 5000);
  h.roundTrip([ann(c6, 1, 2)], "2001:db8::1", 5000);
  const [r] = h.roundTrip([ann(c6b, 1, 3)], "2001:db8::2", 5000);
  assert.ok(r.action === 1);
  if (r.action === 1) {
    assert.deepEqual(r.peers, ["[2001:db8:0:0:0:0:0:1]:6002"]);
    assert.equal(r.leechers, 3, "both families, and the announcer");
  }
});
