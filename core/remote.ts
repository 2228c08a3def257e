/**
 * Requests that cross the nodes of a cluster, in a socket worker: the batched channel between
 * socket and request workers, stretched over a transport between nodes (NATS, in
 * `shared/runtime/nats_link.ts`; this module sees only bytes and reply addresses).
 *
 * - Out: the `Forwarder` puts each request whose shard another node owns into one batch per
 *   node (`route`); `flushRemote` hands each batch on. Their answers come back as a request
 *   worker's do, into `Forwarder.responses`: tokens and scrape ids are this worker's own.
 * - In: another node's batch (`receive`) goes to this node's request workers. Each announce
 *   travels under a forwarding slot of this worker (`ANNOUNCE_REMOTE`), each scrape part as a
 *   pending scrape of this worker; their answers (`announced`, `scraped`, which pass the
 *   protocol's own answers through) go back in one batch per asking worker (`flushReplies`).
 *
 * Every message starts with `WIRE_FORMAT`: a node that gets a format it does not speak counts
 * it and drops it (the membership keeps such nodes apart, `cluster/members.ts`).
 *
 * @module
 */

import { BatchWriter } from "../shared/runtime/channel.ts";
import { type ClusterCounts, LATENCY_BUCKETS_MS } from "../shared/observe/view.ts";
import { getU16LE, getU32LE, setU16LE, setU32LE } from "../shared/base/bytes.ts";
import { type ClusterShards, SHARDS } from "../shared/store/cluster_shards.ts";
import type { Answers, Forwarder, RemoteRoute } from "./forward.ts";
import { MAX_REMOTES } from "./forward.ts";
import type { PendingScrapes } from "./pending_scrapes.ts";
import { A_FLAGS, A_TOKEN, ANNOUNCE_LEN, ANNOUNCE_PEER_IDS } from "./records.ts";
import { ANNOUNCE_REMOTE, ANSWER_HEADER, KEYED_ANNOUNCE_LEN, peerLen } from "./records.ts";
import { R_COUNT, REC_FAMILY, REQ_ANNOUNCE, REQ_ANNOUNCE_KEYED, REQ_SCRAPE } from "./records.ts";
import { REQ_SCRAPE_ITEM, RES_SCRAPE, RES_SCRAPE_ITEM, S_COUNT, S_ID } from "./records.ts";
import { SCRAPE_ENTRY_LEN, SCRAPE_HEADER } from "./records.ts";
import { REQ_ANNOUNCE_KEY_TEXT } from "./records.ts";
import { MAX_KEY_LEN, MAX_KEYS } from "../shared/store/key_table.ts";

/** The first byte of every message between nodes: the records' format. */
export const WIRE_FORMAT = 1;
/**
 * Bytes before a message's records: the format, then a time of the sending worker's clock
 * (f64 LE, milliseconds): a request's send time, which an answer echoes (its latest request's
 * from that worker), so the sender measures the round trip.
 */
export const HEADER_LEN = 9;

/** Forwarding slots of announces in flight (a slot reused before its answer drops it). */
const SLOTS = 1 << 16;

/** Asking workers remembered at once (nodes × their socket workers; more starts over). */
const MAX_ORIGINS = 4096;

/** Counts of a socket worker's traffic with other nodes (the sends NATS dropped aside). */
export type RemoteCounts = Omit<ClusterCounts, "sendDrops">;

/** One socket worker's side of the requests that cross nodes. */
export class RemoteRequests implements Answers {
  /** Where the `Forwarder` sends what other nodes own (set as `forward.route`). */
  readonly route: RemoteRoute;
  /** Traffic counts. */
  readonly counts: RemoteCounts = {
    batchesOut: 0,
    requestsOut: 0,
    batchesIn: 0,
    requestsIn: 0,
    dropped: 0,
    latency: LATENCY_BUCKETS_MS.map(() => 0),
    latencySum: 0,
  };
  #forward: Forwarder;
  #inner: Answers;
  #remotes: string[] = [];
  #origins = new Map<string, number>();
  #originNames: string[] = [];
  #replies: BatchWriter[] = [];
  #originTime: number[] = [];
  #slotOrigin = new Int32Array(SLOTS);
  #slotToken = new Uint32Array(SLOTS);
  #slotGen = new Uint16Array(SLOTS);
  #next = 0;
  #scrapeOrigin: Int32Array;
  #scrapeId: Uint32Array;
  #scrapeIdx: Uint16Array;
  #hashes: Uint8Array;
  #noAddr = new Uint8Array(18);

