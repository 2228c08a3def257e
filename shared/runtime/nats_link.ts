/**
 * A socket worker's connection to its cluster's NATS: the batches between nodes travel here.
 * Subjects, under the cluster's prefix (`shoal.<name>.<bt|ws>`):
 * - `<prefix>.<node>.req`: batches for the node's shards. Every socket worker of the node
 *   subscribes in one queue group, so NATS hands each batch to one of them.
 * - `<prefix>.<node>.ans.<instance>.<worker>`: answers for one socket worker of one process
 *   (the reply subject of what it sends), so a restarted node never gets its predecessor's.
 *
 * The protocol is spoken by `nats_wire.ts` over a plain (or TLS) TCP connection: what one turn
 * publishes leaves in one write. The link reconnects by itself (to each server in turn); while
 * NATS is away, sends are dropped (clients retry) and the main thread routes every request to
 * this node (`cluster/node.ts`).
 *
 * @module
 */

import type { Logger } from "../base/log.ts";
import { VERSION } from "../base/version.ts";
import type { ClusterWorkerInit } from "./cluster_init.ts";
import { connectOp, NatsReader, PONG, pubHead, pubLength, subOp, writePub } from "./nats_wire.ts";

/** What arrives on a worker's link. */
export interface NatsLinkHandlers {
  /** Another node's batch for this node's shards (valid during the call); answers go to `reply`. */
  request(message: Uint8Array, reply: string): void;
  /** Answers to a batch this worker sent (valid during the call). */
  answer(message: Uint8Array): void;
}

const SID_REQUESTS = 1, SID_ANSWERS = 2;
/** Reply subjects whose `PUB` head is kept (nodes × their socket workers; more starts over). */
const MAX_HEADS = 4096;
const RETRY_MS = 500;

/** One socket worker's NATS connection. */
export class NatsLink {
  /** Sends dropped because NATS was unreachable. */
  dropped = 0;
  #init: ClusterWorkerInit;
  #conn: Deno.Conn | null = null;
  #prefix: string;
  #inbox: string;
  #closed = false;
  #heads = new Map<string, Uint8Array>();
  #out = new Uint8Array(1 << 16);
  #spare = new Uint8Array(1 << 16);
  #outLen = 0;
  #writing = false;

  /** The link of socket worker `index`; nothing is connected before `open`. */
  constructor(init: ClusterWorkerInit, index: number) {
    this.#init = init;
    this.#prefix = init.prefix;
    this.#inbox = `${init.prefix}.${init.node}.ans.${init.instance}.${index}`;
  }

