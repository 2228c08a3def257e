/**
 * A cluster of real shoal nodes for tests: `[cluster]` over a test's `nats-server`, nodes started
 * and waited for, UDP clients, and the checks several cluster tests make (who a node sees, what a
 * scrape counts, announces kept going under a restart or an outage).
 *
 * @module
 */

import assert from "node:assert/strict";
import { hasNatsServer, type NatsServer, startNats } from "../../harness/nats.ts";
import {
  type ConfigParts,
  listeningOn,
  METRICS,
  metricsOf,
  processTest,
  type RunningShoal,
  startShoalWith,
} from "./shoal.ts";
import { randomId, UdpClient } from "./udp_client.ts";
import { encodeAnnounceRequest } from "../../udp/codec.ts";

/** The test clusters' secret. */
export const SECRET = "cluster-secret-0123456789";
/** A secret rolled in after `SECRET`. */
export const NEW_SECRET = "cluster-secret-rolled-9876543210";
/** How long NATS stays away in the outage test (the figure). */
export const OUTAGE_S = 20;

/** `[cluster]` for node `node` of cluster `name` over `nats`, heartbeats short for tests. */
export function clusterParts(
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
export async function startNode(
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
export async function eventually(
  f: () => Promise<boolean>,
  ms: number,
  what: string,
): Promise<number> {
  const t0 = performance.now();
  while (!(await f())) {
    if (performance.now() - t0 > ms) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return performance.now() - t0;
}

/** The node's view of the live node count. */
export async function nodesSeen(s: RunningShoal): Promise<number> {
  return (await metricsOf(s)).get("shoal_cluster_nodes") ?? -1;
}

/** A UDP client of node `s` (IPv4). */
export function client(s: RunningShoal): UdpClient {
  return new UdpClient(listeningOn(s, 4));
}

/**
 * Whether `s` answers an announce carrying `cid` from `c` (of `infoHash`, random when not
 * given) within two tries of `ms` (a silent tracker: no).
 */
export async function answers(
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
export function keepAnnouncing(targets: RunningShoal[]) {
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

/** Announces a seeder (port `port`) of each of `hashes` to `s`, each answered. */
export async function seedThrough(
  s: RunningShoal,
  hashes: Uint8Array[],
  port = 7001,
): Promise<void> {
  const c = client(s);
  try {
    const id = await c.connect();
    for (const h of hashes) {
      const r = await c.announce(id, { infoHash: h, peerId: randomId(), left: 0n, port });
      assert.equal(r.action, 1, `announce answered with action ${r.action}`);
    }
  } finally {
    c.close();
  }
}

/** Seeders, leechers and completed of `hashes`, scraped on `s`. */
export async function scrapeAll(s: RunningShoal, hashes: Uint8Array[]): Promise<number[][]> {
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

/**
 * A test over a `nats-server` of its own (started with `natsOptions`): `f` gets it and a list to
 * put its live nodes in. Every node in the list is stopped, and the server removed, whatever `f`
 * did.
 */
export function clusterTest(
  name: string,
  f: (nats: NatsServer, running: RunningShoal[]) => Promise<void>,
  ...natsOptions: Parameters<typeof startNats>
): void {
  processTest(name, async () => {
    assert.ok(
      hasNatsServer(),
      "nats-server is not installed (.ci/run installs Debian's nats-server)",
    );
    const nats = await startNats(...natsOptions);
    const running: RunningShoal[] = [];
    try {
      await f(nats, running);
    } finally {
      for (const s of running) await s.stop();
      await nats.destroy();
    }
  });
}
