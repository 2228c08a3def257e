/**
 * The swarms a shoal cluster shares, over a real `nats-server` with three real nodes on loopback:
 * every node answers for every swarm (announces and scrapes go to each shard's owner), a rolling
 * restart loses none of them with the other nodes answering throughout, and NATS away for
 * `OUTAGE_S` seconds leaves every node answering alone, its swarms merged at their owners after.
 */
import assert from "node:assert/strict";
import { metricsOf, type RunningShoal } from "./helpers/shoal.ts";
import { randomId } from "./helpers/udp_client.ts";
import {
  answers,
  client,
  clusterTest,
  eventually,
  keepAnnouncing,
  nodesSeen,
  OUTAGE_S,
  scrapeAll,
  seedThrough,
  startNode,
} from "./helpers/cluster.ts";

clusterTest(
  "cluster: every node answers for every swarm: announces and scrapes go to each shard's owner",
  async (nats, running) => {
    {
      // Nodes of 1, 2 and 3 request workers (and 1 or 2 socket workers): a batch goes to the
      // owner's request worker for its info hash, named by the key every node shares.
      const workers = [[1, 1], [2, 2], [1, 3]];
      for (const [k, n] of ["a", "b", "c"].entries()) {
        const [socket_workers, request_workers] = workers[k];
        running.push(await startNode(nats, n, {}, { socket_workers, request_workers }));
      }
      const [a, b, c] = running;
      await eventually(
        async () => (await Promise.all(running.map(nodesSeen))).every((n) => n === 3),
        5000,
        "every node sees 3",
      );
      const shards = await Promise.all(
        running.map(async (s) => (await metricsOf(s)).get("shoal_cluster_shards")),
      );
      assert.equal(shards.reduce((x, y) => x! + y!, 0), 1024, `shards ${shards}`);
      const cb = client(b), cc = client(c);
      try {
        // 30 torrents: each of the three nodes owns some of them.
        const hashes = Array.from({ length: 30 }, () => randomId());
        await seedThrough(a, hashes);
        // B's leechers see A's seeders, whichever node owns each swarm.
        const idb = await cb.connect();
        for (const h of hashes) {
          const r = await cb.announce(idb, {
            infoHash: h,
            peerId: randomId(),
            left: 100n,
            port: 7002,
          });
          assert.ok(r.action === 1, `answered with action ${r.action}`);
          assert.equal(r.seeders, 1, "B sees A's seeder");
          assert.deepEqual(r.peers, ["127.0.0.1:7001"], "B is given A's seeder");
        }
        // A scrape on C counts both, gathered from every owner.
        const idc = await cc.connect();
        const s = await cc.scrape(idc, hashes);
        assert.ok(s.action === 2, `answered with action ${s.action}`);
        assert.equal(s.torrents.length, hashes.length);
        for (const e of s.torrents) assert.deepEqual([e.seeders, e.leechers], [1, 1]);
        // The statistics page of any node shows every node and the cluster's total.
        await eventually(
          async () => {
            const l = a.listening.find((x) => x.metrics)!;
            const st = await (await fetch(`http://${l.hostname}:${l.port}/stats.json`)).json();
            return st.cluster?.nodes.length === 3 && st.cluster.total.torrents === hashes.length &&
              st.cluster.total.peers === 2 * hashes.length;
          },
          5000,
          "the cluster's total on A's statistics page",
        );
        // Each node forwarded some of it, and answered some for the others.
        for (const node of running) {
          const m = await metricsOf(node);
          const sum = (name: string, direction: string) =>
            [...m].filter(([k]) =>
              k.startsWith(`${name}{`) && k.includes(`direction="${direction}"`)
            )
              .reduce((t, [, v]) => t + v, 0);
          assert.ok(sum("shoal_cluster_forwarded_requests_total", "out") > 0, "nothing forwarded");
          assert.ok(
            sum("shoal_cluster_forwarded_requests_total", "in") > 0,
            "nothing answered for others",
          );
          assert.ok(
            [...m].some(([k, v]) =>
              k.startsWith("shoal_cluster_forward_latency_seconds_count") && v > 0
            ),
            "no forward round trip measured",
          );
        }
      } finally {
        cb.close();
        cc.close();
      }
    }
  },
);

