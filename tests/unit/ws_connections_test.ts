/**
 * A ws socket worker's connection table (`Connections`) without sockets: peers that record
 * what is sent to them, request workers' `WsSwarms` run in this thread, and their batches
 * copied each way as the links would.
 */
import assert from "assert";
import {
  type ConnectionLimits,
  Connections,
  MAX_INVALID_IN_A_ROW,
  MAX_PENDING_SCRAPES_PER_CONNECTION,
  type Peer,
  SCRAPE_TIMEOUT_S,
} from "../../ws/connections.ts";
import { type Batch, readRequests } from "../../ws/messages.ts";
import { BatchOutbox } from "../../ws/outbox.ts";
import { WsSwarms } from "../../ws/swarms.ts";
import { CloseCode } from "../../ws/wire.ts";
import { writeTextFrame } from "../../ws/frames.ts";
import { beginFrames, endFrames } from "../../ws/messages.ts";
import { ByteBuffer } from "../../shared/base/byte_buffer.ts";
import type { Link } from "../../shared/runtime/link.ts";
import { Sharder } from "../../shared/store/shard.ts";
import { readServerTexts } from "../helpers/server_frames.ts";

const NOW = 5000;
const KEY = new Uint32Array([1, 2]);
const enc = new TextEncoder();

/** A connection's far end: what it was sent (parsed), and how it was closed. */
class FakePeer implements Peer {
  got: Record<string, unknown>[] = [];
  closes: [number, string][] = [];
  bufferedAmount = 0;
  send(text: string): void {
    this.got.push(JSON.parse(text));
  }
  sendFrames(b: Uint8Array, off: number, len: number): void {
    for (const t of readServerTexts(b, off, len)) this.got.push(JSON.parse(t));
  }
  close(code: number, reason: string): void {
    this.closes.push([code, reason]);
  }
  /** What it was sent since the last call. */
  take(): Record<string, unknown>[] {
    const g = this.got;
    this.got = [];
    return g;
  }
}

/** A 20-character binary string of code points from `seed` (some above 127). */
function bin(seed: number): string {
  return String.fromCharCode(...Array.from({ length: 20 }, (_, i) => (seed * 37 + i * 11) % 256));
}

/** One socket worker's `Connections` and `shards` request workers' swarms, in this thread. */
class Harness {
  conns: Connections;
  sharder: Sharder;
  swarms: WsSwarms[];
  batchesBegun = 0;

  constructor(shards = 3, limits: Partial<ConnectionLimits> = {}) {
    this.sharder = new Sharder(KEY, shards);
    this.conns = new Connections(new Sharder(KEY, shards), shards, {
      maxOffers: 10,
      maxScrapeTorrents: 50,
      maxOutgoingBuffer: 1 << 20,
      maxIdle: 100,
      ...limits,
    }, () => this.batchesBegun++);
    this.swarms = Array.from(
      { length: shards },
      () => new WsSwarms({ interval: 120, maxOfferAge: 60, maxOffers: 10 }, new BatchOutbox()),
    );
  }

  open(ip = "10.0.0.1"): { id: number; peer: FakePeer } {
    const peer = new FakePeer();
    return { id: this.conns.open(peer, ip, NOW), peer };
  }

  /** A text message from connection `id`, handed over as the WebSocket engine does. */
  say(id: number, m: unknown, now = NOW): void {
    const text = typeof m === "string" ? m : JSON.stringify(m);
    if (!this.conns.message(id, enc.encode(text), now)) this.conns.text(id, text, now);
  }

  /** The request workers that have a batch waiting. */
  waiting(): number[] {
    return this.conns.batches.flatMap((b, j) => (b.len > 0 ? [j] : []));
  }

  /** What waits for request worker `j`, read as the request worker reads it. */
  requests(j: number): string[] {
    const b = this.conns.batches[j], out: string[] = [];
    readRequests(b.buf.slice(0, b.len), {
      announce: (conn) => out.push(`announce ${conn}`),
      answer: (conn) => out.push(`answer ${conn}`),
      scrape: (conn, _id, hashes) => out.push(`scrape ${conn} ${hashes.length}`),
      closed: (conn) => out.push(`closed ${conn}`),
    });
    return out;
  }

