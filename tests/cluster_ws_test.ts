/**
 * A cluster of `shoal ws` nodes over a real `nats-server`: WebTorrent peers connected to
 * different nodes find each other, their offers and answers cross nodes to reach them, scrapes
 * on any node count them, and a closed connection leaves its swarms on whichever node owns them.
 * When a swarm's owner stops, is killed, or comes back, the peers held by the other nodes join
 * its new owner at once, and a graceful stop hands over its completed counts.
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
import { assignShards, ClusterShards } from "../shared/store/cluster_shards.ts";
import { shardKeyOf } from "../shared/config/cluster_section.ts";

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

/** Seeders, leechers and completed of each of `hashes`, scraped on `s` (answered within `ms`). */
async function scrapeOn(s: RunningShoal, hashes: string[], ms = 5000): Promise<number[][]> {
  const c = await WsClient.connect(trackerUrl(s));
  try {
    c.send({ action: "scrape", info_hash: hashes });
    const files = (await c.next((m) => m.action === "scrape", ms)).files;
    return hashes.map((h) => {
      const f = files[h];
      return f === undefined ? [-1, -1, -1] : [f.complete, f.incomplete, f.downloaded];
    });
  } finally {
    await c.close();
  }
}

/**
 * Waits up to `ms` for a scrape of `hashes` on `s` to count `want`. A scrape may go unanswered
 * meanwhile: a part sent to a node that was leaving is lost (a client scrapes again).
 */
async function scrapesSettle(
  s: RunningShoal,
  hashes: string[],
  want: number[][],
  ms: number,
  what: string,
): Promise<number> {
  return await eventually(
    async () => {
      try {
        return JSON.stringify(await scrapeOn(s, hashes, 1000)) === JSON.stringify(want);
      } catch {
        return false;
      }
    },
    ms,
    what,
  );
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
        await x.next(isReply(info));
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
      await scrapesSettle(b, hashes, hashes.map(() => [0, 1, 1]), 5000, "a's peers left");
      assert.deepEqual(await scrapeOn(a, hashes), hashes.map(() => [0, 1, 1]));
    } finally {
      for (const x of open) await x.close().catch(() => {});
    }
    const m = await metricsOf(a);
    assert.equal(m.get("shoal_cluster_nodes"), 3);
  },
);

/** `n` info hashes (WebTorrent's binary strings) whose owner among `nodes` is `node`. */
function ownedBy(node: string, nodes: string[], n: number): string[] {
  const owners = assignShards(nodes), shards = new ClusterShards(shardKeyOf(SECRET));
  const out: string[] = [];
  while (out.length < n) {
    const h = bin20();
    const b = Uint8Array.from(h, (ch) => ch.charCodeAt(0));
    if (owners.nodes[owners.owner[shards.of(b, 0)]] === node) out.push(h);
  }
  return out;
}

clusterTest(
  "cluster (ws): peers join a swarm's new owner at once when its owner stops, comes back or is killed",
  async (nats, running) => {
    const a = await startWsNode(nats, "a");
    running.push(a);
    const b = await startWsNode(nats, "b", 2);
    running.push(b);
    const c = await startWsNode(nats, "c");
    for (const s of [a, b, c]) {
      await eventually(async () => (await nodesSeen(s)) === 3, 10_000, "every node sees 3");
    }
    const all = ["a", "b", "c"];
    const ofC = ownedBy("c", all, 4), others = [...ownedBy("a", all, 2), ...ownedBy("b", all, 2)];
    const hashes = [...ofC, ...others];
    const open: WsClient[] = [];
    try {
      // Per torrent, a seeder on a that completed it, and a leecher on b.
      for (const info of hashes) {
        const [x, xId] = await peerOn(a, info);
        x.send({ action: "announce", info_hash: info, peer_id: xId, left: 0, event: "completed" });
        await x.next(isReply(info));
        const [y] = await peerOn(b, info);
        open.push(x, y);
      }
      const whole = hashes.map(() => [1, 1, 1]);
      assert.deepEqual(await scrapeOn(a, hashes), whole);

      // c stops gracefully: its swarms' completed counts go to a and b, and the peers follow.
      await c.stop();
      await eventually(async () => (await nodesSeen(a)) === 2, 5000, "a sees c leave");
      await scrapesSettle(b, hashes, whole, 5000, "c's swarms whole on their new owners");

      // c comes back: its shards, peers and counts return to it.
      const c2 = await startWsNode(nats, "c");
      await eventually(async () => (await nodesSeen(a)) === 3, 10_000, "a sees c again");
      await scrapesSettle(a, hashes, whole, 5000, "the swarms whole on c again");
      // A peer connected to c, in a torrent another node owns.
      const [w] = await peerOn(c2, others[0]);
      open.push(w);
      const withW = (h: string, f: number[]) => h === others[0] ? [f[0], f[1] + 1, f[2]] : f;
      await scrapesSettle(a, hashes, hashes.map((h) => withW(h, [1, 1, 1])), 5000, "c's peer");

      // kill -9: no handoff, so c's completed counts are gone; its peers join a and b within
      // node_timeout (2 s) and the assignment, without an announce.
      c2.child.kill("SIGKILL");
      await c2.child.status;
      const killed = performance.now();
      const refilled = hashes.map((h) => [1, 1, ofC.includes(h) ? 0 : 1]);
      const refilledWithW = hashes.map((h, k) => withW(h, refilled[k]));
      await scrapesSettle(a, hashes, refilledWithW, 2000 + 3000, "c's swarms refilled on a, b");
      console.log(`c's swarms refilled ${Math.round(performance.now() - killed)} ms after kill -9`);

      // And offers still reach the peers of the torrents c owned.
      const [x, xId] = await peerOn(a, ofC[0]);
      open.push(x);
      x.send({
        action: "announce",
        info_hash: ofC[0],
        peer_id: xId,
        left: 1,
        offers: Array.from({ length: 2 }, () => ({ offer_id: bin20(), offer: sdp("offer") })),
      });
      const reached = await Promise.all(
        open.slice(0, 2).map((p) => p.gets((m) => m.offer !== undefined, 3000)),
      );
      assert.deepEqual(reached, [true, true], "both peers of the torrent get an offer");

      // c stays gone: after a grace (10 s) for a node that only missed heartbeats, the peers of
      // its connections leave the other nodes' swarms.
      // (x joined the first torrent c owned: one more leecher there.)
      const left = refilled.map((f, k) => k === 0 ? [f[0], f[1] + 1, f[2]] : f);
      const gone = await scrapesSettle(
        a,
        hashes,
        left,
        2000 + 10_000 + 5000,
        "c's peers forgotten",
      );
      console.log(`c's peers forgotten ${Math.round(performance.now() - killed)} ms after kill -9`);
      assert.ok(gone > 0);
    } finally {
      for (const x of open) await x.close().catch(() => {});
    }
  },
);

