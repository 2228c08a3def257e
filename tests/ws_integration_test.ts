/**
 * `shoal ws` as a real process over real WebSockets, with several socket and request workers.
 */
import assert from "assert";
import { processTest, startShoalWith, trackerUrl as url } from "./helpers/shoal.ts";
import { bin20, type Msg, RawWs, sdp, WsClient } from "../harness/ws_client.ts";

const config = (io: string) => ({
  socket_workers: 2,
  request_workers: 2,
  log_level: "warn",
  network: {
    io,
    websocket_max_message_size: 8192,
    enable_http_health_check: true,
  },
  protocol: { max_offers: 5, max_scrape_torrents: 30, peer_announce_interval: 77 },
});

const isReply = (h: string) => (m: Msg) =>
  m.action === "announce" && m.info_hash === h && m.complete !== undefined;
const isFailure = (m: Msg) => typeof m["failure reason"] === "string";

async function join(u: string, info: string, n: number, left = 1): Promise<[WsClient, string][]> {
  return await Promise.all(Array.from({ length: n }, async () => {
    const c = await WsClient.connect(u);
    const peer = bin20();
    c.send({ action: "announce", info_hash: info, peer_id: peer, left, event: "started" });
    await c.next(isReply(info));
    return [c, peer] as [WsClient, string];
  }));
}

async function scrape(c: WsClient, hashes: string | string[]): Promise<Msg> {
  c.send({ action: "scrape", info_hash: hashes });
  return (await c.next((m) => m.action === "scrape")).files;
}

