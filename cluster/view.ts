/**
 * What a cluster node shows of its cluster: the statistics page's overview (every live node
 * with what it last published, and their total) and the Prometheus lines. Pure: the node gives
 * what it knows.
 *
 * @module
 */

import { MetricsText } from "../shared/observe/prometheus.ts";
import { assignShards, shardsOf } from "../shared/store/cluster_shards.ts";
import type { NodeInfo, NodeLoad } from "./members.ts";

/** Where a node stands. */
export type ClusterState =
  /** Connected, its key held: a member. */
  | "member"
  /** NATS unreachable (or its key lost): serving alone, owning every shard. */
  | "alone"
  /** Another node speaks no cluster format this one does: serving alone on purpose. */
  | "out";

/** The cluster as the statistics page shows it. */
export interface ClusterOverview {
  /** The cluster's name. */
  name: string;
  /** Where this node stands. */
  state: ClusterState;
  /** Each live node: its name, whether it is this one, its shards, and what it holds. */
  nodes: ({ node: string; here: boolean; shards: number } & NodeLoad)[];
  /** What the nodes hold together. */
  total: NodeLoad;
}

/**
 * The overview of cluster `name` seen from node `here` in state `state`: the `live` nodes, each
 * with what `infoOf` says it last published (this one with what it holds now).
 */
export function clusterOverview(
  name: string,
  here: string,
  state: ClusterState,
  live: string[],
  infoOf: (node: string) => NodeInfo | undefined,
): ClusterOverview {
  const owners = assignShards(live);
  const nodes = live.map((node) => {
    const load = infoOf(node)?.load ?? { torrents: 0, peers: 0, seeders: 0 };
    return { node, here: node === here, shards: shardsOf(node, owners), ...load };
  });
  const total = { torrents: 0, peers: 0, seeders: 0 };
  for (const n of nodes) {
    total.torrents += n.torrents;
    total.peers += n.peers;
    total.seeders += n.seeders;
  }
  return { name, state, nodes, total };
}

/** What the cluster's Prometheus lines count. */
export interface ClusterCounts {
  /** Whether this node is a member now. */
  member: boolean;
  /** Live nodes it sees, itself included. */
  nodes: number;
  /** Shards it owns. */
  shards: number;
  /** Times NATS was lost or unreachable. */
  outages: number;
  /** Times the live set changed. */
  changes: number;
}

/** Prometheus lines of a node's cluster. */
export function clusterMetrics(c: ClusterCounts): string {
  const m = new MetricsText();
  m.gauge(
    "shoal_cluster_member",
    "1 when this node is a member of its cluster, 0 alone.",
    +c.member,
  );
  m.gauge(
    "shoal_cluster_nodes",
    "Live nodes of the cluster this node sees (itself included).",
    c.nodes,
  );
  m.gauge("shoal_cluster_shards", "Shards of the info-hash space this node owns.", c.shards);
  m.counter("shoal_cluster_outages_total", "Times NATS was lost or unreachable.", c.outages);
  m.counter("shoal_cluster_membership_changes_total", "Times the live set changed.", c.changes);
  return m.toString();
}