clusterTest(
  "cluster (ws): without NATS each node answers alone; when NATS is back, every swarm is whole at its owner",
  async (nats, running) => {
    for (const n of ["a", "b", "c"]) running.push(await startWsNode(nats, n));
    const [a, b, c] = running;
    for (const s of running) {
      await eventually(async () => (await nodesSeen(s)) === 3, 10_000, "every node sees 3");
    }
    const hashes = Array.from({ length: 8 }, () => bin20());
    let step = "";
    const open: WsClient[] = [];
    try {
      const pairs: [WsClient, string, WsClient, string][] = [];
      for (const info of hashes) {
        const [x, xId] = await peerOn(a, info);
        const [y, yId] = await peerOn(b, info);
        open.push(x, y);
        pairs.push([x, xId, y, yId]);
      }
      await nats.stop();
      await a.waitFor(/cluster: NATS unreachable/, 5000);
      await b.waitFor(/cluster: NATS unreachable/, 5000);
      // Alone, each node answers every announce itself, and its own peers find each other.
      for (const [i, info] of hashes.entries()) {
        const [x, xId] = pairs[i];
        x.send({ action: "announce", info_hash: info, peer_id: xId, left: 1 });
        step = "alone announce " + i;
        await x.next(isReply(info), 3000);
      }
      const [z, zId] = await peerOn(a, hashes[0]);
      open.push(z);
      z.send({
        action: "announce",
        info_hash: hashes[0],
        peer_id: zId,
        left: 1,
        offers: [{ offer_id: bin20(), offer: sdp("offer") }],
      });
      step = "alone offer";
      await pairs[0][0].next((m) => m.offer !== undefined, 3000);
      z.send({ action: "announce", info_hash: hashes[0], peer_id: zId, event: "stopped" });
      await z.next(isReply(hashes[0]));

      await nats.start();
      for (const s of running) {
        await eventually(async () => (await nodesSeen(s)) === 3, 10_000, "every node sees 3 again");
      }
      // Each swarm has one owner again, and both its peers are there.
      await scrapesSettle(c, hashes, hashes.map(() => [0, 2, 0]), 5000, "swarms whole again");
      for (const [i, info] of hashes.entries()) {
        const [x, xId, y] = pairs[i];
        x.send({
          action: "announce",
          info_hash: info,
          peer_id: xId,
          left: 1,
          offers: [{ offer_id: bin20(), offer: sdp("offer") }],
        });
        step = "back reply " + i;
        await x.next(isReply(info));
        step = "back offer " + i;
        await y.next((m) => m.offer !== undefined && m.info_hash === info, 3000);
      }
    } catch (e) {
      console.log("STEP", step);
      for (const s of running) console.log(s.output.filter((l) => /cluster/.test(l)).join("\n"));
      throw e;
    } finally {
      for (const x of open) await x.close().catch(() => {});
    }
  },
);
