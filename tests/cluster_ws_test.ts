/**
 * A cluster of `shoal ws` nodes over a real `nats-server`: WebTorrent peers connected to
 * different nodes find each other, their offers and answers cross nodes to reach them, scrapes
 * on any node count them, a closed connection leaves its swarms on whichever node owns them, and
 * a node stopped gracefully hands its swarms' completed counts to their new owners.
 */
import assert from "node:assert/strict";
import type { NatsServer } from "../harness/nats.ts";
import { bin20, type Msg, sdp, WsClient } from "../harness/ws_client.ts";
import {
  type ConfigParts,
  METRICS,
  metricsOf,
  type RunningShoal,
  startShoalWith,
  trackerUrl,
} from "./helpers/shoal.ts";
import { clusterTest, eventually, nodesSeen, SECRET } from "./helpers/cluster.ts";

/** `shoal ws` as node `node` of cluster "t" over `nats`. */
async function startWsNode(nats: NatsServer, node: string, requestWorkers = 1) {
  const parts: ConfigParts = {
    socket_workers: 1,
    request_workers: requestWorkers,
    metrics: METRICS,
    cluster: { enabled: true, servers: nats.url, name: "t", node, secret: SECRET, node_timeout: 2 },
  };
  const s = await startShoalWith("ws", parts, 2);
  await s.waitFor(/cluster: joined/, 10_000);
  return s;
}

const isReply = (h: string) => (m: Msg) =>
  m.action === "announce" && m.info_hash === h && m.complete !== undefined;

/** A peer of `info` on node `s`: connected, announced, answered. */
async function peerOn(s: RunningShoal, info: string, left = 1): Promise<[WsClient, string]> {
  const c = await WsClient.connect(trackerUrl(s));
  const id = bin20();
  c.send({ action: "announce", info_hash: info, peer_id: id, left, event: "started" });
  await c.next(isReply(info));
  return [c, id];
}

/** Seeders, leechers and completed of each of `hashes`, scraped on `s`. */
async function scrapeOn(s: RunningShoal, hashes: string[]): Promise<number[][]> {
  const c = await WsClient.connect(trackerUrl(s));
  try {
    c.send({ action: "scrape", info_hash: hashes });
    const files = (await c.next((m) => m.action === "scrape")).files;
    return hashes.map((h) => {
      const f = files[h];
      return f === undefined ? [-1, -1, -1] : [f.complete, f.incomplete, f.downloaded];
    });
  } finally {
    await c.close();
  }
}

/** The requests `s`'s socket workers sent to other nodes. */
async function forwardedOut(s: RunningShoal): Promise<number> {
  const text =
    await (await fetch(`http://127.0.0.1:${s.listening.find((l) => l.metrics)!.port}/metrics`))
      .text();
  let n = 0;
  for (const line of text.split("\n")) {
    if (
      line.startsWith("shoal_cluster_forwarded_requests_total") && line.includes('direction="out"')
    ) {
      n += Number(line.split(" ").at(-1));
    }
  }
  return n;
}

clusterTest(
  "cluster (ws): peers on different nodes exchange offers and answers; scrapes and closes cross nodes",
  async (nats, running) => {
    const a = await startWsNode(nats, "a", 2);
    running.push(a);
    const b = await startWsNode(nats, "b");
    running.push(b);
    const c = await startWsNode(nats, "c");
    running.push(c);
    for (const s of running) {
      await eventually(async () => (await nodesSeen(s)) === 3, 10_000, "every node sees 3");
    }
    // Eight torrents: with three owners, some are owned by a, some by b, some by neither.
    const hashes = Array.from({ length: 8 }, () => bin20());
    const open: WsClient[] = [];
    try {
      const xs: [WsClient, string][] = [];
      for (const info of hashes) {
        const [x, xId] = await peerOn(a, info);
        const [y, yId] = await peerOn(b, info);
        open.push(x, y);
        xs.push([x, xId]);
        const offerId = bin20(), offer = sdp("offer");
        x.send({
          action: "announce",
          info_hash: info,
          peer_id: xId,
          left: 1,
          offers: [{ offer_id: offerId, offer }],
        });
        const got = await y.next((m) => m.offer !== undefined);
        assert.deepEqual(got, {
          action: "announce",
          info_hash: info,
          peer_id: xId,
          offer_id: offerId,
          offer,
        });
        const answer = sdp("answer");
        y.send({
          action: "announce",
          info_hash: info,
          peer_id: yId,
          to_peer_id: xId,
          offer_id: offerId,
          answer,
        });
        const back = await x.next((m) => m.answer !== undefined);
        assert.deepEqual(back, {
          action: "announce",
          info_hash: info,
          peer_id: yId,
          offer_id: offerId,
          answer,
        });
      }
      assert.deepEqual(await scrapeOn(c, hashes), hashes.map(() => [0, 2, 0]));
      assert.ok((await forwardedOut(a)) > 0, "a forwarded requests to other nodes");
      assert.ok((await forwardedOut(b)) > 0, "b forwarded requests to other nodes");

      // A completes every torrent; its connection then closes: its peers leave every owner's
      // swarms, the completed counts stay.
      for (const [i, info] of hashes.entries()) {
        const [x, xId] = xs[i];
        x.send({ action: "announce", info_hash: info, peer_id: xId, left: 0, event: "completed" });
        await x.next(isReply(info));
      }
      assert.deepEqual(await scrapeOn(c, hashes), hashes.map(() => [1, 1, 1]));
      for (const [x] of xs) await x.close();
      await eventually(
        async () => (await scrapeOn(b, hashes)).every((f) => f[0] === 0 && f[1] === 1),
        5000,
        "a's closed connections leave the swarms on every owner",
      );
      assert.deepEqual(await scrapeOn(a, hashes), hashes.map(() => [0, 1, 1]));
    } finally {
      for (const x of open) await x.close().catch(() => {});
    }
    const m = await metricsOf(a);
    assert.equal(m.get("shoal_cluster_nodes"), 3);
  },
);
