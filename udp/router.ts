/**
 * The socket worker's per-packet logic, free of sockets and workers so it can be tested alone:
 * checks each datagram, answers connects and errors at once, batches announces and scrape
 * parts per request worker, and turns request workers' batches back into datagrams.
 *
 * @module
 */

import { BatchWriter } from "../shared/runtime/channel.ts";
import { HalfSipHash13 } from "../shared/base/hash.ts";
import { getU16LE, getU32LE, setU16LE, setU32LE } from "../shared/base/bytes.ts";
import {
  ANNOUNCE_LEN,
  announceProblem,
  classify,
  Kind,
  OFF_INFO_HASH,
  Problem,
  PROBLEM_TEXT,
  readI32,
  SCRAPE_ENTRY_LEN,
  SCRAPE_HEADER_LEN,
  scrapeHashCount,
  writeConnectResponse,
  writeErrorResponse,
} from "./codec.ts";
import { ConnectionIds } from "./connection_id.ts";
import { ADDR_LEN, type PacketBatch } from "./io.ts";
import {
  REC_ADDR,
  REC_BODY,
  REQ_ANNOUNCE,
  REQ_ANNOUNCE_LEN,
  REQ_SCRAPE,
  REQ_SCRAPE_ITEM,
  RES_SCRAPE,
  RES_SCRAPE_ITEM,
  RES_SEND,
  SCRAPE_REC_HEADER,
} from "./messages.ts";
import { PendingScrapes } from "./pending_scrapes.ts";
import { Stat, STAT_COUNT } from "./stats.ts";

/** Something that sends datagrams: a `DatagramSocket`, or a test double recording them. */
export interface Sender {
  /** Queues `len` bytes of `payload` from `off` to the 18-byte address at `addrs[addrOff]`. */
  send(payload: Uint8Array, off: number, len: number, addrs: Uint8Array, addrOff: number): void;
}

/** Settings the router needs. */
export interface RouterSettings {
  /** Number of request workers. */
  requestWorkers: number;
  /** Most hashes answered per scrape. */
  maxScrapeTorrents: number;
  /** Seconds a connection ID stays valid. */
  maxConnectionAge: number;
  /** Four random words shared by all socket workers: the connection ID key. */
  connectionKey: Uint32Array;
  /** Two random words shared by all socket workers: which request worker owns a hash. */
  shardKey: Uint32Array;
}

const PENDING_SLOTS = 1024;

/** Per-packet logic of one socket worker. */
export class Router {
  /** One outgoing batch per request worker; the worker flushes them after each receive batch. */
  readonly writers: BatchWriter[];
  /** Cumulative counters (see `Stat`), IPv4 then IPv6. */
  readonly counters = new Float64Array(2 * STAT_COUNT);
  /** Scrapes waiting for request workers. */
  readonly pending: PendingScrapes;
  #ids: ConnectionIds;
  #shard: HalfSipHash13;
  #nShards: number;
  #maxScrape: number;
  #out = new Uint8Array(256);
  #shardOf: Uint16Array;
  #perShard: Uint16Array;

  /** Creates a router. */
  constructor(s: RouterSettings) {
    this.#ids = new ConnectionIds(s.connectionKey, s.maxConnectionAge);
    this.#shard = new HalfSipHash13(s.shardKey[0], s.shardKey[1]);
    this.#nShards = s.requestWorkers;
    this.#maxScrape = s.maxScrapeTorrents;
    this.writers = Array.from({ length: s.requestWorkers }, () => new BatchWriter());
    this.pending = new PendingScrapes(PENDING_SLOTS, s.maxScrapeTorrents);
    this.#shardOf = new Uint16Array(s.maxScrapeTorrents);
    this.#perShard = new Uint16Array(s.requestWorkers);
  }

  /** The request worker that owns the info hash at `b[off]`. */
  shardOf(b: Uint8Array, off: number): number {
    return this.#shard.hash(b, off, 20) % this.#nShards;
  }