for (const io of ["ffi", "deno"]) {
  processTest(
    `ws (${io}): announce, offers, answers, scrape and refusals against the real process`,
    async (t) => {
      const shoal = await startShoalWith("ws", config(io));
      const u = url(shoal);
      const open: WsClient[] = [];
      try {
        await t.step("the announce reply has the documented shape", async () => {
          const c = await WsClient.connect(u);
          open.push(c);
          const info = bin20(), peer = bin20();
          c.send({ action: "announce", info_hash: info, peer_id: peer, left: 0, numwant: 5 });
          const r = await c.next(isReply(info));
          assert.deepEqual(r, {
            action: "announce",
            info_hash: info,
            interval: 77,
            complete: 1,
            incomplete: 0,
          });
        });

        await t.step(
          "optional fields set to null are absent, as other trackers take them",
          async () => {
            const c = await WsClient.connect(u);
            open.push(c);
            const info = bin20(), peer = bin20();
            c.send({
              action: "announce",
              info_hash: info,
              peer_id: peer,
              event: null,
              offers: null,
              answer: null,
              to_peer_id: null,
              offer_id: null,
              numwant: null,
              left: null,
            });
            const r = await c.next((m) => m.info_hash === info);
            assert.deepEqual(r, {
              action: "announce",
              info_hash: info,
              interval: 77,
              complete: 0,
              incomplete: 1,
            });
          },
        );

        await t.step(
          "offers reach distinct random peers; answers route back to the offerer",
          async () => {
            const info = bin20();
            const peers = await join(u, info, 12);
            peers.forEach(([c]) => open.push(c));
            const [a, aId] = peers[0];
            const offers = Array.from(
              { length: 8 },
              () => ({ offer_id: bin20(), offer: sdp("offer") }),
            );
            a.send({
              action: "announce",
              info_hash: info,
              peer_id: aId,
              left: 1,
              numwant: 8,
              offers,
            });
            const reply = await a.next(isReply(info));
            assert.equal(reply.complete + reply.incomplete, 12);
            // max_offers = 5: five distinct peers (never the sender) get one offer each.
            const got = await Promise.all(
              peers.map(([c]) => c.next((m) => m.offer !== undefined, 1500).catch(() => null)),
            );
            assert.equal(got[0], null, "the sender gets none of its own offers");
            const delivered = got.filter((m) => m !== null) as Msg[];
            assert.equal(delivered.length, 5);
            assert.ok(delivered.every((m) => m.peer_id === aId && m.info_hash === info));
            const ids = new Set(delivered.map((m) => m.offer_id));
            assert.equal(ids.size, 5);
            for (const id of ids) assert.ok(offers.slice(0, 5).some((o) => o.offer_id === id));
            for (const [c] of peers) {
              assert.equal(
                await c.gets((m) => m.offer !== undefined, 100),
                false,
                "one offer per peer",
              );
            }

            // A clean round: B answers an offer it really got.
            const info2 = bin20();
            const pair = await join(u, info2, 2);
            pair.forEach(([c]) => open.push(c));
            const [[x, xId], [y, yId]] = pair;
            const offerId = bin20();
            x.send({
              action: "announce",
              info_hash: info2,
              peer_id: xId,
              left: 1,
              offers: [{ offer_id: offerId, offer: sdp("offer") }],
            });
            const offer = await y.next((m) => m.offer !== undefined);
            assert.deepEqual(Object.keys(offer).sort(), [
              "action",
              "info_hash",
              "offer",
              "offer_id",
              "peer_id",
            ]);
            assert.equal(offer.info_hash, info2);
            assert.equal(offer.peer_id, xId);
            assert.equal(offer.offer_id, offerId);
            assert.equal(offer.offer.type, "offer");
            const answer = sdp("answer");
            const answering = {
              action: "announce",
              info_hash: info2,
              peer_id: yId,
              to_peer_id: xId,
              offer_id: offerId,
              answer,
            };
            y.send(answering);
            const back = await x.next((m) => m.answer !== undefined);
            assert.deepEqual(back, {
              action: "announce",
              info_hash: info2,
              peer_id: yId,
              offer_id: offerId,
              answer,
            });
            // The answer was used up: a second answer to the same offer is refused.
            y.send(answering);
            const refused = await y.next(isFailure);
            assert.match(refused["failure reason"], /no such offer/);
            assert.equal(
              await x.gets((m) => m.answer !== undefined, 500),
              false,
              "no second answer",
            );
          },
        );

        await t.step("forged answers never reach anyone", async () => {
          const info = bin20();
          const peers = await join(u, info, 3);
          peers.forEach(([c]) => open.push(c));
          const [[a, aId], [b, bId], [c, cId]] = peers;
          const offerId = bin20();
          a.send({
            action: "announce",
            info_hash: info,
            peer_id: aId,
            left: 1,
            offers: [{ offer_id: offerId, offer: sdp("offer") }],
          });
          await a.next(isReply(info));
          // Whoever got the offer is the only one allowed to answer it.
          const [bGot, cGot] = await Promise.all([
            b.gets((m) => m.offer !== undefined, 2000),
            c.gets((m) => m.offer !== undefined, 2000),
          ]);
          assert.ok(bGot !== cGot, "exactly one peer got the offer");
          const [other, otherId] = bGot ? [c, cId] : [b, bId];
          const forged = (extra: Msg) => ({
            action: "announce",
            info_hash: info,
            to_peer_id: aId,
            offer_id: offerId,
            answer: sdp("answer"),
            ...extra,
          });
          other.send(forged({ peer_id: otherId }));
          assert.match((await other.next(isFailure))["failure reason"], /no such offer/);
          other.send(forged({ peer_id: otherId, offer_id: bin20() }));
          assert.match((await other.next(isFailure))["failure reason"], /no such offer/);
          // Pretending to be the real receiver from another connection.
          const intruder = await WsClient.connect(u);
          open.push(intruder);
          intruder.send(forged({ peer_id: bGot ? bId : cId }));
          assert.match((await intruder.next(isFailure))["failure reason"], /not in the swarm/);
          assert.equal(
            await a.gets((m) => m.answer !== undefined, 700),
            false,
            "no answer reached the offerer",
          );
        });

        await t.step(
          "a peer_id cannot be taken over; one peer_id per torrent per connection",
          async () => {
            const info = bin20();
            const [[a, aId]] = await join(u, info, 1);
            open.push(a);
            const b = await WsClient.connect(u);
            open.push(b);
            b.send({ action: "announce", info_hash: info, peer_id: aId, left: 0 });
            assert.match((await b.next(isFailure))["failure reason"], /used by another connection/);
            a.send({ action: "announce", info_hash: info, peer_id: bin20(), left: 0 });
            assert.match((await a.next(isFailure))["failure reason"], /one peer_id per torrent/);
            // The same connection may use another peer_id in another torrent.
            const other = bin20();
            a.send({ action: "announce", info_hash: other, peer_id: bin20(), left: 0 });
            await a.next(isReply(other));
          },
        );

        await t.step(
          "stopped and closed peers disappear; completed is counted; scrape agrees",
          async () => {
            const info = bin20(), unknown = bin20();
            const peers = await join(u, info, 4);
            peers.forEach(([c]) => open.push(c));
            const [[a, aId], [b, bId], [c]] = peers;
            a.send({
              action: "announce",
              info_hash: info,
              peer_id: aId,
              left: 0,
              event: "completed",
            });
            await a.next(isReply(info));
            let files = await scrape(c, [info, unknown]);
            assert.deepEqual(files[info], { complete: 1, incomplete: 3, downloaded: 1 });
            assert.deepEqual(files[unknown], { complete: 0, incomplete: 0, downloaded: 0 });
            b.send({ action: "announce", info_hash: info, peer_id: bId, event: "stopped" });
            const r = await b.next(isReply(info));
            assert.deepEqual([r.complete, r.incomplete], [1, 2]);
            await a.close();
            // The close is seen by the socket worker, then the request worker: poll briefly.
            const deadline = Date.now() + 3000;
            do {
              files = await scrape(c, info);
            } while (files[info].complete !== 0 && Date.now() < deadline);
            assert.deepEqual(files[info], { complete: 0, incomplete: 2, downloaded: 1 });
          },
        );

        await t.step(
          "scrape of many torrents across request workers; full scrape refused",
          async () => {
            const c = await WsClient.connect(u);
            open.push(c);
            const hashes = Array.from({ length: 40 }, bin20);
            for (let i = 0; i < 20; i++) {
              c.send({ action: "announce", info_hash: hashes[i], peer_id: bin20(), left: i % 2 });
              await c.next(isReply(hashes[i]));
            }
            const files = await scrape(c, hashes);
            assert.equal(Object.keys(files).length, 30, "cut at max_scrape_torrents");
            for (let i = 0; i < 30; i++) {
              const want = i < 20
                ? { complete: i % 2 ? 0 : 1, incomplete: i % 2, downloaded: 0 }
                : { complete: 0, incomplete: 0, downloaded: 0 };
              assert.deepEqual(files[hashes[i]], want, `hash ${i}`);
            }
            c.send({ action: "scrape" });
            const full = await c.next(isFailure);
            assert.match(full["failure reason"], /full scrapes are not allowed/);
            assert.equal(full.action, "scrape");
          },
        );

        await t.step(
          "request errors get a failure reason and the connection stays open",
          async () => {
            const c = await WsClient.connect(u);
            open.push(c);
            const info = bin20();
            const cases: [Msg | string, RegExp][] = [
              ["not json", /invalid JSON/],
              ["[1,2]", /expected a JSON object/],
              [{ action: "connect" }, /invalid action/],
              [{ action: "announce", info_hash: "short", peer_id: bin20() }, /invalid info_hash/],
              [
                { action: "announce", info_hash: info, peer_id: "\u0100".repeat(20) },
                /invalid peer_id/,
              ],
              [
                { action: "announce", info_hash: info, peer_id: bin20(), event: "exploded" },
                /invalid event/,
              ],
              [
                { action: "announce", info_hash: info, peer_id: bin20(), offers: "x" },
                /invalid offers/,
              ],
              [
                {
                  action: "announce",
                  info_hash: info,
                  peer_id: bin20(),
                  offers: [{ offer_id: 1 }],
                },
                /invalid offer_id/,
              ],
              [
                { action: "announce", info_hash: info, peer_id: bin20(), answer: sdp("answer") },
                /invalid to_peer_id/,
              ],
              [{ action: "scrape", info_hash: [info, 5] }, /invalid info_hash/],
            ];
            for (const [msg, re] of cases) {
              c.send(msg);
              const f = await c.next(isFailure);
              assert.match(f["failure reason"], re, JSON.stringify(msg));
            }
            assert.equal(await c.gets(isFailure, 300), false, "one failure per bad message");
            c.send({ action: "announce", info_hash: info, peer_id: bin20(), left: 0 });
            await c.next(isReply(info));
          },
        );

        await t.step("protocol violations close the connection", async () => {
          const binary = await WsClient.connect(u);
          await binary.raw.frame(2, new Uint8Array([1, 2, 3]));
          assert.equal(await binary.closed, 1003);
          const big = await WsClient.connect(u);
          big.send("x".repeat(9000));
          assert.equal(await big.closed, 1009);
          const flood = await WsClient.connect(u);
          for (let i = 0; i < 10; i++) flood.send("{oops");
          assert.equal(await flood.closed, 1008);
          // Others are still served.
          const c = await WsClient.connect(u);
          open.push(c);
          const info = bin20();
          c.send({ action: "announce", info_hash: info, peer_id: bin20(), left: 0 });
          await c.next(isReply(info));
        });

        await t.step("GET /health answers 200; other plain HTTP gets 426", async () => {
          const base = u.replace("ws://", "http://");
          const health = await fetch(`${base}health`);
          assert.equal(health.status, 200);
          await health.body?.cancel();
          const other = await fetch(base);
          assert.equal(other.status, 426);
          await other.body?.cancel();
        });
      } finally {
        await Promise.all(open.map((c) => c.close()));
        assert.equal(await shoal.stop(), 0);
      }
    },
  );
}

