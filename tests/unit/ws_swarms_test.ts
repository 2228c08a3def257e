import assert from "assert";
import { WsSwarms } from "../../ws/swarms.ts";
import { PENDING_OFFERS_PER_ANNOUNCE } from "../../ws/torrent.ts";
import type { Outbox } from "../../ws/outbox.ts";
import {
  type AnnounceIn,
  type AnswerIn,
  binaryString,
  pushScanned,
  readRequests,
  type ScrapeEntry,
} from "../../ws/messages.ts";
import {
  announceReply,
  type AnnounceRequest,
  answerMessage,
  type AnswerRequest,
  offerMessage,
  WsEvent,
} from "../../ws/protocol.ts";
import { fromRequest, Scanned } from "../../ws/scan.ts";
import { ByteBuffer } from "../../shared/base/byte_buffer.ts";
import { ClusterShards, handOffArg, SHARDS } from "../../shared/store/cluster_shards.ts";

const H = "h".repeat(20);

class Recorder implements Outbox {
  sent: { worker: number; conn: number; msg: Record<string, unknown> }[] = [];
  scrapes: { worker: number; conn: number; id: number; files: ScrapeEntry[] }[] = [];
  send(worker: number, conn: number, msg: string) {
    this.sent.push({ worker, conn, msg: JSON.parse(msg) });
  }
  announced: Outbox["announced"] = (worker, conn, src, hashAt, interval, complete, incomplete) =>
    this.send(
      worker,
      conn,
      announceReply(binaryString(src, hashAt), interval, complete, incomplete),
    );
  forward: Outbox["forward"] = (worker, conn, kind, src, hashAt, fromAt, offerIdAt, sdpAt, len) => {
    const make = kind === "offer" ? offerMessage : answerMessage;
    const text = new TextDecoder().decode(src.subarray(sdpAt, sdpAt + len));
    const [h, from, id] = [hashAt, fromAt, offerIdAt].map((at) => binaryString(src, at));
    this.send(worker, conn, make(h, from, id, { type: kind, sdp: JSON.parse(`"${text}"`) }));
  };
  scrape(worker: number, conn: number, id: number, files: ScrapeEntry[]) {
    this.scrapes.push({ worker, conn, id, files });
  }
  flush() {}
  drop() {}
  take() {
    const s = this.sent;
    this.sent = [];
    return s;
  }
}

function setup(maxOffers = 10) {
  const out = new Recorder();
  const s = new WsSwarms({ interval: 120, maxOfferAge: 60, maxOffers }, out);
  return { s, out };
}

const pid = (n: number) => `peer${n}`.padEnd(20, ".");
const oid = (n: number) => `offer${n}`.padEnd(20, ".");

/**
 * `r` as a request worker reads it: through the socket worker's record and the batch reader,
 * as in the tracker. (The reader reuses one object: use it before making the next.)
 */
function asRead<T extends AnnounceIn | AnswerIn>(r: AnnounceRequest | AnswerRequest): T {
  const m = new Scanned(), w = new ByteBuffer();
  fromRequest(r, m, new ByteBuffer());
  pushScanned(w, 0, m);
  let got: AnnounceIn | AnswerIn | undefined;
  readRequests(w.buf.subarray(0, w.len), {
    announce: (_, x) => (got = x),
    answer: (_, x) => (got = x),
    scrape: () => {},
    closed: () => {},
  });
  return got as T;
}

function ann(peer: number, extra: Partial<AnnounceRequest> = {}): AnnounceIn {
  return asRead({
    kind: "announce",
    infoHash: H,
    peerId: pid(peer),
    event: 0,
    seeder: false,
    uploaded: 0,
    downloaded: 0,
    offers: [],
    ...extra,
  });
}

function offers(n: number, from = 0) {
  return Array.from(
    { length: n },
    (_, i) => ({ offerId: oid(from + i), offer: { type: "offer", sdp: `s${i}` } }),
  );
}

function answer(peer: number, to: number, offer: number): AnswerIn {
  return asRead({
    kind: "answer",
    infoHash: H,
    peerId: pid(peer),
    toPeerId: pid(to),
    offerId: oid(offer),
    answer: { type: "answer", sdp: "a" },
  });
}

Deno.test("ws swarms: announce replies with counts; stopped and closed peers leave", () => {
  const { s, out } = setup();
  s.announce(0, 1, ann(1, { seeder: true }), 100);
  s.announce(1, 2, ann(2), 100);
  const [r] = out.take().filter((x) => x.conn === 2);
  assert.deepEqual(r.msg, {
    action: "announce",
    info_hash: H,
    interval: 120,
    complete: 1,
    incomplete: 1,
  });
  s.announce(1, 2, ann(2, { event: 2 }), 101);
  assert.deepEqual(out.take()[0].msg.incomplete, 0);
  assert.equal(s.peers, 1);
  s.closed(0, 1);
  assert.equal(s.peers, 0);
  assert.equal(s.seeders, 0);
  assert.equal(s.connTorrents.size, 0);
});

