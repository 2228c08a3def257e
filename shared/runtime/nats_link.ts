/**
 * A worker's connection to its cluster's NATS: the batches between nodes travel here. Subjects,
 * under the cluster's prefix (`shoal.<name>.<bt|ws>`, `natsSubjects`):
 * - `<prefix>.<node>.rw<j>`: batches for request worker `j` of a node, which subscribes to it.
 * - `<prefix>.<node>.ans.<instance>.<worker>`: answers for one socket worker of one process (the
 *   reply subject of what it sends), so a restarted node never gets its predecessor's.
 *
 * The protocol is spoken by `nats_wire.ts` over a plain (or TLS) TCP connection, with
 * TCP_NODELAY: what one turn publishes leaves in one write. The link reconnects by itself (to
 * each server in turn) and subscribes again; while NATS is away, sends are dropped (clients
 * retry) and the main thread routes every request to this node (`cluster/node.ts`).
 *
 * Where the worker's thread waits in its poller (`usePolledLinks`: Linux, plain `nats://`
 * servers), the connection is a libc socket in the poller's epoll set (`net/tcp_client.ts`):
 * a message is read and handled, and its answer written, in the poller's pass, as a datagram
 * is, and the thread may block in `epoll_wait` while it waits for either. Otherwise it is one of
 * Deno's connections, read on the event loop.
 *
 * @module
 */

import type { Logger } from "../base/log.ts";
import { VERSION } from "../base/version.ts";
import type { ClusterWorkerInit } from "./cluster_init.ts";
import { connectOp, NatsReader, PONG, pubHead, pubLength, subOp, writePub } from "./nats_wire.ts";
import { connectPolled, type PolledTcp } from "../net/tcp_client.ts";

/** A subscription: its subject, and what each message (valid during the call) goes to. */
export interface NatsSubscription {
  /** The subject. */
  subject: string;
  /** Called with each message and its reply subject ("" when none). */
  on(message: Uint8Array, reply: string): void;
}

/** The subjects of a cluster's node. */
export const natsSubjects = {
  /** Where request worker `j` of `node` takes batches. */
  requests: (prefix: string, node: string, j: number) => `${prefix}.${node}.rw${j}`,
  /** Where socket worker `index` of one process of `node` takes answers. */
  answers: (prefix: string, node: string, instance: string, index: number) =>
    `${prefix}.${node}.ans.${instance}.${index}`,
  /** The node an `answers` subject under `prefix` belongs to. */
  nodeOfAnswers: (prefix: string, subject: string) =>
    subject.slice(prefix.length + 1).split(".", 1)[0],
};

/** The first byte of every batch between nodes: the records' format (`core/records.ts`). */
export const WIRE_FORMAT = 1;
/**
 * Bytes before a batch's records: the format, then a time of the sending socket worker's clock
 * (f64 LE, milliseconds), which the answer echoes, so the sender measures the round trip.
 */
export const HEADER_LEN = 9;

/** A header's time goes through these (little-endian, as every platform shoal runs on). */
const TIME = new Float64Array(1), TIME_BYTES = new Uint8Array(TIME.buffer);

/** The records of `w` behind the header (format and `time`), as one message. */
export function frame(w: { buf: Uint8Array; len: number }, time: number): Uint8Array {
  const m = new Uint8Array(HEADER_LEN + w.len);
  m[0] = WIRE_FORMAT;
  TIME[0] = time;
  m.set(TIME_BYTES, 1);
  m.set(w.buf.subarray(0, w.len), HEADER_LEN);
  return m;
}

/** The time in the header of message `m`, or NaN when `m` is not of `WIRE_FORMAT`. */
export function frameTime(m: Uint8Array): number {
  if (m.length < HEADER_LEN || m[0] !== WIRE_FORMAT) return NaN;
  for (let i = 0; i < 8; i++) TIME_BYTES[i] = m[1 + i];
  return TIME[0];
}

/** Subjects whose `PUB` head is kept (nodes × their workers; more starts over). */
const MAX_HEADS = 4096;
const RETRY_MS = 500;
/** Longest wait for a polled connection to a server to open. */
const CONNECT_MS = 3000;

let polledLinks = false;

/**
 * Links made on this thread from now on read NATS through its poller (`on`), for a worker whose
 * thread waits in `epoll_wait` and gives its event loop only a turn now and then.
 */
export function usePolledLinks(on: boolean): void {
  polledLinks = on;
}

/**
 * Whether a worker of the cluster `init` can read NATS through its poller: on Linux, with the
 * FFI permission, and plain `nats://` servers (TLS needs Deno's connections).
 */
