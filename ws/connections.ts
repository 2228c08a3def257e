/**
 * The WebSocket socket worker's logic, free of sockets (the `wire.ts` engines feed it) so it
 * can be tested alone: a table of connections, checks on every incoming message, one batch per
 * request worker, scrapes merged back from their parts, and delivery with a bound on what may
 * queue per connection.
 *
 * @module
 */

import { type InMessage, type ProtocolLimits, scrapeReply, validate } from "./protocol.ts";
import { failureMessage } from "./protocol.ts";
import type { Rejoins } from "./rejoins.ts";
import {
  type Batch,
  pushAccount,
  pushAccountKeyText,
  pushClosed,
  pushRejoin,
  pushScanned,
  pushScrape,
  readFrames,
  readResponses,
  type ScrapeEntry,
  type SocketHandlers,
} from "./messages.ts";
import { fromRequest, SCAN_ANNOUNCE, scanMessage, Scanned } from "./scan.ts";
import { ByteBuffer } from "../shared/base/byte_buffer.ts";
import type { Sharder } from "../shared/store/shard.ts";
import { Admission } from "../shared/net/admission.ts";
import { CloseCode } from "./wire.ts";
import type { ConnectionCounters } from "./socket_init.ts";

import type { WsPrivate } from "./private.ts";

/** The part of a WebSocket the logic uses (a real one, or a test double). */
export interface Peer {
  /** Queues a text message. */
  send(text: string): void;
  /** Queues whole frames: the `len` bytes at `b[off]` (valid only during the call). */
  sendFrames(b: Uint8Array, off: number, len: number): void;
  /** Closes with a code and reason. */
  close(code: number, reason: string): void;
  /** Bytes queued and not yet sent. */
  readonly bufferedAmount: number;
}

/** Limits for connections. */
export interface ConnectionLimits extends ProtocolLimits {
  /** Bytes queued to one connection before it is closed as too slow. */
  maxOutgoingBuffer: number;
  /** Seconds without a message before a connection is closed. */
  maxIdle: number;
  /** Most open connections (of this socket worker). */
  maxConnections?: number;
  /** Most open connections from one IP (of this socket worker). */
  maxConnectionsPerIp?: number;
}

/** Invalid-JSON messages in a row after which a connection is closed. */
export const MAX_INVALID_IN_A_ROW = 10;
/** Scrapes one connection may have waiting. */
export const MAX_PENDING_SCRAPES_PER_CONNECTION = 4;
/** Scrapes one socket worker may have waiting. */
export const MAX_PENDING_SCRAPES = 4096;
/** Seconds after which an unfinished scrape is dropped (a request worker was replaced). */
export const SCRAPE_TIMEOUT_S = 5;

/** Close codes that mean the client broke the protocol (1008 is counted where it is sent). */
const VIOLATIONS = new Set<number>([
  CloseCode.Protocol,
  CloseCode.Unsupported,
  CloseCode.InvalidData,
  CloseCode.TooBig,
]);

interface Conn {
  peer: Peer;
  ip: string;
  lastSeen: number;
  invalidInARow: number;
  pendingScrapes: number;
  /** Request workers (below 31) that may hold peers of this connection, as bits. */
  shardBits: number;
  /** Request workers from 31 up, rarely used. */
  moreShards: Set<number> | null;
  /** A private tracker's key for this connection (`private.ts`'s `keyOf`). */
  key: number;
}

interface PendingScrape {
  conn: number;
  parts: number;
  opened: number;
  files: Record<string, { complete: number; incomplete: number; downloaded: number }>;
}

/**
 * A cluster's routes (`cluster_side.ts`): where each info hash goes, this node's request
 * workers first, then other nodes'.
 */
export interface WsRoute {
  /** The batch for the info hash at `b[off]` (20 bytes). */
  destination(b: Uint8Array, off: number): number;
  /** A record is about to go into batch `d`, `b`. */
  adding(d: number, b: ByteBuffer): void;
}

