/**
 * A socket worker's side of the core, whatever protocol the requests came in on: announces and
 * scrape parts go into one batch per request worker (`records.ts`), and the request workers'
 * batches come back as announce answers and completed scrapes, a scrape's parts merged first
 * (`pending_scrapes.ts`). What a protocol adds is its codec: reading its requests into these
 * calls and writing its answers from the records.
 *
 * @module
 */

import { BatchWriter } from "../shared/runtime/channel.ts";
import type { Link } from "../shared/runtime/link.ts";
import { Sharder } from "../shared/store/shard.ts";
import { getU16LE, getU32LE, setU16LE, setU32LE } from "../shared/base/bytes.ts";
import { ADDR_LEN } from "../shared/net/address.ts";
import { A_ADDR, A_EVENT, A_FLAGS, A_INFO_HASH, A_PEER_ID, A_PORT, A_TOKEN } from "./records.ts";
import { K_KEY, K_UPLOADED, KEYED_ANNOUNCE_LEN } from "./records.ts";
import { REQ_ANNOUNCE_KEY_TEXT, REQ_ANNOUNCE_KEYED } from "./records.ts";
import { type KeyTable, MAX_KEY_LEN } from "../shared/store/key_table.ts";
import { A_WANT, ANNOUNCE_LEN, ANNOUNCE_PEER_IDS, ANSWER_HEADER, F_COUNT } from "./records.ts";
import { FULL_SCRAPE_HEADER, FULL_SCRAPE_ITEM, FULL_SCRAPE_REQ_LEN, peerLen } from "./records.ts";
import { R_COUNT, REC_FAMILY, REQ_ANNOUNCE, REQ_FULL_SCRAPE, REQ_SCRAPE } from "./records.ts";
import { REQ_SCRAPE_ITEM, RES_ANNOUNCE, RES_FULL_SCRAPE, RES_SCRAPE } from "./records.ts";
import { RES_SCRAPE_ITEM, S_COUNT, S_ID, SCRAPE_ENTRY_LEN, SCRAPE_HEADER } from "./records.ts";
import { PendingScrapes } from "./pending_scrapes.ts";
import { type ClusterRoutes, MAX_REMOTES } from "../shared/store/cluster_routes.ts";

/** Scrapes one socket worker may have waiting for their parts. */
export const PENDING_SLOTS = 1024;

/** What a socket worker does with the request workers' answers. */
export interface Answers {
  /** The announce answer record at `b[p]` (`records.ts`), valid during the call. */
  announced(b: Uint8Array, p: number): void;
  /**
   * The scrape in slot `slot` of `pending` is complete (its entries, token, family and
   * address are there until the call returns).
   */
  scraped(pending: PendingScrapes, slot: number): void;
  /**
   * One request worker's part of a full scrape: `count` torrents at `b[off]`, each a 20-byte
   * info hash and a scrape entry, for the scrape of `token`.
   */
  fullScraped?(token: number, b: Uint8Array, off: number, count: number): void;
}

/**
 * Where a cluster node sends requests for shards other nodes own (`remote.ts`): set by the
 * cluster's side of a socket worker, read per request.
 */
export interface RemoteRoute {
  /** Which node's request worker each info hash goes to (`shared/store/cluster_routes.ts`). */
  routes: ClusterRoutes;
  /** One batch per request worker of the other nodes (by `routes`' remote index). */
  writers: BatchWriter[];
  /** A private tracker's keys (keyed announces to other nodes carry the key's text). */
  keys: KeyTable | null;
  /**
   * Makes room in writer `k` for a request whose answer may take up to `answer` bytes: a batch
   * whose request or answer would outgrow one NATS message leaves first.
   */
  roomFor(k: number, answer: number): void;
}

/** One socket worker's batches to and from the request workers. */
export class Forwarder {
  /** One outgoing batch per request worker; flushed after each turn. */
  readonly writers: BatchWriter[];
  /** Scrapes waiting for request workers. */
  readonly pending: PendingScrapes;
  /** A cluster's routes to other nodes; null: every request stays on this node. */
  route: RemoteRoute | null = null;
  #sharder: Sharder;
  #n: number;
  #shardOf: Uint16Array;
  #perShard: Uint16Array;
  #key = -1;
  #uploaded = 0;
  #downloaded = 0;
  #f64 = new Float64Array(2);
  #f64b = new Uint8Array(this.#f64.buffer);

