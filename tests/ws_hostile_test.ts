/**
 * Hostile WebSocket clients against the real `shoal ws`, while an honest client keeps
 * announcing: each abuse gets its documented answer and the honest client is never stalled.
 *
 * | abuse | answer |
 * |---|---|
 * | invalid UTF-8 in a text frame | close 1007 |
 * | binary frame | close 1003 |
 * | frame over websocket_max_frame_size | close 1009 |
 * | deeply nested JSON | failure reason, connection stays |
 * | 10,000 offers in one announce | at most max_offers forwarded |
 * | ids of the wrong length | failure reason, connection stays |
 * | connection flood from one IP | past max_connections_per_ip: close 1013 |
 * | no or a dribbled handshake | closed after 10 s (HANDSHAKE_MS) |
 */
import assert from "assert";
import { HANDSHAKE_MS } from "../ws/wire.ts";
import { processTest, startShoalWith } from "./helpers/shoal.ts";
import { bin20, RawWs, WsClient } from "../harness/ws_client.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with the ms until the server ends `conn` (EOF or reset), or -1 after `ms`. */
async function endsWithin(conn: Deno.Conn, ms: number): Promise<number> {
  const start = performance.now();
  const buf = new Uint8Array(4096);
  const timer = setTimeout(() => conn.close(), ms);
  try {
    while ((await conn.read(buf)) !== null) { /* drain a 4xx, if any */ }
    return performance.now() - start;
  } catch {
    return performance.now() - start >= ms - 50 ? -1 : performance.now() - start;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

processTest(
  "ws: hostile clients get their documented answer while an honest client keeps working",
  async () => {
    const shoal = await startShoalWith("ws", {
      socket_workers: 1,
      request_workers: 2,
      network: { websocket_max_message_size: 1048576, websocket_max_frame_size: 1048576 },
      limits: { max_connections_per_ip: 200 },
    });
    const port = shoal.listening[0].port;
    const url = `ws://127.0.0.1:${port}`;

    // The honest client: announces every 50 ms and records the longest wait for a reply.
    const honest = await WsClient.connect(url);
    const info = bin20(), me = bin20();
    let running = true, worst = 0, answered = 0;
    const honestLoop = (async () => {
      while (running) {
        const t = performance.now();
        honest.send({ action: "announce", info_hash: info, peer_id: me, left: 0, numwant: 0 });
        await honest.next((m) => m.info_hash === info && "interval" in m, 5000);
        worst = Math.max(worst, performance.now() - t);
        answered++;
        await sleep(50);
      }
    })();

    try {
      // Half-open: one connection says nothing, one dribbles a header byte every 300 ms.
      const silent = await Deno.connect({ hostname: "127.0.0.1", port });
      const dribble = await Deno.connect({ hostname: "127.0.0.1", port });
      const dribbling = (async () => {
        const head = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ");
        try {
          for (let i = 0; i < 1000; i++) {
            await dribble.write(head.subarray(i % head.length, i % head.length + 1));
            await sleep(300);
          }
        } catch { /* closed by the server */ }
      })();
      const silentEnd = endsWithin(silent, HANDSHAKE_MS + 5000);
      const dribbleEnd = endsWithin(dribble, HANDSHAKE_MS + 5000);

      // Invalid UTF-8 closes with 1007; a binary frame with 1003.
      const badUtf8 = await RawWs.connect("127.0.0.1", port);
      await badUtf8.frame(1, new Uint8Array([0x7b, 0xc3, 0x28, 0x7d]));
      assert.equal(await badUtf8.closeCode(), 1007);
      const binary = await RawWs.connect("127.0.0.1", port);
      await binary.frame(2, new Uint8Array([1, 2, 3]));
      assert.equal(await binary.closeCode(), 1003);
      // A frame over the limit is refused from its header alone.
      const big = await RawWs.connect("127.0.0.1", port);
      await big.frame(1, new Uint8Array(1048577).fill(0x20));
      assert.equal(await big.closeCode(), 1009);
      for (const w of [badUtf8, binary, big]) w.close();

      // Deep JSON and wrong-length ids: a failure reason, the connection stays usable.
      const c = await WsClient.connect(url);
      const isFailure = (m: Record<string, unknown>) => "failure reason" in m;
      c.send("[".repeat(200_000) + "]".repeat(200_000));
      assert.match((await c.next(isFailure))["failure reason"], /invalid/);
      // (Appended at the end: the binary ids may hold a "}" themselves.)
      const deep = JSON.stringify({ action: "announce", info_hash: info, peer_id: bin20() })
        .slice(0, -1) + `, "x": ${"[".repeat(100_000)}${"]".repeat(100_000)}}`;
      c.send(deep);
      assert.ok(await c.gets((m) => m.info_hash === info, 5000), "answered, nesting ignored");
      for (const [field, value] of [["info_hash", "short"], ["peer_id", "x".repeat(21)]]) {
        c.send({ action: "announce", info_hash: info, peer_id: bin20(), [field]: value });
        assert.match((await c.next(isFailure))["failure reason"], new RegExp(`invalid ${field}`));
      }

      // 10,000 offers: the honest leecher gets at most max_offers (10), and only one each.
      const offerer = await WsClient.connect(url);
      const offers = Array.from({ length: 10_000 }, () => ({
        offer_id: bin20(),
        offer: { type: "offer", sdp: "v=0" },
      }));
      const leecher = await WsClient.connect(url);
      leecher.send({ action: "announce", info_hash: info, peer_id: bin20(), left: 5, numwant: 0 });
      await leecher.next((m) => m.info_hash === info && "interval" in m);
      offerer.send({ action: "announce", info_hash: info, peer_id: bin20(), left: 5, offers });
      await offerer.next((m) => m.info_hash === info && "interval" in m);
      await sleep(300);
      const got = leecher.received.filter((m) => "offer" in m).length;
      assert.equal(got, 1, "one offer per peer, never more");

      // Connection flood from one IP: past the per-IP limit the rest are closed with 1013.
      const flood = await Promise.allSettled(
        Array.from({ length: 300 }, () => RawWs.connect("127.0.0.1", port)),
      );
      const opened = flood.filter((r) => r.status === "fulfilled").map((r) =>
        (r as PromiseFulfilledResult<RawWs>).value
      );
      // Refused ones get 1013 at once; the admitted ones stay open (0 here).
      const codes = await Promise.all(
        opened.map((w) => Promise.race([w.closeCode().catch(() => 0), sleep(1500).then(() => 0)])),
      );
      const refused = codes.filter((k) => k === 1013).length;
      // honest, c, offerer, leecher hold 4 of the 200.
      assert.equal(opened.length - refused, 196, `codes: ${codes.join(",")}`);
      for (const w of opened) w.close();

      // The half-open connections are dropped once the handshake time is up.
      const [s, d] = await Promise.all([silentEnd, dribbleEnd]);
      await dribbling;
      assert.ok(s >= HANDSHAKE_MS - 1000 && s < HANDSHAKE_MS + 3000, `silent one ended at ${s}`);
      assert.ok(d >= 0 && d < HANDSHAKE_MS + 3000, `dribbling one ended at ${d}`);
      await Promise.all([c.close(), offerer.close(), leecher.close()]);
    } finally {
      running = false;
      await honestLoop;
      await honest.close();
      assert.equal(await shoal.stop(), 0, shoal.output.join("\n"));
    }
    // The honest client was answered throughout, never kept waiting long.
    assert.ok(answered > 100, `honest client answered ${answered} times`);
    assert.ok(worst < 1000, `honest client waited up to ${Math.round(worst)} ms`);
    console.log(`honest client: ${answered} announces, worst reply ${Math.round(worst)} ms`);
  },
);