/** Connections of one socket worker. */
export class Connections {
  /**
   * Outgoing byte batches, one per request worker (in a cluster, other nodes' after this
   * node's); the caller sends and empties them.
   */
  readonly batches: ByteBuffer[];
  /** A cluster's routes; null: every info hash is this node's. */
  route: WsRoute | null = null;
  /** In a cluster, its connections' peers, which follow their swarms to new owners. */
  rejoins: Rejoins | null = null;
  /** Cumulative counters. */
  readonly counters: ConnectionCounters = {
    accepted: 0,
    closed: 0,
    messagesIn: 0,
    bytesIn: 0,
    announces: 0,
    answers: 0,
    scrapes: 0,
    invalid: 0,
    messagesOut: 0,
    bytesOut: 0,
    violations: 0,
    slow: 0,
    idle: 0,
    undeliverable: 0,
  };
  /** Connections refused at `maxConnections`. */
  get refusedTotal(): number {
    return this.#admission.refusedTotal;
  }

  /** Connections refused at `maxConnectionsPerIp`. */
  get refusedPerIp(): number {
    return this.#admission.refusedPerIp;
  }

  /** Refusals by limit key (see `Admission.refusals`). */
  refusals(outOfFiles: number, fitsFiles: boolean): Record<string, number> {
    return this.#admission.refusals(outOfFiles, fitsFiles);
  }
  #conns = new Map<number, Conn>();
  #admission: Admission;
  #nextId = 1;
  #sharder: Sharder;
  #requestWorkers: number;
  #hash = new Uint8Array(20);
  #limits: ConnectionLimits;
  #scrapes = new Map<number, PendingScrape>();
  #nextScrape = 1;
  #onBatch: () => void;
  #scanned = new Scanned();
  #scratch = new ByteBuffer(4096);

  /**
   * Creates the table; `onBatch` is called when a batch gained its first item, so the caller
   * can schedule one flush for everything that arrives in the same turn.
   */
  constructor(
    sharder: Sharder,
    requestWorkers: number,
    limits: ConnectionLimits,
    onBatch: () => void,
  ) {
    this.#sharder = sharder;
    this.#limits = limits;
    this.#admission = new Admission(limits.maxConnections, limits.maxConnectionsPerIp);
    this.#onBatch = onBatch;
    this.#requestWorkers = requestWorkers;
    this.batches = Array.from({ length: requestWorkers }, () => new ByteBuffer(1 << 16));
  }

  /** Open connections. */
  get size(): number {
    return this.#conns.size;
  }