  /**
   * Handles one receive batch from a socket of `family`; connects and errors are answered
   * through `sock` right away, the rest is appended to `writers`.
   */
  handleBatch(batch: PacketBatch, family: 4 | 6, sock: Sender, now: number): void {
    const c = this.counters, base = family === 4 ? 0 : STAT_COUNT;
    const data = batch.data, addrs = batch.addrs;
    for (let i = 0; i < batch.count; i++) {
      const off = batch.offsets[i], len = batch.lengths[i], a = i * ADDR_LEN;
      c[base + Stat.Received]++;
      c[base + Stat.ReceivedBytes] += len;
      const kind = classify(data, off, len);
      if (kind === Kind.Ignore) {
        c[base + Stat.Invalid]++;
        continue;
      }
      const tid = readI32(data, off + 12);
      if (kind === Kind.Connect) {
        c[base + Stat.Connect]++;
        const out = this.#out;
        writeConnectResponse(out, 0, tid, 0, 0);
        this.#ids.write(out, 8, addrs, a, now);
        this.#send(sock, family, out, 0, 16, addrs, a);
        continue;
      }
      // Nothing else is answered without a valid connection ID: no amplification.
      if (!this.#ids.check(data, off, addrs, a, now)) {
        c[base + Stat.BadConnectionId]++;
        continue;
      }
      switch (kind) {
        case Kind.Announce: {
          c[base + Stat.Announce]++;
          const problem = announceProblem(data, off);
          if (problem !== 0) this.#error(sock, family, tid, problem, addrs, a);
          else this.#forwardAnnounce(data, off, family, addrs, a);
          break;
        }
        case Kind.Scrape:
          c[base + Stat.Scrape]++;
          this.#forwardScrape(data, off, len, family, addrs, a, tid, now);
          break;
        case Kind.BadAnnounce:
          this.#error(sock, family, tid, Problem.BadAnnounce, addrs, a);
          break;
        case Kind.EmptyScrape:
          this.#error(sock, family, tid, Problem.EmptyScrape, addrs, a);
          break;
        default:
          this.#error(sock, family, tid, Problem.BadAction, addrs, a);
      }
    }
  }

  #send(
    sock: Sender,
    family: 4 | 6,
    b: Uint8Array,
    off: number,
    len: number,
    addrs: Uint8Array,
    a: number,
  ): void {
    const c = this.counters, base = family === 4 ? 0 : STAT_COUNT;
    const action = readI32(b, off);
    c[base + Stat.SentConnect + (action >= 0 && action <= 3 ? action : 3)]++;
    c[base + Stat.SentBytes] += len;
    sock.send(b, off, len, addrs, a);
  }

  #error(
    sock: Sender,
    family: 4 | 6,
    tid: number,
    problem: number,
    addrs: Uint8Array,
    a: number,
  ): void {
    const len = writeErrorResponse(this.#out, 0, tid, PROBLEM_TEXT[problem]);
    this.#send(sock, family, this.#out, 0, len, addrs, a);
  }

  #forwardAnnounce(data: Uint8Array, off: number, family: number, addrs: Uint8Array, a: number) {
    const w = this.writers[this.shardOf(data, off + OFF_INFO_HASH)];
    const at = w.reserve(REQ_ANNOUNCE_LEN);
    const buf = w.buf;
    buf[at] = REQ_ANNOUNCE;
    buf[at + 1] = family;
    for (let j = 0; j < ADDR_LEN; j++) buf[at + REC_ADDR + j] = addrs[a + j];
    for (let j = 0; j < ANNOUNCE_LEN; j++) buf[at + REC_BODY + j] = data[off + j];
    w.commit(at + REQ_ANNOUNCE_LEN);
  }

  #forwardScrape(
    data: Uint8Array,
    off: number,
    len: number,
    family: 4 | 6,
    addrs: Uint8Array,
    a: number,
    tid: number,
    now: number,
  ): void {
    const count = Math.min(scrapeHashCount(len), this.#maxScrape);
    const shardOf = this.#shardOf, perShard = this.#perShard;
    perShard.fill(0);
    let parts = 0;
    for (let k = 0; k < count; k++) {
      const s = this.shardOf(data, off + SCRAPE_HEADER_LEN + 20 * k);
      shardOf[k] = s;
      if (perShard[s]++ === 0) parts++;
    }
    const id = this.pending.open(family, addrs, a, tid, count, parts, now);
    if (id < 0) {
      this.counters[(family === 4 ? 0 : STAT_COUNT) + Stat.Dropped]++;
      return;
    }
    for (let s = 0; s < this.#nShards; s++) {
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
        const h = off + SCRAPE_HEADER_LEN + 20 * k;
        for (let j = 0; j < 20; j++) buf[at + 2 + j] = data[h + j];
        at += REQ_SCRAPE_ITEM;
      }
      w.commit(at);
    }
  }

  /**
   * Handles one batch from a request worker: sends finished datagrams through the socket of
   * their family (`socks[0]` IPv4, `socks[1]` IPv6) and completes pending scrapes.
   */
  handleResponses(b: Uint8Array, socks: (Sender | null)[]): void {
    let p = 0;
    const pending = this.pending;
    while (p < b.length) {
      const type = b[p], family = b[p + 1] === 6 ? 6 : 4;
      const sock = socks[family === 4 ? 0 : 1];
      if (type === RES_SEND) {
        const len = getU16LE(b, p + 2);
        if (sock !== null) this.#send(sock, family, b, p + REC_BODY, len, b, p + REC_ADDR);
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
          const to = socks[fam === 4 ? 0 : 1];
          if (to !== null) {
            this.#send(
              to,
              fam,
              out,
              s * pending.slotBytes,
              pending.responseLength(s),
              pending.addrs,
              s * ADDR_LEN,
            );
          }
          pending.release(s);
        }
      } else {
        break; // Unknown record: the batch is corrupt; drop the rest rather than misread it.
      }
    }
  }
}