Deno.test("ws swarms: offers go to distinct random peers, never the sender; seeders offer to leechers", () => {
  const { s, out } = setup(5);
  for (let p = 1; p <= 20; p++) s.announce(p % 3, p, ann(p, { seeder: p <= 10 }), 100);
  out.take();
  const receivers = new Set<string>();
  for (let round = 0; round < 30; round++) {
    s.announce(0, 3, ann(3, { seeder: true, offers: offers(5, round * 5) }), 100);
    const sent = out.take().filter((x) => x.msg.offer !== undefined);
    assert.equal(sent.length, 5);
    const to = new Set(sent.map((x) => x.conn));
    assert.equal(to.size, 5, "distinct peers");
    assert.ok(!to.has(3), "never the sender");
    for (const x of sent) {
      assert.ok(x.conn > 10, "a seeder's offers go to leechers");
      assert.equal(x.worker, x.conn % 3, "routed to the worker holding that peer");
      assert.equal(x.msg.peer_id, pid(3));
      receivers.add(String(x.conn));
    }
  }
  assert.equal(receivers.size, 10, "over many rounds every leecher gets offers");
});

Deno.test("ws swarms: answers route only along offers that were made, once", () => {
  const { s, out } = setup();
  s.announce(0, 1, ann(1), 100);
  s.announce(1, 2, ann(2), 100);
  s.announce(0, 3, ann(3), 100);
  out.take();
  s.announce(0, 1, ann(1, { offers: offers(1) }), 100);
  const offer = out.take().find((x) => x.msg.offer !== undefined)!;
  const receiver = offer.conn, other = receiver === 2 ? 3 : 2;
  const workerOf = (c: number) => (c === 2 ? 1 : 0);
  // A forged answer from the peer that did not get the offer.
  s.answer(workerOf(other), other, answer(other, 1, 0), 101);
  let sent = out.take();
  assert.equal(sent.length, 1);
  assert.equal(sent[0].conn, other);
  assert.match(String(sent[0].msg["failure reason"]), /no such offer/);
  // Another connection claiming the receiver's peer id.
  s.answer(5, 99, answer(receiver, 1, 0), 101);
  sent = out.take();
  assert.equal(sent[0].conn, 99);
  assert.match(String(sent[0].msg["failure reason"]), /not in the swarm/);
  // The real answer, after the offer expired, is refused too.
  s.answer(workerOf(receiver), receiver, answer(receiver, 1, 0), 100 + 61);
  assert.match(String(out.take()[0].msg["failure reason"]), /no such offer/);
  // A fresh offer, answered in time: reaches the offerer, once.
  s.announce(0, 1, ann(1, { offers: offers(1, 7) }), 200);
  const o2 = out.take().find((x) => x.msg.offer !== undefined)!;
  s.answer(workerOf(o2.conn), o2.conn, answer(o2.conn, 1, 7), 201);
  sent = out.take();
  assert.equal(sent.length, 1);
  assert.deepEqual([sent[0].worker, sent[0].conn], [0, 1]);
  assert.deepEqual(sent[0].msg, {
    action: "announce",
    info_hash: H,
    peer_id: pid(o2.conn),
    offer_id: oid(7),
    answer: { type: "answer", sdp: "a" },
  });
  s.answer(workerOf(o2.conn), o2.conn, answer(o2.conn, 1, 7), 202);
  assert.match(String(out.take()[0].msg["failure reason"]), /no such offer/);
  assert.equal(s.counters.answersForwarded, 1);
});

Deno.test("ws swarms: peer ids belong to one connection; one peer id per torrent per connection", () => {
  const { s, out } = setup();
  s.announce(0, 1, ann(1), 100);
  out.take();
  s.announce(0, 2, ann(1), 100);
  assert.match(String(out.take()[0].msg["failure reason"]), /used by another connection/);
  s.announce(0, 1, ann(2), 100);
  assert.match(String(out.take()[0].msg["failure reason"]), /one peer_id per torrent/);
  // Stopping another connection's peer does nothing.
  s.announce(0, 2, ann(1, { event: 2 }), 100);
  assert.equal(s.peers, 1);
});

Deno.test("ws swarms: pending offers per peer are bounded; gone offerers get no answers", () => {
  const { s, out } = setup(2);
  s.announce(0, 1, ann(1), 100);
  s.announce(0, 2, ann(2), 100);
  for (let i = 0; i < 50; i++) s.announce(0, 1, ann(1, { offers: offers(2, i * 2) }), 100);
  const t = s.torrents.get(H)!;
  assert.equal(t.pendingOffers(), 2 * PENDING_OFFERS_PER_ANNOUNCE, "bounded per peer");
  out.take();
  // With one other peer each announce forwards one offer: the newest 16 (ids 68, 70 … 98) stay.
  const reply = (offer: number) => {
    s.answer(0, 2, answer(2, 1, offer), 100);
    const [m] = out.take();
    return m.msg.answer !== undefined ? "forwarded" : String(m.msg["failure reason"]);
  };
  assert.equal(reply(98), "forwarded", "the newest");
  assert.equal(reply(98), "no such offer to answer", "once");
  assert.equal(reply(66), "no such offer to answer", "overwritten by a newer one");
  assert.equal(reply(68), "forwarded", "the oldest kept");
  assert.equal(reply(69), "no such offer to answer", "never made");
  assert.equal(t.pendingOffers(), 2 * PENDING_OFFERS_PER_ANNOUNCE - 2);
  s.closed(0, 1);
  assert.equal(t.pendingOffers(), 0, "a closed peer's offers go with it");
  s.answer(0, 2, answer(2, 1, 99), 100);
  assert.match(String(out.take()[0].msg["failure reason"]), /no such offer/);
});