  /** Connects (and reconnects, for as long as the link is open) and serves `on`. */
  async open(on: NatsLinkHandlers, log: Logger): Promise<void> {
    let server = 0, failures = 0;
    while (!this.#closed) {
      const url = this.#init.servers[server++ % this.#init.servers.length];
      try {
        await this.#session(url, on);
        failures = 0;
      } catch (err) {
        // The main thread says when NATS is away (once); the link only retries.
        if (failures++ === 0) log.debug(`cluster: NATS link: ${(err as Error).message}`);
      }
      this.#conn = null;
      if (!this.#closed) await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }

  /** One connection's life: handshake, subscriptions, then reading until it ends. */
  async #session(server: string, on: NatsLinkHandlers): Promise<void> {
    const u = new URL(server.includes("://") ? server : `nats://${server}`);
    const hostname = u.hostname.replace(/^\[|\]$/g, "");
    const tcp = await Deno.connect({ hostname, port: Number(u.port || 4222) });
    // A batch must leave at once, not wait for the previous one's acknowledgement (Nagle).
    tcp.setNoDelay(true);
    let conn: Deno.Conn = tcp;
    let info: Record<string, unknown> | null = null, pong = false, error = "";
    const reader = new NatsReader({
      info: (i) => (info = i),
      msg: (sid, reply, payload) => {
        if (sid === SID_REQUESTS) {
          if (reply !== "") on.request(payload, reply);
        } else if (sid === SID_ANSWERS) on.answer(payload);
      },
      ping: () => this.#write(PONG),
      pong: () => (pong = true),
      err: (text) => (error = text),
    });
    const chunk = new Uint8Array(64 * 1024);
    const readSome = async (c: Deno.Conn) => {
      const n = await c.read(chunk);
      if (n === null) throw new Error(error || "connection closed");
      reader.push(chunk.subarray(0, n));
    };
    try {
      while (info === null) await readSome(conn);
      const i = info as Record<string, unknown>;
      if (i.tls_required || u.protocol === "tls:") {
        const caFile = this.#init.tlsCaFile;
        conn = await Deno.startTls(conn as Deno.TcpConn, {
          hostname,
          caCerts: caFile ? [await Deno.readTextFile(caFile)] : undefined,
        });
      }
      const init = this.#init;
      await writeAll(
        conn,
        connectOp({
          verbose: false,
          pedantic: false,
          tls_required: Boolean(i.tls_required),
          name: `shoal ${init.node} socket worker`,
          lang: "shoal",
          version: VERSION,
          protocol: 1,
          user: init.user || decodeURIComponent(u.username) || undefined,
          pass: init.password || decodeURIComponent(u.password) || undefined,
          auth_token: init.token || undefined,
        }),
      );
      while (!pong) {
        await readSome(conn);
        if (error !== "") throw new Error(error);
      }
      await writeAll(conn, subOp(`${this.#prefix}.${init.node}.req`, SID_REQUESTS, "workers"));
      await writeAll(conn, subOp(this.#inbox, SID_ANSWERS));
      this.#conn = conn;
      for (;;) await readSome(conn);
    } finally {
      this.#conn = null;
      try {
        conn.close();
      } catch { /* closed already */ }
    }
  }

  /** Sends `message` to `node`'s workers, its answers to come back to this worker. */
  send(node: string, message: Uint8Array): void {
    let head = this.#heads.get(node);
    if (head === undefined) {
      this.#heads.set(node, head = pubHead(`${this.#prefix}.${node}.req`, this.#inbox));
    }
    this.#pub(head, message);
  }

  /** Sends answers to the worker whose reply subject is `reply`. */
  reply(reply: string, message: Uint8Array): void {
    let head = this.#heads.get(reply);
    if (head === undefined) {
      if (this.#heads.size >= MAX_HEADS) this.#heads.clear();
      this.#heads.set(reply, head = pubHead(reply));
    }
    this.#pub(head, message);
  }

  #pub(head: Uint8Array, payload: Uint8Array): void {
    if (this.#conn === null) {
      this.dropped++;
      return;
    }
    this.#reserve(pubLength(head, payload.length));
    this.#outLen = writePub(this.#out, this.#outLen, head, payload);
    this.#flush();
  }

  #write(bytes: Uint8Array): void {
    this.#reserve(bytes.length);
    this.#out.set(bytes, this.#outLen);
    this.#outLen += bytes.length;
    this.#flush();
  }

  #reserve(n: number): void {
    if (this.#outLen + n <= this.#out.length) return;
    const grown = new Uint8Array(Math.max(2 * this.#out.length, this.#outLen + n));
    grown.set(this.#out.subarray(0, this.#outLen));
    this.#out = grown;
  }

  /** Writes what is queued: one write at a time, what comes meanwhile in the next. */
  #flush(): void {
    if (this.#writing || this.#outLen === 0) return;
    const conn = this.#conn;
    if (conn === null) {
      this.dropped++;
      this.#outLen = 0;
      return;
    }
    this.#writing = true;
    const data = this.#out.subarray(0, this.#outLen);
    [this.#out, this.#spare] = [this.#spare, this.#out];
    this.#outLen = 0;
    writeAll(conn, data).catch(() => {
      // The read side sees the connection end and reconnects.
    }).finally(() => {
      this.#writing = false;
      this.#flush();
    });
  }

  /** Closes the connection for good. */
  close(): void {
    this.#closed = true;
    try {
      this.#conn?.close();
    } catch { /* closed already */ }
  }
}

async function writeAll(conn: Deno.Conn, b: Uint8Array): Promise<void> {
  for (let o = 0; o < b.length;) o += await conn.write(b.subarray(o));
}
