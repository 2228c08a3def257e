/**
 * What a cluster node gives each socket worker it starts (and every replacement): how to reach
 * NATS, the subjects of its cluster, and the current assignment of shards to nodes. Later
 * assignments come as `owners` control messages. The secret never comes here: workers get
 * only the connection-ID keys derived from it (`config/cluster_section.ts`).
 *
 * @module
 */

/** Which node owns each shard: `owner[shard]` indexes `nodes`. */
export interface ShardOwners {
  /** Node names. */
  nodes: string[];
  /** Each node's request workers (by `nodes`' order). */
  workers: number[];
  /** Per shard (`store/cluster_shards.ts`), the index of its owner in `nodes`. */
  owner: Int16Array;
}

/**
 * The assignment a socket worker routes by: `main`'s (the main thread's), or, while the
 * worker's own NATS link is down, every shard this node's, so that it answers every request
 * meanwhile rather than sending what cannot leave (the main thread soon says the same).
 */
export function routedOwners(main: ShardOwners, linked: boolean, self: string): ShardOwners {
  if (linked) return main;
  const k = main.nodes.indexOf(self);
  return {
    nodes: [self],
    workers: [k < 0 ? 1 : main.workers[k]],
    owner: new Int16Array(main.owner.length),
  };
}

/** A cluster node's start-up data for a socket worker. */
export interface ClusterWorkerInit {
  /** NATS server URLs. */
  servers: string[];
  /** NATS credentials (empty: none); never logged. */
  user: string;
  password: string;
  token: string;
  /** CA file for tls:// servers (empty: the system's). */
  tlsCaFile: string;
  /** Subject prefix of the cluster and kind: `shoal.<name>.<bt|ws>`. */
  prefix: string;
  /** This node's name. */
  node: string;
  /** The key of the cluster's shards (`store/cluster_shards.ts`), from its secret. */
  shardKey: Uint32Array;
  /** This process's random id (answers to a previous process of the same name are not its). */
  instance: string;
  /** The assignment now. */
  owners: ShardOwners;
}