clusterTest(
  "cluster: a rolling restart of every node loses no swarm (peers and completed counts)",
  async (nats, running) => {
    const names = ["a", "b", "c"];
    // By name, null while one is down (`running` holds the live ones, for the end).
    const nodes: (RunningShoal | null)[] = [];
    {
      for (const n of names) nodes.push(await startNode(nats, n));
      running.push(...nodes as RunningShoal[]);
      const all = () => nodes.filter((s): s is RunningShoal => s !== null);
      const together = async (n: number) =>
        await eventually(
          async () => (await Promise.all(all().map(nodesSeen))).every((k) => k === n),
          8000,
          `every node sees ${n}`,
        );
      await together(3);
      // 60 torrents: a seeder that completed (through node a), a leecher (through node b).
      const hashes = Array.from({ length: 60 }, () => randomId());
      const ca = client(nodes[0]!), cb = client(nodes[1]!);
      try {
        const ida = await ca.connect(), idb = await cb.connect();
        for (const h of hashes) {
          await ca.announce(ida, { infoHash: h, peerId: randomId(), left: 100n, port: 7001 });
          await ca.announce(ida, {
            infoHash: h,
            peerId: randomId(),
            left: 0n,
            event: 1,
            port: 7001,
          });
          await cb.announce(idb, { infoHash: h, peerId: randomId(), left: 50n, port: 7002 });
        }
      } finally {
        ca.close();
        cb.close();
      }
      const before = await scrapeAll(nodes[2]!, hashes);
      assert.ok(before.every(([s, l, d]) => s === 1 && l === 1 && d === 1), JSON.stringify(before));
      for (let k = 0; k < names.length; k++) {
        // Under load: the other two nodes answer every announce throughout.
        const load = keepAnnouncing(all().filter((_, j) => j !== k));
        await nodes[k]!.stop();
        running.splice(running.indexOf(nodes[k]!), 1);
        nodes[k] = null;
        await together(2);
        // The others answer for every swarm while it is down.
        assert.deepEqual(await scrapeAll(all()[0], hashes), before, `while ${names[k]} is down`);
        running.push(nodes[k] = await startNode(nats, names[k]));
        await together(3);
        // Once its shards came back to it, every node answers as before.
        await eventually(
          async () => JSON.stringify(await scrapeAll(nodes[k]!, hashes)) === JSON.stringify(before),
          8000,
          `swarms back after ${names[k]} restarted`,
        );
        // And a second more, over the shards that just moved back.
        await new Promise((r) => setTimeout(r, 1000));
        const { sent, retried, unanswered } = await load.stop();
        console.log(`${names[k]} restarted: ${sent} announces to the others, ${retried} retried`);
        assert.ok(sent > 10, `only ${sent} announces sent`);
        assert.equal(
          unanswered,
          0,
          `${unanswered} of ${sent} announces unanswered while ${names[k]} restarted`,
        );
      }
      for (const s of all()) assert.deepEqual(await scrapeAll(s, hashes), before);
    }
  },
);