processTest("ws: idle connections are closed after max_connection_idle", async () => {
  const shoal = await startShoalWith("ws", { cleaning: { max_connection_idle: 1 } });
  try {
    const c = await WsClient.connect(url(shoal));
    const started = Date.now();
    const code = await Promise.race([
      c.closed,
      new Promise<number>((r) => setTimeout(() => r(-1), 8000)),
    ]);
    assert.equal(code, 1000, "closed by the server");
    assert.ok(Date.now() - started >= 1000);
  } finally {
    await shoal.stop();
  }
});

processTest(
  "ws: a client that does not read is closed once its outgoing buffer is full",
  async () => {
    const shoal = await startShoalWith("ws", {
      network: { max_outgoing_buffer: 65536, websocket_max_frame_size: 65536 },
      protocol: { max_scrape_torrents: 50 },
    });
    const slow = await RawWs.connect("127.0.0.1", shoal.listening[0].port);
    try {
      // The slow client joins a swarm and never reads; another peer sends it 30 KB offers
      // until the kernel buffers are full and shoal's queue passes 64 KiB.
      const info = bin20();
      await slow.sendText(
        JSON.stringify({ action: "announce", info_hash: info, peer_id: bin20() }),
      );
      assert.ok(await slow.readText(), "the slow peer is in the swarm");
      const sender = await RawWs.connect("127.0.0.1", shoal.listening[0].port);
      const id = bin20();
      const big = { type: "offer", sdp: "a=x".repeat(10000) };
      for (let i = 0; i < 1000; i++) {
        const offers = [{ offer_id: bin20(), offer: big }];
        await sender.sendText(
          JSON.stringify({ action: "announce", info_hash: info, peer_id: id, offers }),
        );
        const reply = JSON.parse((await sender.readText())!);
        if (reply.complete + reply.incomplete === 1) break; // the slow peer is gone
      }
      sender.close();
      // The close frame sits behind the full buffer, so the client may only see the end.
      const code = await slow.closeCode();
      assert.ok(code === 1013 || code === -1, `closed by the server (${code})`);
      // Everyone else is still served.
      const c = await WsClient.connect(url(shoal));
      const other = bin20();
      c.send({ action: "announce", info_hash: other, peer_id: bin20(), left: 0 });
      await c.next(isReply(other));
      await c.close();
    } finally {
      slow.close();
      assert.equal(await shoal.stop(), 0);
    }
  },
);
