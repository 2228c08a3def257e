/**
 * Requests that cross the nodes of a cluster, a socket worker's side: the batched channel
 * between socket and request workers, stretched over NATS (`shared/runtime/nats_link.ts`).
 * The `Forwarder` puts each request whose shard another node owns into one batch per request
 * worker of that node (`route`), and `flushRemote` hands each batch on; that request worker
 * answers it straight back (`shared/runtime/request_host.ts`), and the answers go into
 * `Forwarder.responses` as a local request worker's do: tokens and scrape ids are this
 * worker's own, so nothing is remembered per forwarded request.
 *
 * @module
 */

import { BatchWriter } from "../shared/runtime/channel.ts";
import { type ClusterCounts, countLatency, LATENCY_BUCKETS_MS } from "../shared/observe/view.ts";
import type { ClusterShards } from "../shared/store/cluster_shards.ts";
import { ClusterRoutes } from "../shared/store/cluster_routes.ts";
import type { ShardOwners } from "../shared/runtime/cluster_init.ts";
import { frame, frameTime, HEADER_LEN } from "../shared/runtime/nats_link.ts";
import type { Forwarder, RemoteRoute } from "./forward.ts";

/**
 * The most bytes of requests, and of their answers, one batch to another node holds: NATS's
 * default `max_payload` is 1 MiB, and a message over it is dropped.
 */
const MAX_REQUESTS = 256 << 10, MAX_ANSWERS = 768 << 10;

/** Counts of a socket worker's traffic with other nodes (the sends NATS dropped aside). */
export type RemoteCounts = Omit<ClusterCounts, "sendDrops">;

/** One socket worker's requests to other nodes. */
export class RemoteRequests {
  /** Where the `Forwarder` sends what other nodes own (set as `forward.route`). */
  readonly route: RemoteRoute;
  /** Traffic counts. */
  readonly counts: RemoteCounts = {
    batchesOut: 0,
    requestsOut: 0,
    dropped: 0,
    latency: LATENCY_BUCKETS_MS.map(() => 0),
    latencySum: 0,
  };
  /** Per writer, the most bytes its batch's answers may take. */
  #answers: number[] = [];
  /** Where a batch goes at once when it is full (`flushRemote`'s `send`). */
  send: ((subject: string, message: Uint8Array) => void) | null = null;
  #subject: (node: string, j: number) => string;

  /**
   * The remote side of `forward`, under `shards`; `subject(node, j)` names request worker `j`
   * of `node`.
   */
  constructor(
    forward: Forwarder,
    shards: ClusterShards,
    subject: (node: string, j: number) => string,
  ) {
    this.#subject = subject;
    this.route = {
      routes: new ClusterRoutes(shards),
      writers: [],
      keys: null,
      roomFor: (k, answer) => {
        const w = this.route.writers[k];
        if (this.#answers[k] + answer > MAX_ANSWERS || w.len > MAX_REQUESTS) {
          if (w.count > 0 && this.send !== null) this.#sendOne(k, performance.now());
        }
        this.#answers[k] += answer;
      },
    };
    forward.route = this.route;
  }

  /**
   * Takes a new assignment of shards to nodes (`self` is this node). What was batched for a
   * node that is no longer there is dropped (its clients retry).
   */
  setOwners(o: ShardOwners, self: string): void {
    const r = this.route;
    r.routes.assign(o, self, this.#subject);
    const total = r.routes.subjects.length;
    for (const w of r.writers) w.clear();
    while (r.writers.length < total) r.writers.push(new BatchWriter());
    r.writers.length = total;
    this.#answers = r.writers.map(() => 0);
  }

  /**
   * Hands each request worker's batch to `send(subject, message)`, stamped `now` (this
   * worker's `performance.now()`).
   */
  flushRemote(send: (subject: string, message: Uint8Array) => void, now: number): void {
    const writers = this.route.writers;
    for (let k = 0; k < writers.length; k++) {
      if (writers[k].count > 0) this.#sendOne(k, now, send);
    }
  }

  #sendOne(k: number, now: number, send = this.send!): void {
    const w = this.route.writers[k];
    this.counts.batchesOut++;
    this.counts.requestsOut += w.count;
    send(this.route.routes.subjects[k], frame(w, now));
    w.clear();
    this.#answers[k] = 0;
  }

  /**
   * Another node's answers to what this worker sent, received at `now`: the records of a
   * request worker's batch, or null when the message is not of this format.
   */
  answers(m: Uint8Array, now: number): Uint8Array | null {
    const sent = frameTime(m);
    if (Number.isNaN(sent)) {
      this.counts.dropped++;
      return null;
    }
    countLatency(this.counts, now - sent);
    return m.subarray(HEADER_LEN);
  }
}
