/**
 * Where a cluster node's socket worker sends each info hash, whatever the protocol: to one of
 * this node's request workers, or to one of another node's, by the assignment of shards to
 * nodes (`cluster_shards.ts`). Batches are numbered this node's request workers first, then
 * every other node's in turn; `subjects` names each of those (one per request worker there).
 *
 * @module
 */

import { type ClusterShards, SHARDS } from "./cluster_shards.ts";

/** Most other nodes one socket worker sends to. */
export const MAX_REMOTES = 255;

/** An assignment of shards to nodes (`shared/runtime/cluster_init.ts`'s `ShardOwners`). */
export interface Assignment {
  /** Node names. */
  nodes: string[];
  /** Each node's request workers (by `nodes`' order). */
  workers: number[];
  /** Per shard, the index of its owner in `nodes`. */
  owner: Int16Array;
}

/** One socket worker's routes to the request workers of other nodes. */
export class ClusterRoutes {
  /** The cluster's shards. */
  readonly shards: ClusterShards;
  /** Per shard: -1 when this node owns it, else its owner's index in `base`. */
  readonly owner = new Int16Array(SHARDS).fill(-1);
  /** Per other node: the remote index of its first request worker, and how many it has. */
  base = new Int32Array(0);
  workers = new Int32Array(0);
  /** The subject of each remote request worker (by remote index). */
  subjects: string[] = [];

  /** Routes under `shards`; every shard this node's until `assign`. */
  constructor(shards: ClusterShards) {
    this.shards = shards;
  }

  /**
   * Takes the assignment `o` for this node, `self`; `subject(node, j)` names request worker `j`
   * of `node`.
   */
  assign(o: Assignment, self: string, subject: (node: string, j: number) => string): void {
    const remotes: number[] = [];
    for (let k = 0; k < o.nodes.length && remotes.length < MAX_REMOTES; k++) {
      if (o.nodes[k] !== self) remotes.push(k);
    }
    const index = new Int16Array(o.nodes.length).fill(-1);
    remotes.forEach((k, r) => (index[k] = r));
    for (let s = 0; s < SHARDS; s++) {
      const k = o.owner[s];
      this.owner[s] = k < 0 || k >= index.length ? -1 : index[k];
    }
    this.base = new Int32Array(remotes.length);
    this.workers = new Int32Array(remotes.length);
    this.subjects = [];
    remotes.forEach((k, r) => {
      const n = Math.max(1, o.workers[k] ?? 1);
      this.base[r] = this.subjects.length;
      this.workers[r] = n;
      for (let j = 0; j < n; j++) this.subjects.push(subject(o.nodes[k], j));
    });
  }

  /**
   * Where the info hash at `b[off]` goes when this node has `n` request workers: one here
   * (`0 … n-1`) or remote index `d - n`. One keyed hash names both the shard and, modulo its
   * owner's request workers, the worker there (every node's process shards by the same key).
   */
  destination(b: Uint8Array, off: number, n: number): number {
    const x = this.shards.hash(b, off), o = this.owner[x & (SHARDS - 1)];
    if (o >= 0) return n + this.base[o] + x % this.workers[o];
    return n === 1 ? 0 : x % n;
  }
}
