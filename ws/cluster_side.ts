/**
 * A WebSocket socket worker of a cluster node: requests for info hashes other nodes own go to
 * the owner's request workers over NATS, in one batch per request worker per turn, as they go
 * to this node's own. That request worker then counts this worker as one of its socket workers
 * (`shared/runtime/remote_origins.ts`): what its swarms send this worker's connections (replies,
 * offers, answers, scrape counts) comes back to this worker's subject, and is delivered as a
 * local request worker's batch is.
 *
 * The subject ends in a random part made when the worker starts, so a replacement worker is a
 * new socket worker to the other nodes: they drop its predecessor's peers when it first sends
 * (`remote_origins.ts`), and never take them for its own.
 *
 * @module
 */

import type { Logger } from "../shared/base/log.ts";
import {
  type ClusterWorkerInit,
  routedOwners,
  type ShardOwners,
} from "../shared/runtime/cluster_init.ts";
import { HEADER_LEN, NatsLink, natsSubjects, WIRE_FORMAT } from "../shared/runtime/nats_link.ts";
import {
  DELIVER_BYTES,
  DELIVER_CLONE,
  DELIVER_HEADER_LEN,
  ORIGIN_HEADER_LEN,
} from "../shared/runtime/remote_origins.ts";
import { ClusterShards } from "../shared/store/cluster_shards.ts";
import { type ClusterCounts, countLatency, LATENCY_BUCKETS_MS } from "../shared/observe/view.ts";
import { ClusterRoutes } from "../shared/store/cluster_routes.ts";
import type { ByteBuffer } from "../shared/base/byte_buffer.ts";
import type { Batch } from "./messages.ts";
import type { Connections } from "./connections.ts";
import { Rejoins } from "./rejoins.ts";

/** Bytes of a remote batch past which it is sent before it takes another record. */
const MAX_BATCH = 256 << 10;

const dec = new TextDecoder();

/** One WebSocket socket worker's part in its cluster. */
export class WsClusterSide {
  /** Traffic counts (the sends NATS dropped aside). */
  readonly counts: Omit<ClusterCounts, "sendDrops"> = {
    batchesOut: 0,
    requestsOut: 0,
    dropped: 0,
    latency: LATENCY_BUCKETS_MS.map(() => 0),
    latencySum: 0,
  };
  #link: NatsLink;
  #init: ClusterWorkerInit;
  #inbox: string;
  #conns: Connections;
  #n: number;
  /** The other nodes' request workers: remote batch `k` is batch `n + k`. */
  #routes: ClusterRoutes;
  /** Records in each remote batch. */
  #records: number[] = [];

  /**
   * Socket worker `index`'s side of the cluster `init` describes, for `conns`, which has
   * `requestWorkers` request workers here. Connects to NATS in the background.
   */
  constructor(
    init: ClusterWorkerInit,
    index: number,
    conns: Connections,
    requestWorkers: number,
    log: Logger,
  ) {
    this.#init = init;
    this.#conns = conns;
    this.#n = requestWorkers;
    this.#routes = new ClusterRoutes(new ClusterShards(init.shardKey));
    const start = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
    this.#inbox = `${natsSubjects.answers(init.prefix, init.node, init.instance, index)}.${start}`;
    conns.rejoins = new Rejoins();
    conns.route = {
      destination: (b, off) => this.#routes.destination(b, off, this.#n),
      adding: (d, b) => this.#adding(d, b),
    };
    this.#main = init.owners;
    this.#route(routedOwners(init.owners, false, init.node));
    this.#link = new NatsLink(init, `shoal ${init.node} socket worker ${index}`);
    this.#link.onLinked = (up) => this.#route(routedOwners(this.#main, up, init.node));
    void this.#link.open([{ subject: this.#inbox, on: (m) => this.#deliver(m) }], log);
  }

  /**
   * A record is about to go into batch `d`: a remote batch counts it, and one grown near
   * NATS's message size (1 MiB by default) leaves first.
   */
  #adding(d: number, b: ByteBuffer): void {
    if (d < this.#n) return;
    if (b.len > MAX_BATCH) this.#send(d - this.#n, performance.now());
    this.#records[d - this.#n]++;
  }

  /** A new assignment of shards to nodes (followed once this worker's link is up). */
  owners(o: ShardOwners): void {
    this.#main = o;
    this.#route(routedOwners(o, this.#link.linked, this.#init.node));
  }

  /** The main thread's assignment. */
  #main: ShardOwners;

  /**
   * Routes by `o`: what was batched for other nodes is dropped, and the peers of this worker's
   * connections in shards that moved join their new owners.
   */
  #route(o: ShardOwners): void {
    const last = this.#last;
    this.#assign(o);
    this.#last = o;
    if (last === null) return;
    const shards = this.#routes.shards;
    const owner = (a: ShardOwners, s: number) => a.nodes[a.owner[s]] ?? this.#init.node;
    this.rejoined += this.#conns.rejoin((b, off) => {
      const s = shards.of(b, off);
      return owner(last, s) !== owner(o, s);
    });
  }

  /** Peers sent to a new owner after an assignment changed. */
  rejoined = 0;
  #last: ShardOwners | null = null;

  #assign(o: ShardOwners): void {
    const init = this.#init;
    this.#routes.assign(o, init.node, (node, j) => natsSubjects.requests(init.prefix, node, j));
    this.#records = this.#routes.subjects.map(() => 0);
    this.#conns.resizeBatches(this.#n + this.#records.length);
  }

  /** Sends what this turn batched for other nodes. */
  flush(): void {
    const now = performance.now();
    for (let k = 0; k < this.#records.length; k++) {
      if (this.#records[k] > 0) this.#send(k, now);
    }
  }

  /** Sends remote batch `k`, stamped `now`. */
  #send(k: number, now: number): void {
    const b = this.#conns.batches[this.#n + k], count = this.#records[k];
    const m = new Uint8Array(ORIGIN_HEADER_LEN + b.len);
    const v = new DataView(m.buffer);
    m[0] = WIRE_FORMAT;
    v.setFloat64(1, now, true);
    v.setUint32(HEADER_LEN, count, true);
    m.set(b.buf.subarray(0, b.len), ORIGIN_HEADER_LEN);
    b.len = 0;
    this.#records[k] = 0;
    this.counts.batchesOut++;
    this.counts.requestsOut += count;
    this.#link.publish(this.#routes.subjects[k], m, this.#inbox);
  }

  /** What another node's request worker sends this worker's connections. */
  #deliver(m: Uint8Array): void {
    if (m.length < DELIVER_HEADER_LEN || m[0] !== WIRE_FORMAT) {
      this.counts.dropped++;
      return;
    }
    const sent = new DataView(m.buffer, m.byteOffset + 1, 8).getFloat64(0, true);
    if (sent >= 0) countLatency(this.counts, performance.now() - sent);
    const body = m.subarray(DELIVER_HEADER_LEN);
    try {
      if (m[HEADER_LEN] === DELIVER_BYTES) this.#conns.deliver(body);
      else if (m[HEADER_LEN] === DELIVER_CLONE) {
        const batch = JSON.parse(dec.decode(body));
        if (Array.isArray(batch)) this.#conns.deliver(batch as Batch);
      } else this.counts.dropped++;
    } catch {
      this.counts.dropped++;
    }
  }

  /** Traffic counts, with the sends dropped while NATS was away. */
  stats(): ClusterCounts {
    return { ...this.counts, sendDrops: this.#link.dropped, linked: this.#link.linked };
  }
}