  /**
   * Batches for `requestWorkers` request workers, routed by `shardKey`; scrapes of up to
   * `maxScrapeTorrents` hashes, which pending scrapes keep when `keepHashes`.
   */
  constructor(
    shardKey: Uint32Array,
    requestWorkers: number,
    maxScrapeTorrents: number,
    keepHashes = false,
  ) {
    this.#sharder = new Sharder(shardKey, requestWorkers);
    this.#n = requestWorkers;
    this.writers = Array.from({ length: requestWorkers }, () => new BatchWriter());
    this.pending = new PendingScrapes(PENDING_SLOTS, maxScrapeTorrents, keepHashes);
    this.#shardOf = new Uint16Array(maxScrapeTorrents);
    this.#perShard = new Uint16Array(requestWorkers + MAX_REMOTES);
  }

  /**
   * Where the info hash at `b[h]` goes: a request worker here (`0 … n-1`) or one of another
   * node (`n + writer index`). In a cluster, one keyed hash names both the shard and, modulo
   * its owner's request workers, the worker there (this process shards by the same key).
   */
  #destination(b: Uint8Array, h: number): number {
    const r = this.route;
    return r === null ? this.#sharder.of(b, h) : r.routes.destination(b, h, this.#n);
  }

  #writer(d: number): BatchWriter {
    return d < this.#n ? this.writers[d] : this.route!.writers[d - this.#n];
  }

  /**
   * Makes the next `announce` a private tracker's: of key index `key`, with the client's
   * `uploaded` and `downloaded` totals (`records.ts`, `REQ_ANNOUNCE_KEYED`).
   */
  keyed(key: number, uploaded: number, downloaded: number): void {
    this.#key = key;
    this.#uploaded = uploaded;
    this.#downloaded = downloaded;
  }

  /**
   * Forwards an announce to the request worker of its info hash (at `infoHash[h]`): from the
   * client at `addrs[a]` (`family`), the peer id at `peerId[pid]`, listening on `port`, with
   * `event` (`AnnounceEvent`), `flags` (`ANNOUNCE_*`), `want` peers and the front's `token`.
   */
  announce(
    family: 4 | 6,
    addrs: Uint8Array,
    a: number,
    infoHash: Uint8Array,
    h: number,
    peerId: Uint8Array,
    pid: number,
    port: number,
    event: number,
    flags: number,
    want: number,
    token: number,
  ): void {
    const d = this.#destination(infoHash, h);
    if (d >= this.#n) {
      const ids = flags & ANNOUNCE_PEER_IDS ? 20 : 0;
      this.route!.roomFor(d - this.#n, ANSWER_HEADER + want * (peerLen(family) + ids));
    }
    const w = this.#writer(d);
    const key = this.#key;
    const at = w.reserve(key < 0 ? ANNOUNCE_LEN : KEYED_ANNOUNCE_LEN + 1 + MAX_KEY_LEN);
    const buf = w.buf;
    buf[at] = key < 0 ? REQ_ANNOUNCE : REQ_ANNOUNCE_KEYED;
    buf[at + REC_FAMILY] = family;
    buf[at + A_FLAGS] = flags;
    buf[at + A_EVENT] = event;
    for (let j = 0; j < ADDR_LEN; j++) buf[at + A_ADDR + j] = addrs[a + j];
    setU32LE(buf, at + A_TOKEN, token);
    buf[at + A_PORT] = port >> 8;
    buf[at + A_PORT + 1] = port;
    setU16LE(buf, at + A_WANT, want);
    for (let j = 0; j < 20; j++) buf[at + A_INFO_HASH + j] = infoHash[h + j];
    for (let j = 0; j < 20; j++) buf[at + A_PEER_ID + j] = peerId[pid + j];
    if (key < 0) return w.commit(at + ANNOUNCE_LEN);
    setU32LE(buf, at + K_KEY, key);
    this.#f64[0] = this.#uploaded;
    this.#f64[1] = this.#downloaded;
    buf.set(this.#f64b, at + K_UPLOADED);
    this.#key = -1;
    if (d < this.#n) return w.commit(at + KEYED_ANNOUNCE_LEN);
    // To another node: key indices are this process's own, so the key itself goes along.
    const keys = this.route?.keys ?? null;
    const n = keys === null ? 0 : keys.copyKey(key, buf, at + KEYED_ANNOUNCE_LEN + 1);
    buf[at] = REQ_ANNOUNCE_KEY_TEXT;
    buf[at + KEYED_ANNOUNCE_LEN] = n;
    w.commit(at + KEYED_ANNOUNCE_LEN + 1 + n);
  }

  /**
   * Forwards a scrape of the `count` info hashes at `data[hashes]` (20 bytes each) from the
   * client at `addrs[a]`, split by request worker; once complete it is answered under `token`.
   * False when the pending table is full (the scrape is dropped).
   */
  scrape(
    data: Uint8Array,
    hashes: number,
    count: number,
    family: 4 | 6,
    addrs: Uint8Array,
    a: number,
    token: number,
    now: number,
  ): boolean {
    const dests = this.#n + (this.route?.writers.length ?? 0);
    // A cluster's other nodes may run more request workers in all than were foreseen.
    if (this.#perShard.length < dests) this.#perShard = new Uint16Array(dests);
    const shardOf = this.#shardOf, perShard = this.#perShard;
    perShard.fill(0, 0, dests);
    let parts = 0;
    for (let k = 0; k < count; k++) {
      const s = this.#destination(data, hashes + 20 * k);
      shardOf[k] = s;
      if (perShard[s]++ === 0) parts++;
    }
    const id = this.pending.open(family, addrs, a, token, count, parts, now, data, hashes);
    if (id < 0) return false;
    for (let s = 0; s < dests; s++) {
      const n = perShard[s];
      if (n === 0) continue;
      if (s >= this.#n) this.route!.roomFor(s - this.#n, SCRAPE_HEADER + RES_SCRAPE_ITEM * n);
      const w = this.#writer(s);
      let at = w.reserve(SCRAPE_HEADER + REQ_SCRAPE_ITEM * n);
      const buf = w.buf;
      buf[at] = REQ_SCRAPE;
      buf[at + REC_FAMILY] = family;
      setU16LE(buf, at + S_COUNT, n);
      setU32LE(buf, at + S_ID, id);
      at += SCRAPE_HEADER;
      for (let k = 0; k < count; k++) {
        if (shardOf[k] !== s) continue;
        setU16LE(buf, at, k);
        const h = hashes + 20 * k;
        for (let j = 0; j < 20; j++) buf[at + 2 + j] = data[h + j];
        at += REQ_SCRAPE_ITEM;
      }
      w.commit(at);
    }
    return true;
  }

  /** Asks every request worker for all its torrents (a full scrape), under `token`. */
  fullScrape(token: number): void {
    for (const w of this.writers) {
      const at = w.reserve(FULL_SCRAPE_REQ_LEN);
      w.buf.fill(0, at, at + FULL_SCRAPE_REQ_LEN);
      w.buf[at] = REQ_FULL_SCRAPE;
      setU32LE(w.buf, at + S_ID, token);
      w.commit(at + FULL_SCRAPE_REQ_LEN);
    }
  }

  /** Reads one batch from a request worker and hands each answer to `to`. */
  responses(b: Uint8Array, to: Answers): void {
    let p = 0;
    const pending = this.pending;
    while (p < b.length) {
      const type = b[p];
      if (type === RES_ANNOUNCE) {
        const family = b[p + REC_FAMILY] === 6 ? 6 : 4;
        const entry = peerLen(family) + (b[p + A_FLAGS] & ANNOUNCE_PEER_IDS ? 20 : 0);
        to.announced(b, p);
        p += ANSWER_HEADER + entry * getU16LE(b, p + R_COUNT);
      } else if (type === RES_SCRAPE) {
        const n = getU16LE(b, p + S_COUNT);
        const s = pending.slotOf(getU32LE(b, p + S_ID));
        p += SCRAPE_HEADER;
        if (s < 0) {
          p += RES_SCRAPE_ITEM * n;
          continue;
        }
        const out = pending.entries;
        for (let k = 0; k < n; k++, p += RES_SCRAPE_ITEM) {
          const o = pending.entryOffset(s, getU16LE(b, p));
          for (let j = 0; j < SCRAPE_ENTRY_LEN; j++) out[o + j] = b[p + 2 + j];
        }
        if (pending.partDone(s)) {
          to.scraped(pending, s);
          pending.release(s);
        }
      } else if (type === RES_FULL_SCRAPE) {
        const n = getU32LE(b, p + F_COUNT);
        to.fullScraped?.(getU32LE(b, p + S_ID), b, p + FULL_SCRAPE_HEADER, n);
        p += FULL_SCRAPE_HEADER + FULL_SCRAPE_ITEM * n;
      } else {
        break; // Unknown record: the batch is corrupt; drop the rest rather than misread it.
      }
    }
  }

  /** Posts every request worker's batch (if any) to its port. */
  flush(ports: Link[]): void {
    for (let j = 0; j < this.#n; j++) this.writers[j].flushTo(ports[j]);
  }
}
