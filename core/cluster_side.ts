/**
 * A socket worker of a cluster node, the BitTorrent core's side: requests for shards other
 * nodes own go to them over NATS (`remote.ts` batches them, `shared/runtime/nats_link.ts` carries
 * them), and other nodes' requests for this node's shards come in the same way. The protocol
 * (UDP, HTTP) wires three things: its answers pass through `answers`, it calls `flush` after
 * each turn, and the hooks give this side the way to its request workers and its clients.
 *
 * @module
 */

import { monotonicSeconds } from "../shared/base/clock.ts";
import type { Logger } from "../shared/base/log.ts";
import type { ClusterWorkerInit, ShardOwners } from "../shared/runtime/cluster_init.ts";
import { NatsLink } from "../shared/runtime/nats_link.ts";
import { type Answers, type Forwarder, PENDING_SLOTS } from "./forward.ts";
import { type RemoteCounts, RemoteRequests } from "./remote.ts";
import { ClusterShards } from "../shared/store/cluster_shards.ts";
import type { KeyTable } from "../shared/store/key_table.ts";

/** How this side reaches the rest of its socket worker. */
export interface ClusterHooks {
  /** Sends what `forward` holds for this node's request workers (another node's requests). */
  flushLocal(): void;
  /** Answers from another node, a batch as a request worker's (`Forwarder.responses`). */
  deliver(batch: Uint8Array): void;
}

/** One socket worker's part in its cluster. */
export class ClusterSide {
  /** The remote requests, and the answers the protocol's pass through. */
  readonly remote: RemoteRequests;
  #link: NatsLink;
  #node: string;
  #send = (node: string, m: Uint8Array) => this.#link.send(node, m);
  #reply = (to: string, m: Uint8Array) => this.#link.reply(to, m);

  /**
   * Socket worker `index`'s side of the cluster `init` describes, around `forward` (whose
   * protocol answers with `inner`); connects to NATS in the background.
   */
  constructor(
    init: ClusterWorkerInit,
    index: number,
    forward: Forwarder,
    inner: Answers,
    hooks: ClusterHooks,
    log: Logger,
  ) {
    this.#node = init.node;
    this.remote = new RemoteRequests(
      forward,
      inner,
      PENDING_SLOTS,
      new ClusterShards(init.shardKey),
    );
    this.remote.setOwners(init.owners.nodes, init.owners.owner, init.node);
    this.#link = new NatsLink(init, index);
    void this.#link.open({
      request: (m, reply) => {
        this.remote.receive(m, reply, monotonicSeconds());
        hooks.flushLocal();
      },
      answer: (m) => {
        const batch = this.remote.answers(m, performance.now());
        if (batch !== null) hooks.deliver(batch);
      },
    }, log);
  }

  /** The answers to pass request workers' batches to: other nodes' go back, the rest on. */
  get answers(): Answers {
    return this.remote;
  }

  /** Sends what this turn batched for other nodes, and the answers owed to them. */
  flush(): void {
    this.remote.flushRemote(this.#send, performance.now());
    this.remote.flushReplies(this.#reply);
  }

  /** A private tracker's keys: keyed announces to other nodes carry their key's text. */
  useKeys(keys: KeyTable | null): void {
    this.remote.route.keys = keys;
  }

  /** A new assignment of shards to nodes. */
  owners(o: ShardOwners): void {
    this.remote.setOwners(o.nodes, o.owner, this.#node);
  }

  /** Traffic counts, with the sends dropped while NATS was away. */
  stats(): RemoteCounts & { sendDrops: number } {
    return { ...this.remote.counts, sendDrops: this.#link.dropped };
  }
}
