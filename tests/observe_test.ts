/**
 * Observability against the running tracker: Prometheus metrics scraped and parsed after real
 * traffic, and the live statistics page rendered in headless Chromium (a screenshot, and the
 * numbers it shows checked against the metrics), with its graphs of the history drawn: in the
 * DOM (one path point per sample) and in the pixels (the line's colour in the graph's
 * element screenshot).
 */
import assert from "assert";
import { METRICS, processTest, ROOT, type RunningShoal, startShoalWith } from "./helpers/shoal.ts";
import { randomId, UdpClient } from "./helpers/udp_client.ts";
import { bin20, sdp, WsClient } from "../harness/ws_client.ts";
import { parseMetrics, sumMetric } from "../shared/observe/prometheus.ts";
import { browserMissing } from "./browser/requirements.ts";
import type { Graph } from "./browser/stats_page.ts";
import { encodeAnnounceRequest } from "../udp/codec.ts";

const missing = await browserMissing();
if (missing) console.log(`SKIPPED statistics page in Chromium: ${missing}`);

/** `/stats.json`'s history. */
interface HistoryJson {
  interval: number;
  now: number;
  points: [number, number | null, number | null, number][];
}

async function history(s: RunningShoal): Promise<HistoryJson> {
  return (await (await fetch(`${http(s)}/stats.json`)).json()).history;
}