  /**
   * The remote side of `forward`, whose protocol answers with `inner`; `pendingSlots` is the
   * size of `forward.pending`; `shards` the cluster's.
   */
  constructor(forward: Forwarder, inner: Answers, pendingSlots: number, shards: ClusterShards) {
    this.#forward = forward;
    this.#inner = inner;
    const max = forward.pending.maxHashes;
    this.#scrapeOrigin = new Int32Array(pendingSlots);
    this.#scrapeId = new Uint32Array(pendingSlots);
    this.#scrapeIdx = new Uint16Array(pendingSlots * max);
    this.#hashes = new Uint8Array(20 * max);
    this.route = { shards, owner: new Int16Array(SHARDS).fill(-1), writers: [], keys: null };
    forward.route = this.route;
  }

  /** Other nodes, by the index `route.owner` holds. */
  get remotes(): readonly string[] {
    return this.#remotes;
  }

  /**
   * Takes a new assignment: `owner[shard]` indexes `nodes`, and `self` is this node's name.
   * What is batched for a node that is no longer there is dropped (its clients retry).
   */
  setOwners(nodes: readonly string[], owner: Int16Array, self: string): void {
    const remotes = nodes.filter((n) => n !== self).slice(0, MAX_REMOTES);
    const index = nodes.map((n) => remotes.indexOf(n));
    for (let s = 0; s < SHARDS; s++) {
      const o = owner[s];
      this.route.owner[s] = o < 0 || o >= index.length ? -1 : index[o];
    }
    for (const w of this.route.writers) w.clear();
    while (this.route.writers.length < remotes.length) this.route.writers.push(new BatchWriter());
    this.route.writers.length = remotes.length;
    this.#remotes = remotes;
  }