  /**
   * Registers a new connection from `ip`; returns its id, or 0 when a connection limit
   * refuses it (the caller closes it).
   */
  open(peer: Peer, ip: string, now: number, key = 0): number {
    if (!this.#admission.admit(ip)) return 0;
    const id = this.#nextId;
    this.#nextId = this.#nextId >= 0xffffffff ? 1 : this.#nextId + 1;
    this.#conns.set(id, {
      peer,
      ip,
      lastSeen: now,
      invalidInARow: 0,
      pendingScrapes: 0,
      shardBits: 0,
      moreShards: null,
      key,
    });
    this.counters.accepted++;
    return id;
  }

  /** The batch for request worker `shard`, telling the caller when it gains its first record. */
  #batch(shard: number): ByteBuffer {
    const b = this.batches[shard];
    this.route?.adding(shard, b);
    if (b.len === 0) this.#onBatch();
    return b;
  }

  /** Where the info hash at `b[off]` goes. */
  #destination(b: Uint8Array, off: number): number {
    return this.route === null ? this.#sharder.of(b, off) : this.route.destination(b, off);
  }

  /**
   * Makes `n` batches (this node's request workers', then other nodes'): a cluster's new
   * assignment. What was batched for other nodes is dropped.
   */
  resizeBatches(n: number): void {
    const local = this.#requestWorkers;
    for (let k = local; k < this.batches.length; k++) this.batches[k].len = 0;
    this.batches.length = Math.max(local, n);
    for (let k = local; k < n; k++) this.batches[k] ??= new ByteBuffer(1 << 12);
  }

  #send(c: Conn, id: number, text: string): void {
    this.#write(c, text);
    this.#closeIfSlow(c, id);
  }

  #write(c: Conn, text: string): void {
    c.peer.send(text);
    this.counters.messagesOut++;
    this.counters.bytesOut += text.length;
  }

  /** Closes connection `id` if more is queued to it than it may have waiting. */
  #closeIfSlow(c: Conn, id: number): void {
    if (c.peer.bufferedAmount > this.#limits.maxOutgoingBuffer) {
      this.counters.slow++;
      this.#close(id, CloseCode.TryAgainLater, "too slow: outgoing buffer full");
    }
  }

  #close(id: number, code: number, reason: string): void {
    const c = this.#conns.get(id);
    if (c === undefined) return;
    if (code === CloseCode.Policy) this.counters.violations++;
    try {
      c.peer.close(code, reason);
    } catch { /* already closing */ }
    this.closed(id, code);
  }

  /**
   * Forgets connection `id` (closed by either side, with `code`) and tells its request
   * workers, so its peers leave their swarms at once.
   */
  closed(id: number, code: number = CloseCode.Normal): void {
    const c = this.#conns.get(id);
    if (c === undefined) return;
    this.#conns.delete(id);
    this.rejoins?.forget(id);
    this.#admission.release(c.ip);
    this.counters.closed++;
    if (VIOLATIONS.has(code)) this.counters.violations++;
    // (A cluster's batch that a new assignment took away has no one to tell.)
    const n = this.batches.length;
    for (let s = 0; s < 31 && c.shardBits >>> s; s++) {
      if (c.shardBits & (1 << s) && s < n) pushClosed(this.#batch(s), id);
    }
    for (const s of c.moreShards ?? []) if (s < n) pushClosed(this.#batch(s), id);
  }

  /**
   * Handles the bytes of one text message from connection `id` if it is an announce or answer
   * the fast path takes (`scan.ts`): the most of them. False when it is not, and the caller
   * decodes it (checking its UTF-8) and hands it to `text`.
   */
  message(id: number, b: Uint8Array, now: number): boolean {
    const m = this.#scanned;
    if (!scanMessage(b, this.#limits.maxOffers, m)) return false;
    const c = this.#conns.get(id);
    if (c === undefined) return true;
    this.counters.messagesIn++;
    this.counters.bytesIn += b.length;
    c.lastSeen = now;
    c.invalidInARow = 0;
    if (this.private !== null) {
      const action = m.kind === SCAN_ANNOUNCE ? "announce" : "answer";
      const send = (t: string) => this.#send(c, id, t);
      if (this.private.refuses(c.key, action, String.fromCharCode(...m.hash), send)) return true;
    }
    this.#forward(id, c, m);
    return true;
  }

  /** A private tracker's checks (null: open). */
  private: WsPrivate | null = null;

  /** Closes the connections whose key was revoked or deleted (their peers leave the swarms). */
  closeRevoked(): number {
    let n = 0;
    for (const [id, c] of this.#conns) {
      if (this.private?.revoked(c.key)) {
        this.#close(id, CloseCode.Policy, "passkey revoked");
        n++;
      }
    }
    return n;
  }

  /** Hands an announce or answer to the request worker that owns its info hash. */
  #forward(id: number, c: Conn, m: Scanned): void {
    if (m.kind === SCAN_ANNOUNCE) this.counters.announces++;
    else this.counters.answers++;
    const s = this.#destination(m.hash, 0);
    this.#mark(c, s);
    pushScanned(this.#batch(s), id, m);
    if (this.rejoins !== null && m.kind === SCAN_ANNOUNCE) this.rejoins.remember(id, m);
    if (this.private !== null && m.kind === SCAN_ANNOUNCE) {
      // To another node, the key's text: indices are this process's own.
      if (s < this.#requestWorkers) pushAccount(this.#batch(s), id, c.key, m);
      else pushAccountKeyText(this.#batch(s), id, this.private.gate.keys, c.key, m);
    }
  }

  /** Connection `c` may have peers at request worker `s`. */
  #mark(c: Conn, s: number): void {
    if (s < 31) c.shardBits |= 1 << s;
    else (c.moreShards ??= new Set()).add(s);
  }

  /**
   * A cluster's owners changed: the peers of this worker's connections in torrents that
   * `moved` (true for an info hash whose owner changed) join their new owner's swarms at once,
   * without waiting for their next announce (nobody is answered). Returns how many.
   */
  rejoin(moved: (b: Uint8Array, off: number) => boolean): number {
    const b = this.#hash;
    let n = 0;
    this.rejoins?.each((id, h, peer, seeder) => {
      const c = this.#conns.get(id);
      if (c === undefined) return;
      for (let i = 0; i < 20; i++) b[i] = h.charCodeAt(i);
      if (!moved(b, 0)) return;
      const s = this.#destination(b, 0);
      this.#mark(c, s);
      pushRejoin(this.#batch(s), id, b, peer, seeder);
      n++;
    });
    return n;
  }

  /** Handles one text message from connection `id` (the general path). */
  text(id: number, text: string, now: number): void {
    const c = this.#conns.get(id);
    if (c === undefined) return;
    const counters = this.counters;
    counters.messagesIn++;
    counters.bytesIn += text.length;
    c.lastSeen = now;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      counters.invalid++;
      if (++c.invalidInARow >= MAX_INVALID_IN_A_ROW) {
        return this.#close(id, CloseCode.Policy, "too many invalid messages");
      }
      return this.#send(c, id, failureMessage("invalid JSON"));
    }
    c.invalidInARow = 0;
    this.#route(id, c, validate(parsed, this.#limits), now);
  }

  #route(id: number, c: Conn, m: InMessage, now: number): void {
    if (this.private !== null && m.kind !== "error") {
      const h = m.kind === "scrape" ? undefined : m.infoHash;
      if (this.private.refuses(c.key, m.kind, h, (t) => this.#send(c, id, t))) return;
    }
    switch (m.kind) {
      case "error":
        this.counters.invalid++;
        return this.#send(c, id, failureMessage(m.reason, m.action, m.infoHash));
      case "announce":
      case "answer":
        fromRequest(m, this.#scanned, this.#scratch);
        return this.#forward(id, c, this.#scanned);
      case "scrape":
        this.counters.scrapes++;
        return this.#scrape(id, c, m.infoHashes, now);
    }
  }

  #scrape(id: number, c: Conn, hashes: string[], now: number): void {
    if (
      c.pendingScrapes >= MAX_PENDING_SCRAPES_PER_CONNECTION ||
      this.#scrapes.size >= MAX_PENDING_SCRAPES
    ) {
      return this.#send(c, id, failureMessage("too many scrapes at once", "scrape"));
    }
    const parts = new Map<number, string[]>();
    const b = this.#hash;
    for (const h of hashes) {
      for (let i = 0; i < 20; i++) b[i] = h.charCodeAt(i);
      const s = this.#destination(b, 0);
      const list = parts.get(s);
      if (list) list.push(h);
      else parts.set(s, [h]);
    }
    const sid = this.#nextScrape;
    this.#nextScrape = this.#nextScrape >= 0x7fffffff ? 1 : this.#nextScrape + 1;
    this.#scrapes.set(sid, { conn: id, parts: parts.size, opened: now, files: {} });
    c.pendingScrapes++;
    for (const [s, h] of parts) pushScrape(this.#batch(s), id, sid, h);
  }

  /** Delivers one batch from a request worker: frames as bytes, or scrape counts. */
  deliver(batch: Batch | Uint8Array): void {
    if (batch instanceof Uint8Array) readFrames(batch, this.#delivery);
    else readResponses(batch, this.#delivery);
  }

  readonly #delivery: SocketHandlers = {
    frames: (conn, b, at, len, messages, payload) => {
      const c = this.#conns.get(conn);
      if (c === undefined) {
        this.counters.undeliverable += messages;
        return;
      }
      // One write for them all; the slow check once they are queued.
      c.peer.sendFrames(b, at, len);
      this.counters.messagesOut += messages;
      this.counters.bytesOut += payload;
      this.#closeIfSlow(c, conn);
    },
    scrape: (_conn: number, id: number, files: ScrapeEntry[]) => {
      const p = this.#scrapes.get(id);
      if (p === undefined) return;
      for (const [h, complete, incomplete, downloaded] of files) {
        p.files[h] = { complete, incomplete, downloaded };
      }
      if (--p.parts > 0) return;
      this.#scrapes.delete(id);
      const c = this.#conns.get(p.conn);
      if (c === undefined) return;
      c.pendingScrapes--;
      this.#send(c, p.conn, scrapeReply(p.files));
    },
  };

  /** Closes connections idle for longer than the limit and drops stale scrapes. */
  sweep(now: number): void {
    for (const [id, c] of this.#conns) {
      if (now - c.lastSeen > this.#limits.maxIdle) {
        this.counters.idle++;
        this.#close(id, CloseCode.Normal, "idle");
      }
    }
    for (const [sid, p] of this.#scrapes) {
      if (now - p.opened > SCRAPE_TIMEOUT_S) {
        this.#scrapes.delete(sid);
        const c = this.#conns.get(p.conn);
        if (c) c.pendingScrapes--;
      }
    }
  }

  /** Closes every connection (shutdown). */
  closeAll(code: number, reason: string): void {
    for (const id of [...this.#conns.keys()]) this.#close(id, code, reason);
  }
}