clusterTest(
  "cluster: without NATS each node answers alone; when NATS is back, swarms are merged",
  async (nats, running) => {
    {
      for (const n of ["a", "b", "c"]) running.push(await startNode(nats, n));
      const [a, b, c] = running;
      await eventually(
        async () => (await Promise.all(running.map(nodesSeen))).every((k) => k === 3),
        5000,
        "every node sees 3",
      );
      const hashes = Array.from({ length: 20 }, () => randomId());
      const ca = client(a), cb = client(b);
      try {
        // Every node under load through the outage and after.
        const load = keepAnnouncing(running);
        await nats.stop();
        const down = performance.now();
        await a.waitFor(/cluster: NATS unreachable/, 5000);
        await b.waitFor(/cluster: NATS unreachable/, 5000);
        // Alone: every shard is each node's own, and every request is answered there. A seeder
        // of each torrent comes to A, a leecher to B: each node holds half of every swarm.
        const ida = await ca.connect(), idb = await cb.connect();
        for (const h of hashes) {
          const r1 = await ca.announce(ida, {
            infoHash: h,
            peerId: randomId(),
            left: 0n,
            port: 7001,
          });
          const r2 = await cb.announce(idb, {
            infoHash: h,
            peerId: randomId(),
            left: 9n,
            port: 7002,
          });
          assert.ok(r1.action === 1 && r2.action === 1);
          assert.deepEqual([r2.seeders, r2.leechers], [0, 1], "B alone knows only its own leecher");
        }
        const m = await metricsOf(a);
        assert.equal(m.get("shoal_cluster_member"), 0);
        assert.equal(m.get("shoal_cluster_shards"), 1024);
        assert.equal(m.get("shoal_cluster_outages_total"), 1);
        assert.equal(
          a.output.filter((l) => /NATS unreachable/.test(l)).length,
          1,
          "the outage is logged once",
        );
        // NATS stays away for `OUTAGE_S` in all.
        await new Promise((r) =>
          setTimeout(r, Math.max(0, OUTAGE_S * 1000 - (performance.now() - down)))
        );
        await nats.start();
        const back = await eventually(
          async () => (await Promise.all(running.map(nodesSeen))).every((k) => k === 3),
          10_000,
          "every node sees 3 again",
        );
        console.log(`rejoined ${Math.round(back)} ms after NATS started again`);
        // Each swarm has one owner again, with both halves: a scrape anywhere counts both.
        await eventually(
          async () => (await scrapeAll(c, hashes)).every(([s, l]) => s === 1 && l === 1),
          5000,
          "swarms merged at their owners",
        );
        const m2 = await metricsOf(a);
        assert.equal(m2.get("shoal_cluster_member"), 1);
        assert.ok((m2.get("shoal_cluster_shards") ?? 0) < 1024, "A still owns every shard");
        const { sent, retried, unanswered } = await load.stop();
        console.log(`${sent} announces around the outage, ${retried} retried`);
        assert.ok(sent > 30, `only ${sent} announces sent`);
        assert.equal(
          unanswered,
          0,
          `${unanswered} of ${sent} announces unanswered around the outage`,
        );
      } finally {
        ca.close();
        cb.close();
      }
    }
  },
);

clusterTest(
  "cluster: a frozen NATS (SIGSTOP): within node_timeout each node answers every swarm itself, and rejoins",
  async (nats, running) => {
    // A NATS that stops answering without closing its connections, as a server that hangs or a
    // network that drops everything does: nothing tells the nodes, so each must notice the
    // others' silence within node_timeout (2 s here) and answer every swarm itself.
    for (const n of ["a", "b"]) running.push(await startNode(nats, n));
    const [a, b] = running;
    await eventually(
      async () => (await Promise.all(running.map(nodesSeen))).every((k) => k === 2),
      5000,
      "both nodes see 2",
    );
    const ca = client(a), cb = client(b);
    try {
      const id = await ca.connect(), idb = await cb.connect();
      // 20 torrents: B owns some of them, so A's answers for those came through NATS.
      const hashes = Array.from({ length: 20 }, () => randomId());
      const fresh = Array.from({ length: 10 }, () => randomId()), leecher = randomId();
      for (const h of hashes) assert.ok(await answers(ca, id, h), "answered before the freeze");
      Deno.kill(nats.pid, "SIGSTOP");
      let took: number;
      try {
        // node_timeout and 2 s of margin (here about 1.7 s in all). A node whose forgetting
        // waited on its heartbeat's refresh answered alone only after the refresh timed out,
        // about 5.2 s.
        took = await eventually(
          async () => {
            for (const h of hashes) if (!(await answers(ca, id, h, 300))) return false;
            return true;
          },
          4000,
          "A answers every swarm itself while NATS is frozen",
        );
        // Alone, each node holds half of 10 new swarms: a seeder at A, a leecher at B.
        await seedThrough(a, fresh);
        for (const h of fresh) {
          await eventually(
            async () => {
              const r2 = await cb.announce(idb, {
                infoHash: h,
                peerId: leecher,
                left: 9n,
                port: 7002,
              }).catch(() => null);
              return r2?.action === 1;
            },
            4000,
            "B answers alone while NATS is frozen",
          );
        }
      } finally {
        Deno.kill(nats.pid, "SIGCONT");
      }
      console.log(`A answered every swarm alone ${Math.round(took)} ms after NATS froze`);
      await eventually(
        async () => (await Promise.all(running.map(nodesSeen))).every((k) => k === 2),
        10_000,
        "both nodes see 2 again after NATS thawed",
      );
      // After the thaw each swarm has one owner again, holding both halves.
      await eventually(
        async () => (await scrapeAll(b, fresh)).every(([s, l]) => s === 1 && l === 1),
        5000,
        "the swarms held apart are merged at their owners after the thaw",
      );
    } finally {
      ca.close();
      cb.close();
    }
  },
);