export function pollableNats(init: ClusterWorkerInit): boolean {
  return Deno.build.os === "linux" && init.tlsCaFile === "" &&
    init.servers.every((s) => !/^tls:\/\//i.test(s)) &&
    Deno.permissions.querySync({ name: "ffi" }).state === "granted";
}

/** One worker's NATS connection. */
export class NatsLink {
  /**
   * Sends dropped: NATS was unreachable, or the message was over the server's `max_payload`
   * (sent, it would make the server close the connection).
   */
  dropped = 0;
  /** Called when the link comes up (connected, subscribed) and when it goes down. */
  onLinked: ((up: boolean) => void) | null = null;
  #maxPayload = 1 << 20;
  #init: ClusterWorkerInit;
  #name: string;
  #conn: Deno.Conn | null = null;
  #tcp: PolledTcp | null = null;
  #polled = polledLinks;
  #closed = false;
  /** `PUB` heads by subject, then by reply subject ("" for none). */
  #heads = new Map<string, Map<string, Uint8Array>>();
  #headCount = 0;
  #out = new Uint8Array(1 << 16);
  #spare = new Uint8Array(1 << 16);
  #outLen = 0;
  #writing = false;

  /** A link of the cluster `init` describes, named `name` to the server; not connected yet. */
  constructor(init: ClusterWorkerInit, name: string) {
    this.#init = init;
    this.#name = name;
  }

  /** Connects (and reconnects, for as long as the link is open) and serves `subs`. */
  async open(subs: NatsSubscription[], log: Logger): Promise<void> {
    let server = 0, failures = 0;
    while (!this.#closed) {
      const url = this.#init.servers[server++ % this.#init.servers.length];
      try {
        await (this.#polled ? this.#polledSession(url, subs, log) : this.#session(url, subs));
        failures = 0;
      } catch (err) {
        // The main thread says when NATS is away (once); the link only retries.
        if (failures++ === 0) log.debug(`cluster: NATS link: ${(err as Error).message}`);
      }
      this.#conn = null;
      this.#tcp = null;
      if (!this.#closed) await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }

  /**
   * What a session reads until it is linked (the server's `INFO`, its `PONG`, an `-ERR`), and
   * the reader that fills it and hands messages to `subs`; `pong` answers the server's `PING`.
   */
  #handshake(subs: NatsSubscription[], pong: () => void) {
    const seen = { info: null as Record<string, unknown> | null, pong: false, error: "" };
    const reader = new NatsReader({
      info: (i) => {
        // The first `INFO` (the handshake's) sets the payload bound; later ones update no bound.
        if (seen.info === null) {
          const max = Number(i.max_payload);
          this.#maxPayload = max > 0 ? max : 1 << 20;
        }
        seen.info = i;
      },
      msg: (sid, reply, payload) => subs[sid - 1]?.on(payload, reply),
      ping: pong,
      pong: () => (seen.pong = true),
      err: (text) => (seen.error = text),
    });
    return { seen, reader };
  }

  /** One connection's life: handshake, subscriptions, then reading until it ends. */
  async #session(server: string, subs: NatsSubscription[]): Promise<void> {
    const { u, hostname, port } = serverAddress(server);
    const tcp = await Deno.connect({ hostname, port });
    // A batch must leave at once, not wait for the previous one's acknowledgement (Nagle).
    tcp.setNoDelay(true);
    let conn: Deno.Conn = tcp;
    const { seen, reader } = this.#handshake(subs, () => this.#write(PONG));
    const chunk = new Uint8Array(64 * 1024);
    const readSome = async (c: Deno.Conn) => {
      const n = await c.read(chunk);
      if (n === null) throw new Error(seen.error || "connection closed");
      reader.push(chunk.subarray(0, n));
    };
    try {
      while (seen.info === null) await readSome(conn);
      const i = seen.info as Record<string, unknown>;
      if (i.tls_required || u.protocol === "tls:") {
        const caFile = this.#init.tlsCaFile;
        conn = await Deno.startTls(tcp, {
          hostname,
          caCerts: caFile ? [await Deno.readTextFile(caFile)] : undefined,
        });
      }
      await writeAll(conn, this.#connectOp(u, Boolean(i.tls_required)));
      while (!seen.pong) {
        await readSome(conn);
        if (seen.error !== "") throw new Error(seen.error);
      }
      for (let k = 0; k < subs.length; k++) await writeAll(conn, subOp(subs[k].subject, k + 1));
      this.#conn = conn;
      this.onLinked?.(true);
      for (;;) await readSome(conn);
    } finally {
      if (this.#conn !== null) {
        this.#conn = null;
        this.onLinked?.(false);
      }
      try {
        conn.close();
      } catch { /* closed already */ }
    }
  }

  /** `CONNECT` (with the credentials) and `PING`. */
  #connectOp(u: URL, tls: boolean): Uint8Array {
    const init = this.#init;
    return connectOp({
      verbose: false,
      pedantic: false,
      tls_required: tls,
      name: this.#name,
      lang: "shoal",
      version: VERSION,
      protocol: 1,
      user: init.user || decodeURIComponent(u.username) || undefined,
      pass: init.password || decodeURIComponent(u.password) || undefined,
      auth_token: init.token || undefined,
    });
  }

  /**
   * One connection's life on a socket of the thread's poller: messages are handled in the
   * poller's passes, and what they publish leaves at the end of the pass's turn.
   */
  async #polledSession(server: string, subs: NatsSubscription[], log: Logger): Promise<void> {
    const { u, hostname, port } = serverAddress(server);
    const tcp = await connectPolled(hostname, port, CONNECT_MS);
    let wake: (() => void) | null = null;
    const { seen, reader } = this.#handshake(subs, () => tcp.write(PONG));
    tcp.serve((chunk) => {
      try {
        reader.push(chunk);
      } catch (err) {
        tcp.fail((err as Error).message);
      }
      wake?.();
    });
    // Waits for data until `done` holds; throws when the stream ends or the server says -ERR.
    const until = async (done: () => boolean) => {
      while (!done()) {
        if (seen.error !== "") throw new Error(seen.error);
        const ended = await Promise.race([
          new Promise<null>((r) => (wake = () => r(null))),
          tcp.ended,
        ]);
        if (ended !== null) throw new Error(seen.error || ended.message);
      }
    };
    try {
      await until(() => seen.info !== null);
      if (seen.info!.tls_required) {
        // Reached through plain nats://, a server that requires TLS: Deno's connections can
        // speak it (read on the event loop, which this thread only turns now and then).
        this.#polled = false;
        log.warn(
          `cluster: the NATS server ${hostname} requires TLS: give it as tls://${u.host} ` +
            "(this worker now reads NATS through its event loop, which is slower)",
        );
        throw new Error("the server requires TLS");
      }
      tcp.write(this.#connectOp(u, false));
      await until(() => seen.pong);
      for (let k = 0; k < subs.length; k++) tcp.write(subOp(subs[k].subject, k + 1));
      this.#tcp = tcp;
      this.onLinked?.(true);
      const why = await tcp.ended;
      if (seen.error !== "") throw new Error(seen.error);
      throw why;
    } finally {
      wake = null;
      if (this.#tcp !== null) {
        this.#tcp = null;
        this.onLinked?.(false);
      }
      tcp.close();
    }
  }

  /** Whether the link is connected and its subscriptions made. */
  get linked(): boolean {
    return this.#conn !== null || this.#tcp !== null;
  }

  /** Publishes `message` to `subject`, with `reply` as its reply subject when given. */
  publish(subject: string, message: Uint8Array, reply = ""): void {
    let byReply = this.#heads.get(subject);
    let head = byReply?.get(reply);
    if (head === undefined) {
      if (this.#headCount >= MAX_HEADS) {
        this.#heads.clear();
        this.#headCount = 0;
        byReply = undefined;
      }
      if (byReply === undefined) this.#heads.set(subject, byReply = new Map());
      byReply.set(reply, head = pubHead(subject, reply));
      this.#headCount++;
    }
    if (!this.linked || message.length > this.#maxPayload) {
      this.dropped++;
      return;
    }
    this.#reserve(pubLength(head, message.length));
    this.#outLen = writePub(this.#out, this.#outLen, head, message);
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
    if (this.#tcp !== null) {
      // Queued there, sent once this turn is over.
      this.#tcp.write(this.#out, this.#outLen);
      this.#outLen = 0;
      return;
    }
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
    this.#tcp?.close();
    try {
      this.#conn?.close();
    } catch { /* closed already */ }
  }
}

/** A server of the `servers` list (`host:port` or a URL) as a URL, its host name and port. */
function serverAddress(server: string): { u: URL; hostname: string; port: number } {
  const u = new URL(server.includes("://") ? server : `nats://${server}`);
  return { u, hostname: u.hostname.replace(/^\[|\]$/g, ""), port: Number(u.port || 4222) };
}

async function writeAll(conn: Deno.Conn, b: Uint8Array): Promise<void> {
  for (let o = 0; o < b.length;) o += await conn.write(b.subarray(o));
}
