/**
 * The socket-worker × request-worker mesh both servers run: one `MessageChannel` per pair,
 * started through the `Pool`, and rewired when a worker is replaced. A replacement gets fresh
 * channels; each worker on the other side receives its new end as a `PortUpdate`.
 *
 * @module
 */

import { closeTracked, fdRegistry } from "./libc.ts";
import { type Fault, faultFor, type Pool } from "./pool.ts";
import type { PortUpdate } from "./worker_main.ts";

/** What the servers supply: where the workers are and how to build their init messages. */
export interface MeshPlan {
  /** Socket workers. */
  sockets: number;
  /** Request workers. */
  requests: number;
  /** Socket worker module. */
  socketUrl: URL;
  /** Request worker module. */
  requestUrl: URL;
  /** Init of request worker `j`: one port per socket worker. */
  requestInit(j: number, ports: MessagePort[], fault: string): unknown;
  /**
   * Init of socket worker `i`: one port per request worker, and the bitmap in which it records
   * its libc descriptors (closed here if it dies). `restart` is true for a replacement.
   */
  socketInit(
    i: number,
    ports: MessagePort[],
    fds: SharedArrayBuffer,
    fault: string,
    restart: boolean,
  ): unknown;
  /**
   * Checks the start-up reply of a socket worker that joins the first one's ports (every
   * other one, and every replacement); throws if it could not bind.
   */
  checkJoined(i: number, reply: unknown): void;
}

/** Starts and rewires the workers of one server. */
export class Mesh {
  #pool: Pool;
  #plan: MeshPlan;
  #fault: Fault | null;
  /** `#channels[i][j]`: socket worker i's `port1`, request worker j's `port2`. */
  #channels: MessageChannel[][];
  #fds: SharedArrayBuffer[];

  /** A mesh for `plan`, started through `pool`; `fault` is `SHOAL_FAULT` (tests). */
  constructor(pool: Pool, plan: MeshPlan, fault: Fault | null) {
    this.#pool = pool;
    this.#plan = plan;
    this.#fault = fault;
    this.#channels = Array.from(
      { length: plan.sockets },
      () => Array.from({ length: plan.requests }, () => new MessageChannel()),
    );
    this.#fds = Array.from({ length: plan.sockets }, () => fdRegistry());
  }

  /** Starts every request worker; resolves when all are ready. */
  async startRequests(): Promise<void> {
    await Promise.all(Array.from({ length: this.#plan.requests }, (_, j) =>
      this.#pool.spawn({
        name: `request worker ${j}`,
        url: this.#plan.requestUrl,
        replyType: "ready",
        init: (restart) => {
          if (restart) this.#rewire("socket", j, (i) => [i, j], "port1");
          const ports = this.#channels.map((row) => row[j].port2);
          const fault = faultFor(this.#fault, "request", j, restart);
          return { init: this.#plan.requestInit(j, ports, fault), transfer: ports };
        },
      })));
  }

  /**
   * Starts socket worker `i` and resolves with its start-up reply (for the first one, which
   * binds, the caller reads it; the others are checked with `checkJoined`).
   */
  async startSocket<T>(i: number): Promise<T> {
    const reply = await this.#pool.spawn<T>({
      name: `socket worker ${i}`,
      url: this.#plan.socketUrl,
      replyType: "bound",
      init: (restart) => {
        if (restart) {
          this.#rewire("request", i, (j) => [i, j], "port2");
        }
        const ports = this.#channels[i].map((c) => c.port1);
        const fault = faultFor(this.#fault, "socket", i, restart);
        return {
          init: this.#plan.socketInit(i, ports, this.#fds[i], fault, restart),
          transfer: ports,
        };
      },
      // Its libc sockets belong to the process, not the worker: close them, or the kernel
      // keeps handing a share of the traffic to a socket nobody reads.
      gone: () => closeTracked(this.#fds[i]),
      restarted: (reply) => this.#plan.checkJoined(i, reply),
    });
    if (i > 0) this.#plan.checkJoined(i, reply);
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
    const others = role === "socket" ? this.#plan.sockets : this.#plan.requests;
    for (let k = 0; k < others; k++) {
      const [i, j] = pair(k);
      const ch = this.#channels[i][j] = new MessageChannel();
      const port = ch[far];
      this.#pool.post(
        `${role} worker ${k}`,
        { type: "port", index, port } satisfies PortUpdate,
        [port],
      );
    }
  }
}