/** Polls the history until `ok` holds (a sample comes every 5 s), and returns it. */
async function historyUntil(
  s: RunningShoal,
  ok: (h: HistoryJson) => boolean,
  what: string,
): Promise<HistoryJson> {
  const deadline = Date.now() + 60_000; // twelve sampling intervals: only a broken sampler
  for (;;) {
    const h = await history(s);
    if (ok(h)) return h;
    assert.ok(Date.now() < deadline, `${what}: ${JSON.stringify(h)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function http(s: RunningShoal): string {
  const l = s.listening.find((x) => x.scheme === "http");
  assert.ok(l, `no metrics listening line: ${s.output.join("\n")}`);
  return `http://${l.hostname}:${l.port}`;
}

async function scrape(s: RunningShoal): Promise<Map<string, number>> {
  const r = await fetch(`${http(s)}/metrics`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const text = await r.text();
  // Every family is declared once, with HELP and TYPE.
  const types = text.split("\n").filter((l) => l.startsWith("# TYPE "));
  assert.equal(new Set(types).size, types.length);
  return parseMetrics(text);
}

processTest(
  "udp: Prometheus metrics count real traffic by type and IP version; stats page agrees and graphs it",
  async () => {
    const shoal = await startShoalWith("udp", {
      request_workers: 2,
      network: { address_ipv6: "[::1]:0" },
      metrics: METRICS,
    }, 3);
    const clients: UdpClient[] = [];
    let traffic: Promise<void> | null = null, more = true;
    try {
      const v4 = shoal.listening.find((l) => l.scheme === "udp" && !l.hostname.includes(":"))!;
      const v6 = shoal.listening.find((l) => l.scheme === "udp" && l.hostname.includes(":"))!;
      const a = new UdpClient(v4), b = new UdpClient(v6);
      clients.push(a, b);
      const [ca, cb] = [await a.connect(), await b.connect()];
      const hashes = Array.from({ length: 5 }, randomId), seeders = hashes.map(randomId);
      for (const [k, h] of hashes.entries()) {
        await a.announce(ca, { infoHash: h, peerId: seeders[k], left: 0n });
      }
      // Another peer behind the same socket: a peer is its address, so another port.
      await a.announce(ca, { infoHash: hashes[0], peerId: randomId(), left: 7n, port: 7007 });
      await b.announce(cb, { infoHash: hashes[0], peerId: randomId(), left: 0n });
      await a.scrape(ca, hashes);
      // One forged request (ignored) and one error response.
      const forged = encodeAnnounceRequest({
        connectionId: new Uint8Array(8),
        transactionId: 1,
        infoHash: hashes[0],
        peerId: randomId(),
        left: 0n,
        port: 1,
      });
      assert.equal(await a.raw(forged, 300), null);
      await a.request(
        encodeAnnounceRequest({
          connectionId: ca,
          transactionId: 9,
          infoHash: hashes[0],
          peerId: randomId(),
          left: 0n,
          port: 0,
        }),
        9,
      );

      const m = await scrape(shoal);
      assert.equal(sumMetric(m, "shoal_info", { protocol: "udp" }), 1);
      assert.equal(sumMetric(m, "shoal_udp_requests_total", { type: "connect" }), 2);
      assert.equal(
        sumMetric(m, "shoal_udp_requests_total", { type: "announce", ip_version: 4 }),
        7,
      );
      assert.equal(
        sumMetric(m, "shoal_udp_requests_total", { type: "announce", ip_version: 6 }),
        1,
      );
      assert.equal(sumMetric(m, "shoal_udp_requests_total", { type: "scrape" }), 1);
      assert.equal(sumMetric(m, "shoal_udp_responses_total", { type: "announce" }), 7);
      assert.equal(sumMetric(m, "shoal_udp_responses_total", { type: "error" }), 1);
      assert.equal(sumMetric(m, "shoal_udp_ignored_total", { reason: "bad_connection_id" }), 1);
      assert.equal(sumMetric(m, "shoal_torrents"), 5);
      assert.equal(sumMetric(m, "shoal_peers", { kind: "seeder" }), 6);
      assert.equal(sumMetric(m, "shoal_peers", { kind: "leecher" }), 1);
      assert.ok(sumMetric(m, "shoal_udp_received_bytes_total") > 7 * 98);
      assert.equal(
        m.size > 0 && [...m.keys()].filter((k) => k.startsWith("shoal_torrents{")).length,
        2,
        "one sample per request worker",
      );

      const stats = await (await fetch(`${http(shoal)}/stats.json`)).json();
      const card = (id: string) => stats.cards.find((c: { id: string }) => c.id === id).value;
      assert.equal(card("torrents"), 5);
      assert.equal(card("peers"), 7);
      assert.equal(stats.top[0].seeders + stats.top[0].leechers, 3, "the largest swarm first");
      assert.equal((await fetch(`${http(shoal)}/nothing`)).status, 404);

      // From now on, steady traffic that changes no count of torrents or peers: a seeder
      // announcing again, so the graphs have something to draw.
      traffic = (async () => {
        while (more) {
          await a.announce(ca, { infoHash: hashes[1], peerId: seeders[1], left: 0n });
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const seen = await historyUntil(
        shoal,
        (h) => h.points.some((p) => p[1]! > 0 && p[2]! > 0 && p[3] === 7),
        "a sample with requests, responses and the 7 peers",
      );
      assert.equal(seen.interval, 5);
      assert.ok(Math.abs(seen.now - Date.now() / 1000) < 60, "wall-clock seconds");
      for (const [k, p] of seen.points.entries()) {
        assert.ok(p[1] === null || p[1] >= 0, `no negative rate: ${p}`);
        assert.ok(p[2] === null || p[2] >= 0, `no negative rate: ${p}`);
        if (k > 0) assert.ok(p[0] > seen.points[k - 1][0], "oldest first");
      }

      if (!missing) {
        const shot = await Deno.makeTempFile({ suffix: ".png" });
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", `${ROOT}tests/browser/stats_page.ts`, `${http(shoal)}/`, shot, "3"],
          cwd: ROOT,
          stdout: "piped",
          stderr: "piped",
        }).output();
        const text = new TextDecoder().decode(out.stdout).trim();
        assert.equal(out.code, 0, `${text}\n${new TextDecoder().decode(out.stderr)}`);
        const page = JSON.parse(text.split("\n").pop()!);
        const after = await scrape(shoal);
        const held = await history(shoal);
        assert.equal(page.error, "");
        assert.equal(page.external, 0, "no external assets");
        assert.match(page.title, /^shoal udp /);
        assert.equal(page.cards.torrents, sumMetric(after, "shoal_torrents"));
        assert.equal(page.cards.peers, sumMetric(after, "shoal_peers"));
        assert.equal(page.cards.seeders, sumMetric(after, "shoal_peers", { kind: "seeder" }));
        assert.equal(page.topRows, 5);
        assert.ok(page.clientRows.length >= 1);
        assert.equal(page.overflow, false, "nothing wider than the phone");
        // Each graph, on the phone (light) and on the desktop (dark): one path point per
        // sample the page fetched, and its line visibly drawn in its own colour.
        for (const [where, graphs] of Object.entries(page.graphs)) {
          for (const [id, g] of Object.entries(graphs as Record<string, Graph>)) {
            const at = `${where} ${id}: ${JSON.stringify(g)}`;
            assert.equal(g.pathPoints, g.historyPoints, at);
            assert.equal(g.dataPoints, g.historyPoints, at);
            assert.ok(g.historyPoints >= 3 && g.historyPoints <= held.points.length, at);
            // Three samples span at least a sixth of the axis (a minute at first): tens of
            // pixels of line, of which a 2 px stroke paints at least half in its exact colour.
            assert.ok(g.length >= 20, at);
            assert.ok(g.pixels >= g.length / 2, at);
            assert.equal(g.otherPixels, 0, `only its own colour: ${at}`);
          }
        }
        assert.notEqual(page.graphs.phone.requests.colour, page.graphs.desktop.requests.colour);
        for (const file of page.screenshots) {
          const png = await Deno.readFile(file);
          assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], "a PNG screenshot");
          assert.ok(png.length > 5000, `screenshot of ${png.length} bytes`);
          await Deno.remove(file);
        }
      }
    } finally {
      more = false;
      await traffic;
      clients.forEach((c) => c.close());
      assert.equal(await shoal.stop(), 0);
    }
  },
);

processTest("ws: Prometheus metrics count connections, messages, offers and answers", async () => {
  const shoal = await startShoalWith("ws", {
    socket_workers: 2,
    request_workers: 2,
    metrics: METRICS,
  }, 2);
  const open: WsClient[] = [];
  try {
    const u = `ws://127.0.0.1:${shoal.listening.find((l) => l.scheme === "ws")!.port}/`;
    const info = bin20();
    const [a, b] = [await WsClient.connect(u), await WsClient.connect(u)];
    open.push(a, b);
    const [ida, idb] = [bin20(), bin20()];
    b.send({ action: "announce", info_hash: info, peer_id: idb, left: 0 });
    await b.next((m) => m.interval !== undefined);
    const offerId = bin20();
    a.send({
      action: "announce",
      info_hash: info,
      peer_id: ida,
      left: 1,
      offers: [{ offer_id: offerId, offer: sdp("offer") }],
    });
    await a.next((m) => m.interval !== undefined);
    await b.next((m) => m.offer !== undefined);
    b.send({
      action: "announce",
      info_hash: info,
      peer_id: idb,
      to_peer_id: ida,
      offer_id: offerId,
      answer: sdp("answer"),
    });
    await a.next((m) => m.answer !== undefined);
    b.send("not json");
    await b.next((m) => m["failure reason"] !== undefined);
    const m = await scrape(shoal);
    assert.equal(sumMetric(m, "shoal_info", { protocol: "ws" }), 1);
    assert.equal(sumMetric(m, "shoal_ws_connections"), 2);
    assert.equal(sumMetric(m, "shoal_ws_connections_accepted_total"), 2);
    assert.equal(sumMetric(m, "shoal_ws_messages_received_total", { type: "announce" }), 2);
    assert.equal(sumMetric(m, "shoal_ws_messages_received_total", { type: "answer" }), 1);
    assert.equal(sumMetric(m, "shoal_ws_messages_received_total", { type: "invalid" }), 1);
    assert.equal(sumMetric(m, "shoal_ws_offers_forwarded_total"), 1);
    assert.equal(sumMetric(m, "shoal_ws_answers_forwarded_total"), 1);
    assert.equal(
      sumMetric(m, "shoal_ws_messages_sent_total"),
      5,
      "2 replies, offer, answer, failure",
    );
    assert.equal(sumMetric(m, "shoal_torrents"), 1);
    assert.equal(sumMetric(m, "shoal_peers", { kind: "seeder" }), 1);
    assert.equal(sumMetric(m, "shoal_peers", { kind: "leecher" }), 1);
    await a.close();
    const deadline = Date.now() + 3000;
    let after = await scrape(shoal);
    // The socket worker sees the close first, then tells the request worker: poll for both.
    while (
      (sumMetric(after, "shoal_ws_connections") !== 1 || sumMetric(after, "shoal_peers") !== 1) &&
      Date.now() < deadline
    ) {
      after = await scrape(shoal);
    }
    assert.equal(sumMetric(after, "shoal_ws_connections"), 1);
    assert.equal(sumMetric(after, "shoal_peers"), 1, "the closed connection's peer left");
    // The history: messages in and out per second, then the one peer left. All of the above
    // may come before the sampler's first reading (at most its first interval after the
    // start), so one more message (junk, answered with a failure) follows a reading.
    await historyUntil(shoal, (h) => h.points.length > 0, "a first sample");
    b.send("not json");
    await b.next((m) => m["failure reason"] !== undefined);
    const h = await historyUntil(
      shoal,
      (h) => h.points.some((p) => p[1]! > 0 && p[2]! > 0) && h.points.at(-1)?.[3] === 1,
      "a sample with messages in and out, and then 1 peer",
    );
    // 5 messages in (2 announces, an answer, junk twice) over the samples that saw them.
    const messages = h.points.reduce((n, p) => n + (p[1] ?? 0) * h.interval, 0);
    assert.ok(messages > 0 && messages <= 2 * 5, `${messages} messages in`);
  } finally {
    await Promise.all(open.map((c) => c.close()));
    assert.equal(await shoal.stop(), 0);
  }
});
