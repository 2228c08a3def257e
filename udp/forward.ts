/**
 * A socket worker's side of the UDP swarms' channels, whatever protocol the requests came in
 * on (UDP datagrams, HTTP requests): announces and scrape parts go into one batch per request
 * worker in the layouts of `messages.ts`, and the request workers' batches come back as
 * finished BEP 15 responses, a scrape's parts merged first (`pending_scrapes.ts`).
 *
 * @module
 */

import { BatchWriter } from "../shared/runtime/channel.ts";
import type { Link } from "../shared/runtime/link.ts";
import { Sharder } from "../shared/store/shard.ts";
import { getU16LE, getU32LE, setU16LE, setU32LE } from "../shared/base/bytes.ts";
import { ANNOUNCE_LEN, OFF_INFO_HASH, SCRAPE_ENTRY_LEN } from "./codec.ts";
import { ADDR_LEN } from "./datagram.ts";
import {
  FULL_SCRAPE_HEADER,
  FULL_SCRAPE_REQ_LEN,
  REC_ADDR,
  REC_BODY,
  REC_FLAGS,
  REQ_ANNOUNCE,
  REQ_ANNOUNCE_LEN,
  REQ_FULL_SCRAPE,
  REQ_SCRAPE,
  REQ_SCRAPE_ITEM,
  RES_FULL_SCRAPE,
  RES_SCRAPE,
  RES_SCRAPE_ITEM,
  RES_SEND,
  SCRAPE_REC_HEADER,
} from "./messages.ts";
import { PendingScrapes } from "./pending_scrapes.ts";

/** Scrapes one socket worker may have waiting for their parts. */
const PENDING_SLOTS = 1024;

/**
 * Receives a finished response: `len` bytes at `b[off]` for the client of `family` whose
 * 18-byte address is at `addrs[a]`; for a scrape, `slot` is its slot in `pending` (whose hashes
 * it may read until the call returns), else -1.
 */
export type Deliver = (
  family: 4 | 6,
  b: Uint8Array,
  off: number,
  len: number,
  addrs: Uint8Array,
  a: number,
  slot: number,
) => void;

/**
 * Receives one request worker's part of a full scrape: `count` torrents at `b[off]`, each a
 * 20-byte info hash and a 12-byte scrape entry, for the scrape of `token`.
 */
export type DeliverFull = (token: number, b: Uint8Array, off: number, count: number) => void;

/** One socket worker's batches to and from the request workers. */
export class Forwarder {
  /** One outgoing batch per request worker; flushed after each turn. */
  readonly writers: BatchWriter[];
  /** Scrapes waiting for request workers. */
  readonly pending: PendingScrapes;
  #sharder: Sharder;
  #n: number;
  #shardOf: Uint16Array;
  #perShard: Uint16Array;

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
    this.#perShard = new Uint16Array(requestWorkers);
  }

  /**
   * Forwards the announce packet at `data[off]` (its first 98 bytes, BEP 15 layout) from the
   * client at `addrs[a]`, with `flags` (`messages.ts` `ANNOUNCE_*`), to its request worker.
   */
  announce(
    data: Uint8Array,
    off: number,
    family: number,
    addrs: Uint8Array,
    a: number,
    flags = 0,
  ): void {
    const w = this.writers[this.#sharder.of(data, off + OFF_INFO_HASH)];
    const at = w.reserve(REQ_ANNOUNCE_LEN);
    const buf = w.buf;
    buf[at] = REQ_ANNOUNCE;
    buf[at + 1] = family;
    buf[at + REC_FLAGS] = flags;
    buf[at + REC_FLAGS + 1] = 0;
    for (let j = 0; j < ADDR_LEN; j++) buf[at + REC_ADDR + j] = addrs[a + j];
    for (let j = 0; j < ANNOUNCE_LEN; j++) buf[at + REC_BODY + j] = data[off + j];
    w.commit(at + REQ_ANNOUNCE_LEN);
  }

  /**
   * Forwards a scrape of the `count` info hashes at `data[hashes]` (20 bytes each) from the
   * client at `addrs[a]`, split by request worker; the response, once complete, carries `tid`.
   * False when the pending table is full (the scrape is dropped).
   */
  scrape(
    data: Uint8Array,
    hashes: number,
    count: number,
    family: 4 | 6,
    addrs: Uint8Array,
    a: number,
    tid: number,
    now: number,
  ): boolean {
    const shardOf = this.#shardOf, perShard = this.#perShard;
    perShard.fill(0);
    let parts = 0;
    for (let k = 0; k < count; k++) {
      const s = this.#sharder.of(data, hashes + 20 * k);
      shardOf[k] = s;
      if (perShard[s]++ === 0) parts++;
    }
    const id = this.pending.open(family, addrs, a, tid, count, parts, now, data, hashes);
    if (id < 0) return false;
    for (let s = 0; s < this.#n; s++) {
      const n = perShard[s];
      if (n === 0) continue;
      const w = this.writers[s];
      let at = w.reserve(SCRAPE_REC_HEADER + REQ_SCRAPE_ITEM * n);
      const buf = w.buf;
      buf[at] = REQ_SCRAPE;
      buf[at + 1] = family;
      setU16LE(buf, at + 2, n);
      setU32LE(buf, at + 4, id);
      at += SCRAPE_REC_HEADER;
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
      setU32LE(w.buf, at + 4, token);
      w.commit(at + FULL_SCRAPE_REQ_LEN);
    }
  }

  /**
   * Reads one batch from a request worker: each finished response (announce answers, errors,
   * and scrapes whose last part arrived) goes to `deliver`, parts of full scrapes to `full`.
   */
  responses(b: Uint8Array, deliver: Deliver, full?: DeliverFull): void {
    let p = 0;
    const pending = this.pending;
    while (p < b.length) {
      const type = b[p], family = b[p + 1] === 6 ? 6 : 4;
      if (type === RES_SEND) {
        const len = getU16LE(b, p + 2);
        deliver(family, b, p + REC_BODY, len, b, p + REC_ADDR, -1);
        p += REC_BODY + len;
      } else if (type === RES_SCRAPE) {
        const n = getU16LE(b, p + 2);
        const s = pending.slotOf(getU32LE(b, p + 4));
        p += SCRAPE_REC_HEADER;
        if (s < 0) {
          p += RES_SCRAPE_ITEM * n;
          continue;
        }
        const out = pending.responses;
        for (let k = 0; k < n; k++, p += RES_SCRAPE_ITEM) {
          const o = pending.entryOffset(s, getU16LE(b, p));
          for (let j = 0; j < SCRAPE_ENTRY_LEN; j++) out[o + j] = b[p + 2 + j];
        }
        if (pending.partDone(s)) {
          const fam = pending.family(s) === 6 ? 6 : 4;
          deliver(
            fam,
            out,
            s * pending.slotBytes,
            pending.responseLength(s),
            pending.addrs,
            s * ADDR_LEN,
            s,
          );
          pending.release(s);
        }
      } else if (type === RES_FULL_SCRAPE) {
        const n = getU32LE(b, p + 8);
        full?.(getU32LE(b, p + 4), b, p + FULL_SCRAPE_HEADER, n);
        p += FULL_SCRAPE_HEADER + 32 * n;
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