  /**
   * Request workers (in `order`, all by default) take their batches, and what they send back
   * is delivered, each batch copied (bytes) or cloned (scrape counts) as a link would.
   */
  serve(order = this.swarms.map((_, j) => j), now = NOW): void {
    for (const j of order) {
      const b = this.conns.batches[j];
      if (b.len === 0) continue;
      const bytes = b.buf.slice(0, b.len);
      b.len = 0;
      this.swarms[j].receive(0, bytes, now);
      const back: (Batch | Uint8Array)[] = [];
      const link = {
        postMessage: (m: unknown) => back.push(structuredClone(m as Batch)),
        sendBytes: (x: Uint8Array, len: number) => back.push(x.slice(0, len)),
      } as unknown as Link;
      this.swarms[j].flush([link]);
      for (const m of back) this.conns.deliver(m);
    }
  }
}

/** Info hashes, `n` of them on each of `shards` request workers. */
function hashesPerShard(sharder: Sharder, shards: number, n: number): string[][] {
  const out: string[][] = Array.from({ length: shards }, () => []);
  for (let seed = 1; out.some((l) => l.length < n); seed++) {
    const h = bin(seed), l = out[sharder.ofString(h)];
    if (l.length < n) l.push(h);
  }
  return out;
}

Deno.test("ws connections: announces go to the request worker of their info hash", () => {
  const h = new Harness(3);
  const a = h.open(), b = h.open("10.0.0.2");
  const byShard = hashesPerShard(h.sharder, 3, 2);
  for (const [j, hashes] of byShard.entries()) {
    for (const info of hashes) {
      h.say(a.id, { action: "announce", info_hash: info, peer_id: bin(900 + j), left: 0 });
    }
  }
  assert.equal(h.batchesBegun, 3, "one flush asked for per batch begun");
  for (let j = 0; j < 3; j++) {
    assert.deepEqual(h.requests(j), [`announce ${a.id}`, `announce ${a.id}`], `worker ${j}`);
  }
  h.serve([2, 0, 1]);
  const replies = a.peer.take();
  assert.deepEqual(
    replies.map((r) => r.info_hash).sort(),
    byShard.flat().sort(),
    "each announce answered",
  );
  assert.ok(replies.every((r) => r.complete === 1 && r.incomplete === 0));
  // An offer reaches the other peer through the request worker of its torrent, and the
  // answer comes back along it.
  const info = byShard[1][0];
  h.say(b.id, {
    action: "announce",
    info_hash: info,
    peer_id: bin(800),
    left: 5,
    offers: [{ offer_id: bin(801), offer: { type: "offer", sdp: "v=0 offer" } }],
  });
  assert.deepEqual(h.waiting(), [1]);
  h.serve();
  const [offer] = a.peer.take();
  assert.deepEqual(offer, {
    action: "announce",
    info_hash: info,
    peer_id: bin(800),
    offer_id: bin(801),
    offer: { type: "offer", sdp: "v=0 offer" },
  });
  h.say(a.id, {
    action: "announce",
    info_hash: info,
    peer_id: bin(901),
    to_peer_id: bin(800),
    offer_id: bin(801),
    answer: { type: "answer", sdp: "v=0 answer" },
  });
  assert.deepEqual(h.requests(1), [`answer ${a.id}`]);
  h.serve();
  const got = b.peer.take();
  assert.deepEqual(got.at(-1)?.answer, { type: "answer", sdp: "v=0 answer" });
  assert.deepEqual(
    [h.conns.counters.announces, h.conns.counters.answers],
    [7, 1],
  );
});

Deno.test("ws connections: the fast path and the general path queue the same request", () => {
  const msg = {
    action: "announce",
    info_hash: bin(1),
    peer_id: bin(2),
    left: 0,
    event: "started",
    offers: [{ offer_id: bin(3), offer: { type: "offer", sdp: "v=0\r\no=- 1 2 IN IP4 x" } }],
  };
  const fast = new Harness(1), general = new Harness(1);
  const f = fast.open(), g = general.open();
  assert.ok(fast.conns.message(f.id, enc.encode(JSON.stringify(msg)), NOW), "scanned");
  general.conns.text(g.id, JSON.stringify(msg), NOW);
  const [bf, bg] = [fast.conns.batches[0], general.conns.batches[0]];
  assert.ok(bf.len > 48);
  assert.deepEqual(bf.buf.slice(0, bf.len), bg.buf.slice(0, bg.len));
});

