/**
 * Limits: at max_torrents, max_peers_per_torrent, max_connections and max_connections_per_ip
 * the tracker refuses new entries with an error, keeps serving what it has, and logs it.
 */
import assert from "assert";
import { AnnounceEvent } from "../udp/codec.ts";
import { METRICS, metricsOf as metrics, startShoalWith } from "./helpers/shoal.ts";
import { sumMetric } from "../shared/observe/prometheus.ts";
import { randomId, UdpClient } from "./helpers/udp_client.ts";
import { bin20, WsClient } from "../harness/ws_client.ts";

/** One socket worker and one request worker: the counts each worker reports add up simply. */
const ONE_EACH = { socket_workers: 1, request_workers: 1 };

Deno.test("udp: max_torrents and max_peers_per_torrent refuse new entries with an error", async () => {
  const shoal = await startShoalWith("udp", {
    ...ONE_EACH,
    network: { use_ipv6: false },
    limits: { max_torrents: 4, max_peers_per_torrent: 3 },
    metrics: METRICS,
  }, 2);
  const c = new UdpClient(shoal.listening[0]);
  try {
    const cid = await c.connect();
    const hashes = Array.from({ length: 10 }, () => randomId());
    const results = [];
    for (const h of hashes) {
      results.push(await c.announce(cid, { infoHash: h, peerId: randomId() }));
    }
    assert.deepEqual(results.map((r) => r.action), [1, 1, 1, 1, 3, 3, 3, 3, 3, 3]);
    const refusal = results[4];
    assert.ok(refusal.action === 3 && /tracker full: too many torrents/.test(refusal.message));
    await shoal.waitFor(/limits\.max_torrents = 4 reached: refused 6/, 5000);

    // Peers per torrent: three fit, the fourth is refused; a stop makes room again. A peer is
    // its address: each announces its own port.
    const h = hashes[0], ports = [7001, 7002, 7003, 7004];
    const as = (k: number, more = {}) => ({
      infoHash: h,
      peerId: randomId(),
      port: ports[k],
      ...more,
    });
    const r = [];
    for (let k = 0; k < 4; k++) r.push(await c.announce(cid, as(k, { left: 1n })));
    // hashes[0] already holds one peer from above: two more fit.
    assert.deepEqual(r.map((x) => x.action), [1, 1, 3, 3]);
    assert.ok(r[2].action === 3 && /torrent full: too many peers/.test(r[2].message));
    const again = await c.announce(cid, as(0, { left: 1n }));
    assert.ok(again.action === 1, "a peer already in keeps announcing");
    await c.announce(cid, as(0, { event: AnnounceEvent.Stopped }));
    const now = await c.announce(cid, as(3, { left: 1n }));
    assert.ok(now.action === 1, "room after a stop");
    await shoal.waitFor(/limits\.max_peers_per_torrent = 3 reached: refused 2/, 5000);
    const m = await metrics(shoal);
    assert.equal(m.get('shoal_limit_refusals_total{limit="max_torrents",worker="0"}'), 6);
    assert.equal(m.get('shoal_limit_refusals_total{limit="max_peers_per_torrent",worker="0"}'), 2);
  } finally {
    c.close();
    assert.equal(await shoal.stop(), 0, shoal.output.join("\n"));
  }
});

Deno.test("ws: connection, per-IP, torrent and peer limits refuse the newcomer only", async () => {
  const shoal = await startShoalWith("ws", {
    ...ONE_EACH,
    network: { address: "[::]:0" },
    limits: {
      max_connections: 6,
      max_connections_per_ip: 4,
      max_torrents: 2,
      max_peers_per_torrent: 2,
    },
    metrics: METRICS,
  }, 2);
  const url = `ws://127.0.0.1:${shoal.listening[0].port}`;
  const open: WsClient[] = [];
  try {
    // Per IP: four from 127.0.0.1 stay, the fifth is closed with 1013 (try again later).
    for (let k = 0; k < 4; k++) open.push(await WsClient.connect(url));
    const fifth = await WsClient.connect(url);
    assert.equal(await fifth.closed, 1013);
    await shoal.waitFor(/limits\.max_connections_per_ip = 4 reached: refused 1/, 5000);
    // Total: from another address (::1), two more fit and the third is refused.
    for (let k = 0; k < 2; k++) {
      open.push(await WsClient.connect(url.replace("127.0.0.1", "[::1]")));
    }
    const over = await WsClient.connect(url.replace("127.0.0.1", "[::1]"));
    assert.equal(await over.closed, 1013);
    await shoal.waitFor(/limits\.max_connections = 6 reached: refused 1/, 5000);

    const announce = async (c: WsClient, info: string) => {
      c.send({ action: "announce", info_hash: info, peer_id: bin20(), left: 1, numwant: 0 });
      return await c.next((m) => m.info_hash === info && !("offer" in m));
    };
    const [a, b, c] = [bin20(), bin20(), bin20()];
    assert.ok("interval" in await announce(open[0], a));
    assert.ok("interval" in await announce(open[0], b));
    const full = await announce(open[0], c);
    assert.match(full["failure reason"], /tracker full: too many torrents/);
    assert.ok("interval" in await announce(open[1], a));
    const crowded = await announce(open[2], a);
    assert.match(crowded["failure reason"], /torrent full: too many peers/);
    // Everyone admitted keeps working.
    for (const o of open) {
      o.send({ action: "scrape", info_hash: a });
      const s = await o.next((m) => m.action === "scrape");
      assert.equal(s.files[a].incomplete, 2);
    }
    await shoal.waitFor(/limits\.max_torrents = 2 reached: refused 1/, 5000);
    const m = await metrics(shoal);
    for (
      const [limit, n] of [
        ["max_connections_per_ip", 1],
        ["max_connections", 1],
        ["max_torrents", 1],
        ["max_peers_per_torrent", 1],
      ] as const
    ) {
      // Socket and request workers report separately: summed over them.
      assert.equal(sumMetric(m, "shoal_limit_refusals_total", { limit }), n, limit);
    }
  } finally {
    await Promise.all(open.map((o) => o.close()));
    assert.equal(await shoal.stop(), 0, shoal.output.join("\n"));
  }
});
