/**
 * A private cluster: two `shoal http` (or `shoal ws`) nodes over one throwaway PostgreSQL
 * (Debian's) and a real `nats-server`. A key made through node A's admin API is taken on node B; B's keyed announces
 * for a torrent node A owns are forwarded with the key's text (indices are per process), and
 * the accounting lands in the shared database under that key. A cluster over SQLite is refused.
 *
 * Ignored, with the reason printed, when PostgreSQL is not installed (`.ci/run` installs it).
 */
import assert from "node:assert/strict";
import { hasNatsServer, startNats } from "../harness/nats.ts";
import { postgresInstalled, startPostgres } from "../harness/postgres.ts";
import { PostgresDb } from "../private/postgres.ts";
import { ClusterShards } from "../shared/store/cluster_shards.ts";
import { assignShards } from "../shared/store/cluster_shards.ts";
import { shardKeyOf } from "../shared/config/cluster_section.ts";
import { announceQuery, bdecode, HttpClient, text } from "./helpers/http_client.ts";
import { createKey, eventually, type PrivateShoal, startPrivate } from "./helpers/private.ts";
import {
  assertRefused,
  listeningOn,
  processTest,
  runWithConfig,
  trackerUrl,
} from "./helpers/shoal.ts";
import { bin20, WsClient } from "../harness/ws_client.ts";
import { randomId } from "./helpers/udp_client.ts";

const SECRET = "private-cluster-secret-0123";

const ignore = !postgresInstalled();
if (ignore) {
  console.log(
    "IGNORED private cluster test: PostgreSQL is not installed (apt-get install postgresql; .ci/run does).",
  );
}

Deno.test("cluster: private tracking in a cluster over SQLite is refused (keys would split)", async () => {
  const r = await runWithConfig("udp", {
    private: { enabled: true, database: "sqlite:/tmp/x.db", api_token: "0123456789abcdef0123" },
    cluster: { enabled: true, servers: "nats://127.0.0.1:1", secret: SECRET },
  });
  assertRefused(r, /one postgres:\/\/ database, not sqlite/);
});

/**
 * Two private nodes `a` and `b` of `protocol` over one PostgreSQL: a key made on each, then
 * `announce` on node `b` with the key `KEY` for the info hash `ih` that node `a` owns (with
 * uploaded 0, then 4000); the accounting must land under `KEY` through `a`.
 */
async function privateCluster(
  protocol: "http" | "ws",
  announce: (b: PrivateShoal, key: string, ih: Uint8Array) => Promise<void>,
): Promise<void> {
  {
    assert.ok(hasNatsServer(), "nats-server is not installed (.ci/run installs it)");
    const nats = await startNats();
    const pg = await startPostgres();
    const nodes: PrivateShoal[] = [];
    try {
      for (const node of ["a", "b"]) {
        nodes.push(
          await startPrivate(protocol, pg.url, {
            network: protocol === "ws" ? {} : { use_ipv6: false },
            cluster: {
              enabled: true,
              servers: nats.url,
              name: "p",
              node,
              secret: SECRET,
              node_timeout: 2,
            },
          }),
        );
      }
      const [a, b] = nodes;
      for (const n of nodes) await n.shoal.waitFor(/cluster: nodes a, b/, 10_000);
      const KEY = "cluster-key-0123456789ab", OTHER = "other-key-0123456789abcd";
      // Each made on its own node before the other's refresh: A numbers them KEY, OTHER and B
      // OTHER, KEY, so an index carried from B to A would name the wrong key.
      await createKey(a, KEY, "grace");
      await createKey(b, OTHER, "heidi");
      // B learns of it from the database (its refresh), not from A.
      assert.ok(
        await eventually(
          async () => (await b.call("GET", `/api/v1/keys/${KEY}`)).status === 200,
          5000,
        ),
        "B never saw the key made on A",
      );
      // A torrent node A owns: B forwards its announces there.
      const shards = new ClusterShards(shardKeyOf(SECRET)), owners = assignShards(["a", "b"]);
      let ih = randomId();
      while (owners.nodes[owners.owner[shards.of(ih, 0)]] !== "a") ih = randomId();
      await announce(b, KEY, ih);
      // Accounted at A (the owner) under the same key, written to the shared database.
      const db = new PostgresDb(pg.url);
      await db.open();
      try {
        assert.ok(
          await eventually(async () => {
            const rows = await db.keyTorrents(KEY);
            return rows.some((row) => row.uploaded === 4000);
          }, 8000),
          `no 4000 bytes uploaded under ${KEY} in the database: ${
            JSON.stringify(await db.keyTorrents(KEY))
          }`,
        );
      } finally {
        await db.close();
      }
      const k = await a.call("GET", `/api/v1/keys/${KEY}`);
      assert.equal(k.json.uploaded, 4000, JSON.stringify(k.json));
      const other = await a.call("GET", `/api/v1/keys/${OTHER}`);
      assert.equal(
        other.json.uploaded,
        0,
        `the other key was charged: ${JSON.stringify(other.json)}`,
      );
    } finally {
      for (const n of nodes) await n.shoal.stop();
      await pg.destroy();
      await nats.destroy();
    }
  }
}

processTest(
  "cluster (http): a key made on one node is taken on another; its accounting is shared",
  () =>
    privateCluster("http", async (b, key, ih) => {
      const l = listeningOn(b.shoal, 4);
      const c = await HttpClient.connect(l.hostname, l.port);
      const peer = randomId();
      try {
        for (const [event, uploaded] of [["started", 0], ["", 4000]] as const) {
          const q = announceQuery({
            info_hash: ih,
            peer_id: peer,
            port: 6881,
            left: 5,
            uploaded,
            ...(event ? { event } : {}),
          });
          const r = await c.get(`/${key}/announce?${q}`);
          assert.equal(r.status, 200);
          const d = bdecode(r) as Map<string, unknown>;
          assert.equal(d.get("failure reason"), undefined, `refused: ${d.get("failure reason")}`);
        }
        // A unknown key stays refused at B, whoever owns the torrent.
        const r = await c.get(
          `/nobody-has-this-key-0123/announce?${
            announceQuery({ info_hash: ih, peer_id: randomId(), port: 1, left: 1 })
          }`,
        );
        assert.match(text(bdecode(r).get("failure reason")), /passkey/);
      } finally {
        c.close();
      }
    }),
  { ignore },
);

processTest(
  "cluster (ws): a key made on one node is taken on another; its accounting is shared",
  () =>
    privateCluster("ws", async (b, key, ih) => {
      const info = String.fromCharCode(...ih), peer = bin20();
      const c = await WsClient.connect(`${trackerUrl(b.shoal)}${key}`);
      try {
        for (const [event, uploaded] of [["started", 0], ["update", 4000]] as const) {
          c.send({ action: "announce", info_hash: info, peer_id: peer, left: 5, uploaded, event });
          const m = await c.next((m) => m.action === "announce" && m.info_hash === info);
          assert.equal(m["failure reason"], undefined, `refused: ${m["failure reason"]}`);
        }
      } finally {
        await c.close();
      }
      // A unknown key stays refused at B, whoever owns the torrent.
      const x = await WsClient.connect(`${trackerUrl(b.shoal)}nobody-has-this-key-0123`);
      try {
        x.send({ action: "announce", info_hash: info, peer_id: bin20(), left: 1 });
        const m = await x.next((m) => m["failure reason"] !== undefined);
        assert.match(m["failure reason"], /passkey/);
      } finally {
        await x.close();
      }
    }),
  { ignore },
);