Deno.test("ws connections: a scrape over several request workers gets one merged reply", () => {
  const h = new Harness(3);
  const byShard = hashesPerShard(h.sharder, 3, 2);
  const seeder = h.open(), leecher = h.open("10.0.0.2"), asker = h.open("10.0.0.3");
  for (const info of byShard.flat()) {
    h.say(seeder.id, { action: "announce", info_hash: info, peer_id: bin(50), left: 0 });
  }
  for (const info of byShard[0]) {
    h.say(leecher.id, { action: "announce", info_hash: info, peer_id: bin(51), left: 9 });
  }
  h.serve();
  const unknown = bin(7777);
  h.say(asker.id, { action: "scrape", info_hash: [...byShard.flat(), unknown] });
  assert.ok(h.waiting().length >= 3, "a part for each request worker holding a hash");
  h.serve([h.waiting()[0]]);
  assert.deepEqual(asker.peer.take(), [], "no reply before every part is back");
  h.serve();
  const [reply] = asker.peer.take();
  assert.equal(reply.action, "scrape");
  const files = reply.files as Record<string, Record<string, number>>;
  assert.equal(Object.keys(files).length, 7);
  for (const info of byShard.flat()) {
    const leechers = byShard[0].includes(info) ? 1 : 0;
    assert.deepEqual(files[info], { complete: 1, incomplete: leechers, downloaded: 0 });
  }
  assert.deepEqual(files[unknown], { complete: 0, incomplete: 0, downloaded: 0 });
  // A single hash as a string.
  h.say(asker.id, { action: "scrape", info_hash: byShard[2][0] });
  h.serve();
  assert.deepEqual(Object.keys(asker.peer.take()[0].files as object), [byShard[2][0]]);
  assert.equal(h.conns.counters.scrapes, 2);
});

Deno.test("ws connections: a closed connection leaves the request workers it used, and only those", () => {
  const h = new Harness(3);
  const byShard = hashesPerShard(h.sharder, 3, 1);
  const a = h.open(), b = h.open("10.0.0.2");
  for (const j of [0, 2]) {
    h.say(a.id, { action: "announce", info_hash: byShard[j][0], peer_id: bin(60), left: 1 });
    h.say(b.id, { action: "announce", info_hash: byShard[j][0], peer_id: bin(61), left: 1 });
  }
  h.serve();
  assert.equal(a.peer.take().length, 2);
  assert.deepEqual(h.swarms.map((s) => s.peers), [2, 0, 2]);
  h.conns.closed(a.id);
  assert.deepEqual(h.waiting(), [0, 2]);
  assert.deepEqual(h.requests(0), [`closed ${a.id}`]);
  h.serve();
  assert.deepEqual(h.swarms.map((s) => s.peers), [1, 0, 1], "its peers left at once");
  assert.equal(h.conns.size, 1);
  // Nothing reaches it any more; what was on its way is counted, not delivered.
  h.say(a.id, { action: "announce", info_hash: byShard[1][0], peer_id: bin(60), left: 1 });
  assert.deepEqual(h.waiting(), []);
  const frames = new ByteBuffer(256);
  const at = beginFrames(frames, a.id);
  const payload = writeTextFrame(frames, '{"action":"announce"}');
  endFrames(frames, at, 1, payload);
  h.conns.deliver(frames.buf.slice(0, frames.len));
  assert.deepEqual(a.peer.take(), []);
  assert.equal(h.conns.counters.undeliverable, 1);
  // A close for a protocol violation counts as one.
  h.conns.closed(b.id, CloseCode.TooBig);
  assert.deepEqual([h.conns.counters.closed, h.conns.counters.violations], [2, 1]);
});

Deno.test("ws connections: limits in all and per IP", () => {
  const h = new Harness(1, { maxConnections: 3, maxConnectionsPerIp: 2 });
  const a = h.open("10.0.0.1");
  h.open("10.0.0.1");
  assert.equal(h.open("10.0.0.1").id, 0, "a third from one IP is refused");
  assert.ok(h.open("10.0.0.2").id > 0);
  assert.equal(h.open("10.0.0.3").id, 0, "a fourth in all is refused");
  assert.deepEqual([h.conns.refusedPerIp, h.conns.refusedTotal, h.conns.size], [1, 1, 3]);
  h.conns.closed(a.id);
  assert.ok(h.open("10.0.0.1").id > 0, "room again once one closed");
});

