/**
 * A shoal cluster over a real `nats-server` (JetStream), with real shoal nodes on loopback:
 * `[cluster]` refusals, connection IDs valid across nodes (and a rolled secret), one live node
 * per name, membership after a graceful stop, a `kill -9` and a NATS outage, and NATS's own
 * authentication keeping a node with wrong credentials out.
 */

import assert from "node:assert/strict";
import { hasNatsServer, type NatsServer, startNats } from "../harness/nats.ts";
import {
  assertRefused,
  type ConfigParts,
  listeningOn,
  METRICS,
  metricsOf,
  processTest,
  type RunningShoal,
  runWithConfig,
  startShoalWith,
} from "./helpers/shoal.ts";
import { randomId, UdpClient } from "./helpers/udp_client.ts";
import { makeCertificate } from "./helpers/certificates.ts";
import { encodeAnnounceRequest } from "../udp/codec.ts";
import { assignShards, ClusterShards } from "../shared/store/cluster_shards.ts";
import { shardKeyOf } from "../shared/config/cluster_section.ts";

const SECRET = "cluster-secret-0123456789";
/** How long NATS stays away in the outage test (the figure). */
const OUTAGE_S = 20;
const NEW_SECRET = "cluster-secret-rolled-9876543210";

/** `[cluster]` for node `node` of cluster `name` over `nats`, heartbeats short for tests. */
function clusterParts(
  nats: NatsServer,
  node: string,
  extra: ConfigParts[string] = {},
): ConfigParts {
  return {
    // Several nodes on one machine: IPv4 loopback only (the IPv6 default port would clash).
    network: { use_ipv6: false },
    metrics: METRICS,
    cluster: {
      enabled: true,
      servers: nats.url,
      name: "t",
      node,
      secret: SECRET,
      node_timeout: 2,
      ...(extra as Record<string, string | number>),
    },
  };
}

/** Starts `shoal udp` as a node (its metrics endpoint on) and waits until it has joined. */
async function startNode(
  nats: NatsServer,
  node: string,
  extra: ConfigParts[string] = {},
  top: ConfigParts = {},
) {
  const s = await startShoalWith("udp", { ...clusterParts(nats, node, extra), ...top }, 2);
  await s.waitFor(/cluster: joined/, 10_000);
  return s;
}

