/**
 * A socket worker's connection to its cluster's NATS: the batches between nodes travel here.
 * Subjects, under the cluster's prefix (`shoal.<name>.<bt|ws>`):
 * - `<prefix>.<node>.req`: batches for the node's shards. Every socket worker of the node
 *   subscribes in one queue group, so NATS hands each batch to one of them.
 * - `<prefix>.<node>.ans.<instance>.<worker>`: answers for one socket worker of one process
 *   (the reply subject of what it sends), so a restarted node never gets its predecessor's.
 *
 * The client reconnects by itself; while NATS is away, sends are dropped (clients retry) and
 * the main thread routes every request to this node (`cluster/node.ts`).
 *
 * @module
 */

import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../base/log.ts";
import type { ClusterWorkerInit } from "./cluster_init.ts";

/** What arrives on a worker's link. */
export interface NatsLinkHandlers {
  /** Another node's batch for this node's shards; its answers go to `reply`. */
  request(message: Uint8Array, reply: string): void;
  /** Answers to a batch this worker sent. */
  answer(message: Uint8Array): void;
}

/** One socket worker's NATS connection. */
export class NatsLink {
  /** Sends dropped because NATS was unreachable. */
  dropped = 0;
  #nc: NatsConnection | null = null;
  #prefix: string;
  #inbox: string;
  #closed = false;

  /** The link of socket worker `index`; nothing is connected before `open`. */
  constructor(init: ClusterWorkerInit, index: number) {
    this.#prefix = init.prefix;
    this.#inbox = `${init.prefix}.${init.node}.ans.${init.instance}.${index}`;
  }

  /** Connects (retrying until NATS answers) and subscribes; resolves once subscribed. */
  async open(init: ClusterWorkerInit, on: NatsLinkHandlers, log: Logger): Promise<void> {
    while (!this.#closed) {
      try {
        this.#nc = await connect({
          servers: init.servers,
          name: `shoal ${init.node} socket worker`,
          user: init.user || undefined,
          pass: init.password || undefined,
          token: init.token || undefined,
          tls: init.tlsCaFile ? { caFile: init.tlsCaFile } : undefined,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 500,
        });
        break;
      } catch (err) {
        log.debug(`cluster: NATS not reached yet (${(err as Error).message.split("\n")[0]})`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    const nc = this.#nc;
    if (nc === null) return;
    const requests = nc.subscribe(`${this.#prefix}.${init.node}.req`, { queue: "workers" });
    const answers = nc.subscribe(this.#inbox);
    void (async () => {
      for await (const m of requests) {
        if (m.reply) on.request(m.data, m.reply);
      }
    })();
    void (async () => {
      for await (const m of answers) on.answer(m.data);
    })();
    await nc.flush();
  }

  /** Sends `message` to `node`'s workers, its answers to come back to this worker. */
  send(node: string, message: Uint8Array): void {
    this.#publish(`${this.#prefix}.${node}.req`, message, this.#inbox);
  }

  /** Sends answers to the worker whose reply subject is `reply`. */
  reply(reply: string, message: Uint8Array): void {
    this.#publish(reply, message);
  }

  #publish(subject: string, message: Uint8Array, reply?: string): void {
    const nc = this.#nc;
    if (nc === null || nc.isClosed()) {
      this.dropped++;
      return;
    }
    try {
      nc.publish(subject, message, reply ? { reply } : undefined);
    } catch {
      this.dropped++;
    }
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#nc?.close().catch(() => {});
  }
}
