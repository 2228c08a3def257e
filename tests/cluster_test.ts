/**
 * A shoal cluster over a real `nats-server` (JetStream), with real shoal nodes on loopback: its
 * membership. `[cluster]` refusals, connection IDs valid across nodes (and a rolled secret), one
 * live node per name, a graceful stop and a `kill -9`, and NATS's own authentication and TLS
 * keeping a node with wrong credentials or no CA out (and a server that requires TLS behind a
 * `nats://` URL reached all the same). The swarms they share:
 * `cluster_swarms_test.ts`.
 */
import assert from "node:assert/strict";
import { hasNatsServer, startNats } from "../harness/nats.ts";
import {
  assertRefused,
  listeningOn,
  metricsOf,
  processTest,
  type RunningShoal,
  runWithConfig,
  startShoalWith,
} from "./helpers/shoal.ts";
import { randomId, UdpClient } from "./helpers/udp_client.ts";
import { makeCertificate } from "./helpers/certificates.ts";
import { assignShards, ClusterShards } from "../shared/store/cluster_shards.ts";
import { shardKeyOf } from "../shared/config/cluster_section.ts";
import {
  answers,
  client,
  clusterParts,
  clusterTest,
  eventually,
  NEW_SECRET,
  nodesSeen,
  scrapeAll,
  SECRET,
  seedThrough,
  startNode,
} from "./helpers/cluster.ts";

Deno.test("[cluster] without a secret, with a short one, or with bad names is refused (udp, http, ws)", async () => {
  const base = { enabled: true, servers: "nats://127.0.0.1:1" };
  assertRefused(await runWithConfig("udp", { cluster: base }), /cluster\.secret is required/);
  assertRefused(
    await runWithConfig("http", { cluster: { ...base, secret: "short" } }),
    /cluster\.secret must be at least 16 characters/,
  );
  assertRefused(
    await runWithConfig("ws", { cluster: { ...base, secret: "short" } }),
    /cluster\.secret must be at least 16 characters/,
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

clusterTest(
  "cluster: connection IDs from one node are valid on every other; forged ones nowhere",
  async (nats, running) => {
    {
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
    }
  },
);

clusterTest(
  "cluster: one live node per name; a stopped or killed node leaves the others' view",
  async (nats, running) => {
    {
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
    }
  },
);

clusterTest(
  "cluster: NATS authentication keeps a node with wrong credentials out, and says why",
  async (nats, running) => {
    {
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
      running.push(right);
      assert.equal((await metricsOf(right)).get("shoal_cluster_member"), 1);
    }
  },
  { user: "shoal", password: "right-password" },
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
      await seedThrough(a, hashes);
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

processTest(
  "cluster: a NATS that requires TLS behind a nats:// URL: the workers say so and speak TLS anyway",
  async () => {
    assert.ok(
      hasNatsServer(),
      "nats-server is not installed (.ci/run installs Debian's nats-server)",
    );
    // No tls_ca_file and a nats:// URL: the workers' links start on their poller's plain TCP,
    // read the server's INFO (tls_required), warn, and fall back to Deno's TLS connections,
    // which trust the test CA through DENO_CERT (as an operator's system store would).
    const dir = await Deno.makeTempDir({ prefix: "shoal-nats-tls-plain-" });
    const cert = await makeCertificate(dir, "nats");
    const nats = await startNats(null, false, { cert: cert.cert, key: cert.key });
    const url = nats.url.replace(/^tls:/, "nats:");
    const running: RunningShoal[] = [];
    try {
      for (const n of ["a", "b"]) {
        const parts = clusterParts(nats, n, { servers: url });
        const s = await startShoalWith("udp", parts, 2, { env: { DENO_CERT: cert.ca } });
        running.push(s);
        await s.waitFor(/cluster: joined/, 10_000);
      }
      const [a, b] = running;
      await eventually(
        async () => await nodesSeen(a) === 2 && await nodesSeen(b) === 2,
        5000,
        "A and B",
      );
      // Each worker's link (1 socket + 1 request worker) warned, naming what to write instead.
      const warned = a.output.filter((l) => /requires TLS: give it as tls:\/\//.test(l));
      assert.ok(warned.length >= 1, a.output.join("\n"));
      // Swarms are shared through those links: A's seeders of torrents each node owns.
      const hashes = Array.from({ length: 10 }, () => randomId());
      await seedThrough(a, hashes);
      assert.ok((await scrapeAll(b, hashes)).every(([s]) => s === 1), "B does not see A's seeders");
    } finally {
      for (const s of running) await s.stop();
      await nats.destroy();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