/** Polls `f` until it returns true, or fails after `ms` with `what`. */
async function eventually(f: () => Promise<boolean>, ms: number, what: string): Promise<number> {
  const t0 = performance.now();
  while (!(await f())) {
    if (performance.now() - t0 > ms) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return performance.now() - t0;
}

/** The node's view of the live node count. */
async function nodesSeen(s: RunningShoal): Promise<number> {
  return (await metricsOf(s)).get("shoal_cluster_nodes") ?? -1;
}

function client(s: RunningShoal): UdpClient {
  return new UdpClient(listeningOn(s, 4));
}

/**
 * Whether `s` answers an announce carrying `cid` from `c` (of `infoHash`, random when not
 * given) within two tries of `ms` (a silent tracker: no).
 */
async function answers(
  c: UdpClient,
  cid: Uint8Array,
  infoHash = randomId(),
  ms = 1000,
): Promise<boolean> {
  const bytes = encodeAnnounceRequest({
    connectionId: cid,
    transactionId: c.nextTid(),
    infoHash,
    peerId: randomId(),
    left: 0n,
    port: 6881,
  });
  // Two tries a second apart: a datagram lost on a loaded machine is not a refusal.
  for (let i = 0; i < 2; i++) if ((await c.raw(bytes, ms)) !== null) return true;
  return false;
}

/**
 * Announces keep going to each of `targets` until `stop`; counts those a first try did not get
 * answered, and those three tries did not.
 */
function keepAnnouncing(targets: RunningShoal[]) {
  let running = true;
  const counts = { sent: 0, retried: 0, unanswered: 0 };
  const loops = targets.map(async (s) => {
    const c = client(s);
    try {
      const id = await c.connect();
      while (running) {
        counts.sent++;
        // A client's patience: three tries a second apart (BEP 15 clients wait longer).
        const bytes = encodeAnnounceRequest({
          connectionId: id,
          transactionId: c.nextTid(),
          infoHash: randomId(),
          peerId: randomId(),
          left: 0n,
          port: 6881,
        });
        let answered = false, tries = 0;
        while (!answered && tries < 3) {
          tries++;
          answered = (await c.raw(bytes, 1000)) !== null;
        }
        if (tries > 1) counts.retried++;
        if (!answered) counts.unanswered++;
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      c.close();
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return counts;
    },
  };
}

Deno.test("[cluster] without a secret, with a short one, or with bad names is refused", async () => {
  const base = { enabled: true, servers: "nats://127.0.0.1:1" };
  assertRefused(await runWithConfig("udp", { cluster: base }), /cluster\.secret is required/);
  assertRefused(
    await runWithConfig("http", { cluster: { ...base, secret: "short" } }),
    /cluster\.secret must be at least 16 characters/,
  );
  assertRefused(
    await runWithConfig("ws", { cluster: { ...base, secret: SECRET } }),
    /shoal ws does not share WebTorrent swarms between nodes yet/,
  );
  assertRefused(
    await runWithConfig("http", { cluster: { ...base, secret: SECRET, node: "a.b" } }),
    /cluster\.node/,
  );
  assertRefused(
    await runWithConfig("udp", { cluster: { ...base, secret: SECRET, servers: "nats://h:99999" } }),
    /cluster\.servers.*out of range/,
  );
});

processTest(
  "cluster: connection IDs from one node are valid on every other; forged ones nowhere",
  async () => {
    assert.ok(
      hasNatsServer(),
      "nats-server is not installed (.ci/run installs Debian's nats-server)",
    );
    const nats = await startNats();
    const running: RunningShoal[] = [];
    try {
      const a = await startNode(nats, "a");
      running.push(a);
      // B starts well after A: IDs on a per-process clock would be refused across them.
      await new Promise((r) => setTimeout(r, 1500));
      const b = await startNode(nats, "b", { previous_secret: SECRET, secret: NEW_SECRET });
      running.push(b);
      // Another cluster's node, another secret: shares nothing with A and B.
      const other = await startShoalWith("udp", {
        ...clusterParts(nats, "a", { name: "other", secret: "a-different-secret-000" }),
      }, 2);
      running.push(other);
      await other.waitFor(/cluster: joined "other"/, 10_000);

      const ca = client(a), cb = client(b), co = client(other);
      try {
        const id = await ca.connect();
        // The ID carries wall-clock seconds, which every node agrees on.
        const time = new DataView(id.buffer, id.byteOffset).getUint32(0);
        assert.ok(Math.abs(time - Date.now() / 1000) < 5, `ID time ${time} is not wall-clock`);
        assert.ok(await answers(ca, id), "A refused its own ID");
        // B was given A's secret as its previous one: it takes A's IDs.
        const onB = new UdpClient(listeningOn(b, 4));
        try {
          // The ID is bound to the client's IP, not its port: another socket may use it.
          assert.ok(await answers(onB, id), "B refused an ID A issued");
          // B issues IDs under its new secret, which A does not know.
          const idB = await onB.connect();
          assert.ok(await answers(cb, idB), "B refused its own ID");
          assert.equal(
            await answers(ca, idB),
            false,
            "A took an ID under a secret it was never given",
          );
        } finally {
          onB.close();
        }
        assert.equal(await answers(co, id), false, "another cluster took A's ID");
        const forged = id.slice();
        forged[7] ^= 1;
        for (const c of [ca, cb, co]) assert.equal(await answers(c, forged), false, "a forged ID");
        // A and B see each other; the other cluster sees itself alone.
        await eventually(
          async () => await nodesSeen(a) === 2 && await nodesSeen(b) === 2,
          5000,
          "A and B see 2 nodes",
        );
        assert.equal(await nodesSeen(other), 1);
      } finally {
        ca.close();
        cb.close();
        co.close();
      }
    } finally {
      for (const s of running) await s.stop();
      await nats.destroy();
    }
  },
);

processTest(
  "cluster: one live node per name; a stopped or killed node leaves the others' view",
  async () => {
    assert.ok(
      hasNatsServer(),
      "nats-server is not installed (.ci/run installs Debian's nats-server)",
    );
    const nats = await startNats();
    const running: RunningShoal[] = [];
    try {
      const a = await startNode(nats, "a");
      running.push(a);
      const b = await startNode(nats, "b");
      running.push(b);
      // A second "b" is refused while the first is live: one line, exit 2.
      const dup = await runWithConfig("udp", clusterParts(nats, "b"), 30_000);
      assertRefused(dup, /node "b" is already live in cluster "t"/);

      await eventually(async () => await nodesSeen(a) === 2, 5000, "A sees B");
      // A graceful stop deletes B's key: A knows at once (well within the timeout).
      await b.stop();
      running.splice(running.indexOf(b), 1);
      await eventually(async () => await nodesSeen(a) === 1, 1500, "A sees B leave");

      // kill -9: nobody deletes the key; A stops hearing C within node_timeout (2 s).
      const c = await startNode(nats, "c");
      await eventually(async () => await nodesSeen(a) === 2, 5000, "A sees C");
      // A torrent C owns: A forwards its announces to C while C lives.
      const owners = assignShards(["a", "c"]);
      let h = randomId();
      const shards = new ClusterShards(shardKeyOf(SECRET));
      while (owners.nodes[owners.owner[shards.of(h, 0)]] !== "c") h = randomId();
      const ca = client(a);
      try {
        assert.ok(await answers(ca, await ca.connect(), h), "A answers for C's torrent");
        c.child.kill("SIGKILL");
        await c.child.status;
        const killed = performance.now();
        // Unanswered while A still routes to C; answered by A once it counts C gone.
        const id = await ca.connect();
        while (!(await answers(ca, id, h, 300))) {
          assert.ok(performance.now() - killed < 2000 + 3000, "A never took over C's shards");
        }
        const took = performance.now() - killed;
        console.log(
          `A answered for C's shards ${Math.round(took)} ms after kill -9 (node_timeout 2 s)`,
        );
        assert.equal(await nodesSeen(a), 1);
      } finally {
        ca.close();
      }
      // The name is free again once the bucket's TTL removed C's key.
      const c2 = await startNode(nats, "c");
      running.push(c2);
      await eventually(async () => await nodesSeen(a) === 2, 5000, "A sees the new C");
    } finally {
      for (const s of running) await s.stop();
      await nats.destroy();
    }
  },
);

processTest(
  "cluster: without NATS each node answers alone; when NATS is back, swarms are merged",
  async () => {
    assert.ok(
      hasNatsServer(),
      "nats-server is not installed (.ci/run installs Debian's nats-server)",
    );
    const nats = await startNats();
    const running: RunningShoal[] = [];
    try {
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
    } finally {
      for (const s of running) await s.stop();
      await nats.destroy();
    }
  },
);

processTest(
  "cluster: NATS authentication keeps a node with wrong credentials out, and says why",
  async () => {
    assert.ok(
      hasNatsServer(),
      "nats-server is not installed (.ci/run installs Debian's nats-server)",
    );
    const nats = await startNats({ user: "shoal", password: "right-password" });
    try {
      const wrong = await runWithConfig(
        "udp",
        clusterParts(nats, "a", { user: "shoal", password: "wrong-password" }),
        30_000,
      );
      assertRefused(wrong, /NATS refused this node's credentials/);
      assert.doesNotMatch(wrong.stderr + wrong.stdout, /wrong-password/, "the password was logged");
      const none = await runWithConfig("udp", clusterParts(nats, "a"), 30_000);
      assertRefused(none, /NATS refused this node's credentials/);
      const right = await startNode(nats, "a", { user: "shoal", password: "right-password" });
      try {
        assert.equal((await metricsOf(right)).get("shoal_cluster_member"), 1);
      } finally {
        await right.stop();
      }
    } finally {
      await nats.destroy();
    }
  },
);

processTest(
  "cluster: every node answers for every swarm: announces and scrapes go to each shard's owner",
  async () => {
    assert.ok(
      hasNatsServer(),
      "nats-server is not installed (.ci/run installs Debian's nats-server)",
    );
    const nats = await startNats();
    const running: RunningShoal[] = [];
    try {
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
      const ca = client(a), cb = client(b), cc = client(c);
      try {
        // 30 torrents: each of the three nodes owns some of them.
        const hashes = Array.from({ length: 30 }, () => randomId());
        const ida = await ca.connect();
        for (const h of hashes) {
          const r = await ca.announce(ida, {
            infoHash: h,
            peerId: randomId(),
            left: 0n,
            port: 7001,
          });
          assert.equal(r.action, 1, "A's announce answered");
        }
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
        ca.close();
        cb.close();
        cc.close();
      }
    } finally {
      for (const s of running) await s.stop();
      await nats.destroy();
    }
  },
);

/** Seeders, leechers and completed of `hashes`, scraped on `s`. */
async function scrapeAll(s: RunningShoal, hashes: Uint8Array[]): Promise<number[][]> {
  const c = client(s);
  try {
    const out: number[][] = [];
    for (let i = 0; i < hashes.length; i += 50) {
      const r = await c.scrape(await c.connect(), hashes.slice(i, i + 50));
      assert.ok(r.action === 2, `scrape answered with action ${r.action}`);
      out.push(...r.torrents.map((t) => [t.seeders, t.leechers, t.completed]));
    }
    return out;
  } finally {
    c.close();
  }
}

processTest(
  "cluster: a rolling restart of every node loses no swarm (peers and completed counts)",
  async () => {
    assert.ok(
      hasNatsServer(),
      "nats-server is not installed (.ci/run installs Debian's nats-server)",
    );
    const nats = await startNats();
    const names = ["a", "b", "c"];
    const running: (RunningShoal | null)[] = [];
    try {
      for (const n of names) running.push(await startNode(nats, n));
      const all = () => running.filter((s): s is RunningShoal => s !== null);
      const together = async (n: number) =>
        await eventually(
          async () => (await Promise.all(all().map(nodesSeen))).every((k) => k === n),
          8000,
          `every node sees ${n}`,
        );
      await together(3);
      // 60 torrents: a seeder that completed (through node a), a leecher (through node b).
      const hashes = Array.from({ length: 60 }, () => randomId());
      const ca = client(running[0]!), cb = client(running[1]!);
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
      const before = await scrapeAll(running[2]!, hashes);
      assert.ok(before.every(([s, l, d]) => s === 1 && l === 1 && d === 1), JSON.stringify(before));
      for (let k = 0; k < names.length; k++) {
        // Under load: the other two nodes answer every announce throughout.
        const load = keepAnnouncing(all().filter((_, j) => j !== k));
        await running[k]!.stop();
        running[k] = null;
        await together(2);
        // The others answer for every swarm while it is down.
        assert.deepEqual(await scrapeAll(all()[0], hashes), before, `while ${names[k]} is down`);
        running[k] = await startNode(nats, names[k]);
        await together(3);
        // Once its shards came back to it, every node answers as before.
        await eventually(
          async () =>
            JSON.stringify(await scrapeAll(running[k]!, hashes)) === JSON.stringify(before),
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
    } finally {
      for (const s of running) await s?.stop();
      await nats.destroy();
    }
  },
);

processTest(
  "cluster: over a NATS that speaks only TLS, nodes with its CA join and share swarms",
  async () => {
    assert.ok(
      hasNatsServer(),
      "nats-server is not installed (.ci/run installs Debian's nats-server)",
    );
    const dir = await Deno.makeTempDir({ prefix: "shoal-nats-tls-" });
    const cert = await makeCertificate(dir, "nats");
    const nats = await startNats(null, false, { cert: cert.cert, key: cert.key });
    const running: RunningShoal[] = [];
    try {
      for (const n of ["a", "b"]) running.push(await startNode(nats, n, { tls_ca_file: cert.ca }));
      const [a, b] = running;
      await eventually(
        async () => await nodesSeen(a) === 2 && await nodesSeen(b) === 2,
        5000,
        "A and B",
      );
      // A seeder through A of torrents each node owns; B's scrape finds every one.
      const hashes = Array.from({ length: 10 }, () => randomId());
      const ca = client(a);
      try {
        const id = await ca.connect();
        for (const h of hashes) {
          await ca.announce(id, {
            infoHash: h,
            peerId: randomId(),
            left: 0n,
            port: 7001,
          });
        }
      } finally {
        ca.close();
      }
      assert.ok((await scrapeAll(b, hashes)).every(([s]) => s === 1), "B does not see A's seeders");
      // Without the CA a node cannot reach NATS: it says so and serves alone.
      const lone = await startShoalWith("udp", clusterParts(nats, "c"), 2);
      running.push(lone);
      await lone.waitFor(/cluster: NATS unreachable/, 10_000);
      assert.equal((await metricsOf(lone)).get("shoal_cluster_member"), 0);
    } finally {
      for (const s of running) await s.stop();
      await nats.destroy();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