  /**
   * Hands each node's batch to `send(node, message)`, stamped `now` (this worker's
   * `performance.now()`).
   */
  flushRemote(send: (node: string, message: Uint8Array) => void, now: number): void {
    const writers = this.route.writers;
    for (let r = 0; r < writers.length; r++) {
      const w = writers[r];
      if (w.count === 0) continue;
      this.counts.batchesOut++;
      this.counts.requestsOut += w.count;
      send(this.#remotes[r], framed(w, now));
      w.clear();
    }
  }

  /** Hands each asking worker's answers to `send(origin, message)`. */
  flushReplies(send: (origin: string, message: Uint8Array) => void): void {
    for (let o = 0; o < this.#replies.length; o++) {
      const w = this.#replies[o];
      if (w.count === 0) continue;
      send(this.#originNames[o], framed(w, this.#originTime[o]));
      w.clear();
    }
  }

  /**
   * Another node's message `b` from the worker that answers reach at `origin`: its announces
   * and scrape parts go to this node's request workers (never on to a third node).
   */
  receive(b: Uint8Array, origin: string, now: number): void {
    if (b.length < HEADER_LEN || b[0] !== WIRE_FORMAT) {
      this.counts.dropped++;
      return;
    }
    this.counts.batchesIn++;
    const o = this.#originOf(origin);
    this.#originTime[o] = getF64LE(b, 1);
    const fwd = this.#forward;
    fwd.localOnly = true;
    try {
      let p = HEADER_LEN;
      while (p < b.length) {
        const type = b[p];
        if (type === REQ_ANNOUNCE || type === REQ_ANNOUNCE_KEYED) {
          const len = type === REQ_ANNOUNCE ? ANNOUNCE_LEN : KEYED_ANNOUNCE_LEN;
          if (p + len > b.length) break;
          fwd.announceRecord(b, p, len, this.#slot(o, getU32LE(b, p + A_TOKEN)), ANNOUNCE_REMOTE);
          p += len;
        } else if (type === REQ_ANNOUNCE_KEY_TEXT) {
          const n = p + KEYED_ANNOUNCE_LEN < b.length ? b[p + KEYED_ANNOUNCE_LEN] : -1;
          const len = KEYED_ANNOUNCE_LEN + 1 + n;
          if (n < 0 || n > MAX_KEY_LEN || p + len > b.length) break;
          // The key's index here; one this node has not loaded yet passes the request worker
          // (the sender checked it) but counts under no key.
          const start = p + KEYED_ANNOUNCE_LEN + 1;
          const i = this.route.keys?.find(b, start, start + n) ?? -1;
          const token = this.#slot(o, getU32LE(b, p + A_TOKEN));
          fwd.announceRecord(
            b,
            p,
            KEYED_ANNOUNCE_LEN,
            token,
            ANNOUNCE_REMOTE,
            i < 0 ? MAX_KEYS : i,
          );
          p += len;
        } else if (type === REQ_SCRAPE) {
          const n = getU16LE(b, p + S_COUNT);
          const end = p + SCRAPE_HEADER + REQ_SCRAPE_ITEM * n;
          if (n === 0 || n > this.#forward.pending.maxHashes || end > b.length) break;
          this.#scrape(b, p, n, o, now);
          p = end;
        } else break;
        this.counts.requestsIn++;
      }
      if (p < b.length) this.counts.dropped++;
    } finally {
      fwd.localOnly = false;
    }
  }

  /**
   * Another node's answers to what this worker sent, received at `now`: the records of a
   * request worker's batch, or null when the message is not of this format.
   */
  answers(m: Uint8Array, now: number): Uint8Array | null {
    if (m.length < HEADER_LEN || m[0] !== WIRE_FORMAT) {
      this.counts.dropped++;
      return null;
    }
    const ms = now - getF64LE(m, 1);
    if (ms >= 0) {
      let k = 0;
      while (ms > LATENCY_BUCKETS_MS[k]) k++;
      this.counts.latency[k]++;
      this.counts.latencySum += ms;
    }
    return m.subarray(HEADER_LEN);
  }

  /** An announce answer: another node's goes back to it, this node's clients' to the protocol. */
  announced(b: Uint8Array, p: number): void {
    if (!(b[p + A_FLAGS] & ANNOUNCE_REMOTE)) return this.#inner.announced(b, p);
    const token = getU32LE(b, p + A_TOKEN), s = token & (SLOTS - 1);
    if (this.#slotGen[s] !== token >>> 16 || this.#slotOrigin[s] < 0) return; // stale
    const o = this.#slotOrigin[s];
    this.#slotOrigin[s] = -1;
    const family = b[p + REC_FAMILY] === 6 ? 6 : 4;
    const entry = peerLen(family) + (b[p + A_FLAGS] & ANNOUNCE_PEER_IDS ? 20 : 0);
    const len = ANSWER_HEADER + entry * getU16LE(b, p + R_COUNT);
    const w = this.#replies[o];
    const at = w.reserve(len), buf = w.buf;
    for (let j = 0; j < len; j++) buf[at + j] = b[p + j];
    buf[at + A_FLAGS] &= ~ANNOUNCE_REMOTE;
    setU32LE(w.buf, at + A_TOKEN, this.#slotToken[s]);
    w.commit(at + len);
  }

  /** A complete scrape: another node's part goes back to it, a client's to the protocol. */
  scraped(pending: PendingScrapes, s: number): void {
    if (!pending.isRemote(s)) return this.#inner.scraped(pending, s);
    const o = this.#scrapeOrigin[s], n = pending.count(s);
    if (o < 0 || o >= this.#replies.length) return;
    const w = this.#replies[o];
    let at = w.reserve(SCRAPE_HEADER + RES_SCRAPE_ITEM * n);
    const out = w.buf;
    out[at] = RES_SCRAPE;
    out[at + REC_FAMILY] = pending.family(s);
    setU16LE(out, at + S_COUNT, n);
    setU32LE(out, at + S_ID, this.#scrapeId[s]);
    at += SCRAPE_HEADER;
    const max = pending.maxHashes;
    for (let k = 0; k < n; k++, at += RES_SCRAPE_ITEM) {
      setU16LE(out, at, this.#scrapeIdx[s * max + k]);
      const e = pending.entryOffset(s, k), entries = pending.entries;
      for (let j = 0; j < SCRAPE_ENTRY_LEN; j++) out[at + 2 + j] = entries[e + j];
    }
    w.commit(at);
  }

  /** Full scrapes stay on this node (`Forwarder.fullScrape`): the protocol's. */
  fullScraped(token: number, b: Uint8Array, off: number, count: number): void {
    this.#inner.fullScraped?.(token, b, off, count);
  }

  /** Opens another node's scrape part (`n` hashes at `b[p]`) as a pending scrape here. */
  #scrape(b: Uint8Array, p: number, n: number, o: number, now: number): void {
    const hashes = this.#hashes;
    let q = p + SCRAPE_HEADER;
    for (let k = 0; k < n; k++, q += REQ_SCRAPE_ITEM) {
      for (let j = 0; j < 20; j++) hashes[20 * k + j] = b[q + 2 + j];
    }
    const fwd = this.#forward;
    const family = b[p + REC_FAMILY] === 6 ? 6 : 4;
    if (!fwd.scrape(hashes, 0, n, family, this.#noAddr, 0, 0, now)) return;
    const s = fwd.pending.slotOf(fwd.lastScrape);
    this.#scrapeOrigin[s] = o;
    this.#scrapeId[s] = getU32LE(b, p + S_ID);
    const max = fwd.pending.maxHashes;
    q = p + SCRAPE_HEADER;
    for (let k = 0; k < n; k++, q += REQ_SCRAPE_ITEM) this.#scrapeIdx[s * max + k] = getU16LE(b, q);
  }

  /** A forwarding slot for the answer to `token` of worker `origin`; returns its token. */
  #slot(origin: number, token: number): number {
    const s = this.#next;
    this.#next = (s + 1) & (SLOTS - 1);
    const gen = (this.#slotGen[s] + 1) & 0xffff;
    this.#slotGen[s] = gen;
    this.#slotOrigin[s] = origin;
    this.#slotToken[s] = token;
    return ((gen << 16) | s) >>> 0;
  }

  #originOf(origin: string): number {
    let o = this.#origins.get(origin);
    if (o !== undefined) return o;
    if (this.#originNames.length >= MAX_ORIGINS) {
      // Nodes came and went for a long time: start over (answers in flight are dropped).
      this.#origins.clear();
      this.#originNames.length = 0;
      this.#replies.length = 0;
      this.#originTime.length = 0;
      this.#slotOrigin.fill(-1);
      this.#scrapeOrigin.fill(-1);
    }
    o = this.#originNames.length;
    this.#origins.set(origin, o);
    this.#originNames.push(origin);
    this.#replies.push(new BatchWriter(4096));
    this.#originTime.push(0);
    return o;
  }
}

/** The batch of `w` behind the header (format and `time`), as one message. */
function framed(w: BatchWriter, time: number): Uint8Array {
  const m = new Uint8Array(HEADER_LEN + w.len);
  m[0] = WIRE_FORMAT;
  new DataView(m.buffer).setFloat64(1, time, true);
  m.set(w.buf.subarray(0, w.len), HEADER_LEN);
  return m;
}

function getF64LE(b: Uint8Array, o: number): number {
  return new DataView(b.buffer, b.byteOffset + o, 8).getFloat64(0, true);
}