Deno.test("ws swarms: completed counts once; scrape; cleaning drops old peers and offers", () => {
  const { s, out } = setup();
  s.announce(0, 1, ann(1, { seeder: true, event: 3 }), 100);
  s.announce(0, 1, ann(1, { seeder: true, event: 3 }), 100);
  s.announce(0, 2, ann(2, { offers: offers(1) }), 150);
  s.scrape(0, 9, 5, [H, "u".repeat(20)]);
  assert.deepEqual(out.scrapes[0], {
    worker: 0,
    conn: 9,
    id: 5,
    files: [[H, 1, 1, 1], ["u".repeat(20), 0, 0, 0]],
  });
  while (!s.clean(200, 120, 1));
  assert.equal(s.peers, 1, "peer 1 (seen at 100) is gone");
  while (!s.clean(250, 0, 1));
  assert.equal(s.torrents.get(H)?.pendingOffers(), 0, "offers expired");
  while (!s.clean(300, 200, 1));
  assert.equal(s.peers, 0);
  assert.equal(s.torrents.size, 1, "kept for its completed count");
  s.scrape(0, 9, 6, [H]);
  assert.deepEqual(out.scrapes[1].files, [[H, 0, 0, 1]]);
  s.announce(0, 3, ann(3), 300);
  assert.equal(s.empty.size, 0, "back in use");
  s.closed(0, 3);
  s.announce(0, 4, ann(4, { infoHash: "z".repeat(20) }), 300);
  while (!s.clean(400, 350, 1));
  assert.equal(s.torrents.size, 1, "a torrent with nothing to keep goes");
});

Deno.test("ws swarms: a full table evicts the torrent emptied longest ago", () => {
  const out = new Recorder();
  const s = new WsSwarms({ interval: 120, maxOfferAge: 60, maxOffers: 10, maxTorrents: 2 }, out);
  const t = (n: number) => String(n).repeat(20);
  s.announce(0, 1, ann(1, { infoHash: t(1), event: 3, seeder: true }), 100);
  s.announce(0, 1, ann(1, { infoHash: t(2), event: 3, seeder: true }), 100);
  s.closed(0, 1);
  while (!s.clean(110, 0, 1000));
  assert.deepEqual([...s.empty], [t(1), t(2)]);
  s.announce(0, 2, ann(2, { infoHash: t(3) }), 120);
  assert.deepEqual([...s.torrents.keys()].sort(), [t(2), t(3)], "1 was evicted");
  s.announce(0, 2, ann(2, { infoHash: t(2) }), 120); // 2 in use again: nothing to evict
  out.take();
  s.announce(0, 3, ann(3, { infoHash: t(4) }), 120);
  assert.match(String(out.take()[0].msg["failure reason"]), /too many torrents/);
  assert.equal(s.refusedTorrents, 1);
});

Deno.test("ws swarms: a cluster's rejoin adds the peer quietly; a handoff takes torrents out whole", () => {
  const { s, out } = setup();
  s.announce(0, 1, ann(1, { event: WsEvent.Completed, seeder: true }), 100);
  out.take();
  // A peer rejoining (its owner changed): in the swarm, nobody answered, nothing counted.
  s.announce(1, 2, ann(2, { event: WsEvent.Rejoin }), 100);
  assert.deepEqual(out.take(), []);
  assert.equal(s.peers, 2);
  assert.equal(s.counters.announces, 1);
  // Refused quietly too: peer 2's id from another connection.
  s.announce(1, 3, ann(2, { event: WsEvent.Rejoin }), 100);
  assert.deepEqual(out.take(), []);
  assert.equal(s.peers, 2);

  const shards = new ClusterShards(new Uint32Array([1, 2]));
  const none = s.handOff(handOffArg(shards, new Uint8Array(SHARDS)));
  assert.equal(none.length, 0);
  assert.equal(s.torrents.size, 1);
  const body = s.handOff(handOffArg(shards, new Uint8Array(SHARDS).fill(1)));
  assert.equal(s.torrents.size, 0);
  assert.equal(s.peers, 0);
  assert.equal(s.seeders, 0);
  assert.equal(s.connTorrents.size, 0);
  // The new owner takes the completed count.
  const { s: owner } = setup();
  owner.load(body, 0, 100);
  assert.equal(owner.torrents.get(H)?.completed, 1);
});
