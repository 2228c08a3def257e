/**
 * A socket worker of a cluster node, the BitTorrent core's side: requests for shards other
 * nodes own go straight to the owner's request workers over NATS (`remote.ts` batches them,
 * `shared/runtime/nats_link.ts` carries them), and their answers come back to this worker.
 * The protocol (UDP, HTTP) calls `flush` after each turn and gives this side a way to its
 * answers (`deliver`, as a request worker's batch).
 *
 * @module
 */

import type { Logger } from "../shared/base/log.ts";
import {
  type ClusterWorkerInit,
  routedOwners,
  type ShardOwners,
} from "../shared/runtime/cluster_init.ts";
import { NatsLink, natsSubjects } from "../shared/runtime/nats_link.ts";
import { ClusterShards } from "../shared/store/cluster_shards.ts";
import type { KeyTable } from "../shared/store/key_table.ts";
import type { Forwarder } from "./forward.ts";
import { type RemoteCounts, RemoteRequests } from "./remote.ts";

/** One socket worker's part in its cluster. */
export class ClusterSide {
  /** The requests to other nodes. */
  readonly remote: RemoteRequests;
  #link: NatsLink;
  #node: string;
  #inbox: string;
  /** The main thread's assignment. */
  #main: ShardOwners;
  #send = (subject: string, m: Uint8Array) => this.#link.publish(subject, m, this.#inbox);

  /**
   * Socket worker `index`'s side of the cluster `init` describes, around `forward`; answers
   * from other nodes go to `deliver`. Connects to NATS in the background.
   */
  constructor(
    init: ClusterWorkerInit,
    index: number,
    forward: Forwarder,
    deliver: (batch: Uint8Array) => void,
    log: Logger,
  ) {
    this.#node = init.node;
    const prefix = init.prefix;
    this.remote = new RemoteRequests(
      forward,
      new ClusterShards(init.shardKey),
      (node, j) => natsSubjects.requests(prefix, node, j),
    );
    this.#main = init.owners;
    this.remote.setOwners(routedOwners(init.owners, false, init.node), init.node);
    this.remote.send = this.#send;
    this.#inbox = natsSubjects.answers(prefix, init.node, init.instance, index);
    this.#link = new NatsLink(init, `shoal ${init.node} socket worker ${index}`);
    this.#link.onLinked = (up) =>
      this.remote.setOwners(routedOwners(this.#main, up, this.#node), this.#node);
    void this.#link.open([{
      subject: this.#inbox,
      on: (m) => {
        const batch = this.remote.answers(m, performance.now());
        if (batch !== null) deliver(batch);
      },
    }], log);
  }

  /** Sends what this turn batched for other nodes. */
  flush(): void {
    this.remote.flushRemote(this.#send, performance.now());
  }

  /** A private tracker's keys: keyed announces to other nodes carry their key's text. */
  useKeys(keys: KeyTable | null): void {
    this.remote.route.keys = keys;
  }

  /** A new assignment of shards to nodes (followed once this worker's link is up). */
  owners(o: ShardOwners): void {
    this.#main = o;
    this.remote.setOwners(routedOwners(o, this.#link.linked, this.#node), this.#node);
  }

  /** Traffic counts, with the sends dropped while NATS was away. */
  stats(): RemoteCounts & { sendDrops: number; linked: boolean } {
    return { ...this.remote.counts, sendDrops: this.#link.dropped, linked: this.#link.linked };
  }
}
