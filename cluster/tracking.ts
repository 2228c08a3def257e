/**
 * A cluster's node as a tracker runs it (composed in `main.ts`): `[cluster]` checked, then the
 * `TrackerExtras` the runtime calls. Joining happens once the workers are up and before the
 * `listening on` lines, so a name already live in the cluster stops the start (exit 2).
 *
 * @module
 */

import type { Logger } from "../shared/base/log.ts";
import type { TrackerExtras } from "../shared/runtime/tracker.ts";
import type { Pool } from "../shared/runtime/pool.ts";
import { ClusterNode } from "./node.ts";
import { type ClusterKind, type ClusterSection, clusterSettings } from "./settings.ts";

/** A cluster's node for a tracker whose `[cluster]` section is `c`: null when it is off. */
export function clusterTracking(c: ClusterSection, kind: ClusterKind): TrackerExtras | null {
  const s = clusterSettings(c, kind);
  if (s === null) return null;
  let node: ClusterNode | null = null;
  let log: Logger | null = null;
  // Made before the workers (their start-up data names it); joined once they serve.
  const lines = {
    info: (m: string) => log?.info(m),
    warn: (m: string) => log?.warn(m),
    error: (m: string) => log?.error(m),
  };
  const made = () => node ??= new ClusterNode(s, lines);
  return {
    init: () => null,
    clusterInit: () => made().workerInit(),
    attach: async (pool, l: Logger, swarms) => {
      log = l;
      const n = made();
      n.attachSwarms(swarms);
      n.setRequestWorkers(pool.workers.filter((w) => w.name.startsWith("request")).length);
      // What this node holds, for the others' statistics pages (with each heartbeat).
      setInterval(async () => {
        const load = { torrents: 0, peers: 0, seeders: 0 };
        for (const st of await pool.stats()) {
          const r = st as { role?: string; torrents?: number; peers?: number; seeders?: number };
          if (r.role !== "request") continue;
          load.torrents += r.torrents ?? 0;
          load.peers += r.peers ?? 0;
          load.seeders += r.seeders ?? 0;
        }
        n.setLoad(load);
      }, Math.max(500, s.nodeTimeoutMs / 2));
      // Socket workers route by it; request workers forget the socket workers of nodes gone.
      n.onOwners((owners) => pool.broadcast({ type: "owners", owners }));
      n.linksReady = () => linksUp(pool, s.nodeTimeoutMs);
      await n.start();
    },
    stop: async () => {
      await node?.stop();
    },
    metrics: () => node?.metrics() ?? "",
    describe: () => node?.describe() ?? "",
    page: () => node?.overview() ?? {},
  };
}

/**
 * Resolves once every worker of `pool` reports its NATS link up (socket workers in their
 * `cluster` counts, request workers in `remoteIn`), or after `ms`.
 */
async function linksUp(pool: Pool<unknown>, ms: number): Promise<void> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    let up = true;
    for (const st of await pool.stats()) {
      const r = st as { cluster?: { linked?: boolean }; remoteIn?: { linked?: boolean } };
      if (r.cluster?.linked === false || r.remoteIn?.linked === false) up = false;
    }
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}