Deno.test("ws connections: the sweep closes idle connections and forgets stale scrapes", () => {
  const h = new Harness(2, { maxIdle: 100 });
  const quiet = h.open(), talker = h.open("10.0.0.2");
  h.say(talker.id, { action: "announce", info_hash: bin(1), peer_id: bin(2) }, NOW + 50);
  h.serve();
  assert.equal(talker.peer.take().length, 1);
  h.conns.sweep(NOW + 100);
  assert.deepEqual(quiet.peer.closes, [], "idle for maxIdle is allowed");
  h.conns.sweep(NOW + 101);
  assert.deepEqual(quiet.peer.closes, [[CloseCode.Normal, "idle"]]);
  assert.deepEqual(talker.peer.closes, []);
  assert.deepEqual([h.conns.counters.idle, h.conns.size], [1, 1]);
  // Scrapes whose parts do not come back: a connection may have only so many waiting ...
  const t = NOW + 200;
  for (let i = 0; i < MAX_PENDING_SCRAPES_PER_CONNECTION; i++) {
    h.say(talker.id, { action: "scrape", info_hash: bin(10 + i) }, t);
  }
  const tooMany = [{ "failure reason": "too many scrapes at once", action: "scrape" }];
  h.say(talker.id, { action: "scrape", info_hash: bin(20) }, t);
  assert.deepEqual(talker.peer.take(), tooMany);
  // ... until the sweep gives up on them.
  h.conns.sweep(t + SCRAPE_TIMEOUT_S);
  h.say(talker.id, { action: "scrape", info_hash: bin(20) }, t);
  assert.deepEqual(talker.peer.take(), tooMany, "not stale yet");
  h.conns.sweep(t + SCRAPE_TIMEOUT_S + 1);
  h.say(talker.id, { action: "scrape", info_hash: bin(21) }, t + 6);
  assert.deepEqual(talker.peer.take(), [], "room again");
  h.serve(); // the parts of the dropped scrapes come back late: no reply for them
  const replies = talker.peer.take();
  assert.equal(replies.length, 1);
  assert.deepEqual(Object.keys(replies[0].files as object), [bin(21)]);
});

Deno.test("ws connections: invalid messages get a failure reason; a flood of them a close", () => {
  const h = new Harness(1);
  const { id, peer } = h.open();
  h.say(id, { action: "announce", info_hash: "short", peer_id: bin(1) });
  assert.deepEqual(peer.take(), [
    { "failure reason": "invalid info_hash", action: "announce" },
  ]);
  for (let i = 1; i < MAX_INVALID_IN_A_ROW; i++) h.say(id, "{not json");
  h.say(id, { action: "scrape", info_hash: bin(1) }); // a valid one resets the count
  h.say(id, "{not json");
  assert.deepEqual(peer.closes, []);
  const failures = peer.take();
  assert.equal(failures.length, MAX_INVALID_IN_A_ROW);
  assert.ok(failures.every((m) => m["failure reason"] === "invalid JSON"));
  for (let i = 1; i < MAX_INVALID_IN_A_ROW; i++) h.say(id, "[");
  assert.deepEqual(peer.closes, [[CloseCode.Policy, "too many invalid messages"]]);
  assert.equal(h.conns.size, 0);
  assert.equal(h.conns.counters.violations, 1);
  assert.equal(h.conns.counters.invalid, 2 * MAX_INVALID_IN_A_ROW);
});

Deno.test("ws connections: a peer that does not read is closed once too much waits for it", () => {
  const h = new Harness(1, { maxOutgoingBuffer: 1000 });
  const slow = h.open(), fine = h.open("10.0.0.2");
  h.say(slow.id, { action: "announce", info_hash: bin(1), peer_id: bin(2), left: 0 });
  h.say(fine.id, { action: "announce", info_hash: bin(1), peer_id: bin(3), left: 0 });
  slow.peer.bufferedAmount = 1001;
  h.serve();
  assert.deepEqual(slow.peer.closes, [[CloseCode.TryAgainLater, "too slow: outgoing buffer full"]]);
  assert.deepEqual(fine.peer.closes, []);
  assert.equal(fine.peer.take().length, 1);
  assert.equal(h.conns.counters.slow, 1);
});
