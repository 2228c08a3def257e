/**
 * The socket-worker × request-worker mesh a tracker runs: one `MessageChannel` per pair,
 * started through the `Pool`, and rewired when a worker is replaced (the replacement gets
 * fresh channels; each worker on the other side receives its new end as a `port` message).
 * Socket workers come in groups, one per protocol served (UDP, HTTP, ws), numbered together:
 * request workers see socket worker `i` as port `i`, whatever its protocol.
 *
 * @module
 */

import type { ClusterWorkerInit } from "./cluster_init.ts";
import { closeTracked, fdRegistry } from "../net/libc.ts";
import { type Fault, faultFor } from "./fault.ts";
import type { Pool } from "./pool.ts";
import type { PrivateInit } from "./private_init.ts";
import { SharedThread } from "./shared_thread.ts";

/** What a socket worker's start-up data is built from. */
export interface SocketBase {
  /** Its number among all socket workers (its port number at the request workers). */
  index: number;
  /** Its number within its group. */
  k: number;
  /** One port per request worker. */
  ports: MessagePort[];
  /** Where it records its libc descriptors (closed by the main thread if it dies). */
  fds: SharedArrayBuffer;
  /** True for a replacement. */
  restart: boolean;
  /** The process's shard key (two words): which request worker owns an info hash. */
  shardKey: Uint32Array;
}

/** The socket workers of one protocol: `I` is their start-up data, `R` their start-up reply. */
export interface SocketGroup<I, R> {
  /** What they serve, for their names: `socket worker 3 (http)`. */
  kind: string;
  /** Their module. */
  url: URL;
  /** How many. */
  count: number;
  /** Start-up data of one of them. */
  init(base: SocketBase): I;
  /**
   * Checks the start-up reply of worker `k` of the group that joins the first one's ports
   * (every other one, and every replacement); throws if it could not bind.
   */
  joined(k: number, reply: R): void;
}

/** What request worker `j`'s start-up data is built from. */
export interface RequestBase {
  /** Its number. */
  index: number;
  /** One port per socket worker, of every group. */
  ports: MessagePort[];
  /** True for a replacement. */
  restart: boolean;
}

/** The request workers. */
export interface RequestGroup<I> {
  /** Their module. */
  url: URL;
  /** How many. */
  count: number;
  /** Start-up data of one of them. */
  init(base: RequestBase): I;
}

/** Starts and rewires the workers of one tracker. */
export class Mesh<S> {
  #pool: Pool<S>;
  #private: () => PrivateInit | null;
  #cluster: () => ClusterWorkerInit | null;
  #groups: SocketGroup<unknown, unknown>[];
  #requests: RequestGroup<unknown>;
  #fault: Fault | null;
  #sockets: number;
  /** `#channels[i][j]`: socket worker i's `port1`, request worker j's `port2`. */
  #channels: MessageChannel[][];
  #fds: SharedArrayBuffer[];
  #shardKey: Uint32Array;
  /** The one thread of the socket worker and the request worker (`single_thread`), or null. */
  #thread: SharedThread | null;

  /**
   * A mesh of `groups` and `requests`, started through `pool`; `fault` is `SHOAL_FAULT`,
   * `shardKey` the process's shard key.
   */
  constructor(
    pool: Pool<S>,
    groups: SocketGroup<unknown, unknown>[],
    requests: RequestGroup<unknown>,
    fault: Fault | null,
    shardKey: Uint32Array,
    privateInit: () => PrivateInit | null = () => null,
    clusterInit: () => ClusterWorkerInit | null = () => null,
    singleThread = false,
  ) {
    this.#thread = singleThread ? new SharedThread() : null;
    this.#private = privateInit;
    this.#cluster = clusterInit;
    this.#shardKey = shardKey;
    this.#pool = pool;
    this.#groups = groups;
    this.#requests = requests;
    this.#fault = fault;
    this.#sockets = groups.reduce((n, g) => n + g.count, 0);
    this.#channels = Array.from(
      { length: this.#sockets },
      () => Array.from({ length: requests.count }, () => new MessageChannel()),
    );
    this.#fds = Array.from({ length: this.#sockets }, () => fdRegistry());
  }

  /** Starts every request worker; resolves when all are ready. */
  async startRequests(): Promise<void> {
    const thread = this.#thread;
    await Promise.all(Array.from({ length: this.#requests.count }, (_, j) =>
      this.#pool.spawn({
        name: `request worker ${j}`,
        url: this.#requests.url,
        create: thread ? () => thread.role(`request worker ${j}`, this.#requests.url) : undefined,
        fault: (restart) => faultFor(this.#fault, "request", j, restart),
        init: (restart) => {
          if (restart) this.#rewire("socket", j, (i) => [i, j], "port1");
          const ports = this.#channels.map((row) => row[j].port2);
          const init = this.#requests.init({ index: j, ports, restart });
          return {
            init: {
              ...init as object,
              private: this.#private(),
              cluster: this.#cluster(),
              sharedThread: thread !== null,
            },
            transfer: ports,
          };
        },
      })));
  }

  /**
   * Starts worker `k` of `group` and resolves with its start-up reply. The caller reads the
   * first one's (it binds the configured addresses); the others are checked with `joined`.
   */
  async startSocket<I, R>(group: SocketGroup<I, R>, k: number): Promise<R> {
    let i = k;
    for (const g of this.#groups) {
      if (g === group) break;
      i += g.count;
    }
    const name = `socket worker ${i}` + (this.#groups.length > 1 ? ` (${group.kind})` : "");
    const thread = this.#thread;
    const reply = await this.#pool.spawn<I, R>({
      name,
      url: group.url,
      create: thread ? () => thread.role(name, group.url) : undefined,
      fault: (restart) => faultFor(this.#fault, "socket", i, restart),
      init: (restart) => {
        if (restart) this.#rewire("request", i, (j) => [i, j], "port2");
        const ports = this.#channels[i].map((c) => c.port1);
        return {
          init: {
            ...group.init({
              index: i,
              k,
              ports,
              fds: this.#fds[i],
              restart,
              shardKey: this.#shardKey,
            }) as object,
            private: this.#private(),
            cluster: this.#cluster(),
          } as I,
          transfer: ports,
        };
      },
      // Its libc sockets belong to the process, not the worker: close them, or the kernel
      // keeps handing a share of the traffic to a socket nobody reads.
      gone: () => closeTracked(this.#fds[i]),
      restarted: (reply) => group.joined(k, reply),
    });
    if (k > 0) group.joined(k, reply);
    return reply;
  }

  /**
   * Gives the restarted worker `index` fresh channels and posts the far ends to the workers
   * of `role` on the other side.
   */
  #rewire(
    role: "socket" | "request",
    index: number,
    pair: (k: number) => [number, number],
    far: "port1" | "port2",
  ): void {
    const others = role === "socket" ? this.#sockets : this.#requests.count;
    for (let k = 0; k < others; k++) {
      const [i, j] = pair(k);
      const ch = this.#channels[i][j] = new MessageChannel();
      const port = ch[far];
      const name = this.#pool.workers.find((w) =>
        w.name === `${role} worker ${k}` || w.name.startsWith(`${role} worker ${k} (`)
      )?.name;
      if (name !== undefined) this.#pool.post(name, { type: "port", index, port }, [port]);
    }
  }
}
