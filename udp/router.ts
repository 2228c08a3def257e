/**
 * The socket worker's per-packet logic, free of sockets and workers so it can be tested alone:
 * checks each datagram, answers connects and errors at once, batches announces and scrape
 * parts per request worker, and turns request workers' batches back into datagrams.
 *
 * @module
 */

import {
  announceProblem,
  classify,
  Kind,
  Problem,
  PROBLEM_TEXT,
  readI32,
  SCRAPE_HEADER_LEN,
  scrapeHashCount,
  writeConnectResponse,
  writeErrorResponse,
} from "./codec.ts";
import { ConnectionIds } from "./connection_id.ts";
import { ADDR_LEN, type PacketBatch } from "./datagram.ts";
import { Forwarder } from "./forward.ts";
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

/** Per-packet logic of one socket worker. */
export class Router {
  /** The batches to and from the request workers; flushed after each receive batch. */
  readonly forward: Forwarder;
  /** Cumulative counters (see `Stat`), IPv4 then IPv6. */
  readonly counters = new Float64Array(2 * STAT_COUNT);
  #ids: ConnectionIds;
  #maxScrape: number;
  #out = new Uint8Array(256);
  #socks: (Sender | null)[] = [null, null];

  /** Creates a router. */
  constructor(s: RouterSettings) {
    this.#ids = new ConnectionIds(s.connectionKey, s.maxConnectionAge);
    this.#maxScrape = s.maxScrapeTorrents;
    this.forward = new Forwarder(s.shardKey, s.requestWorkers, s.maxScrapeTorrents);
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
          else this.forward.announce(data, off, family, addrs, a);
          break;
        }
        case Kind.Scrape:
          c[base + Stat.Scrape]++;
          this.#scrape(data, off, len, family, addrs, a, tid, now);
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

  #scrape(
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
    if (!this.forward.scrape(data, off + SCRAPE_HEADER_LEN, count, family, addrs, a, tid, now)) {
      this.counters[(family === 4 ? 0 : STAT_COUNT) + Stat.Dropped]++;
    }
  }

  /**
   * Handles one batch from a request worker: sends finished datagrams through the socket of
   * their family (`socks[0]` IPv4, `socks[1]` IPv6) and completes pending scrapes.
   */
  handleResponses(b: Uint8Array, socks: (Sender | null)[]): void {
    this.#socks = socks;
    this.forward.responses(b, this.#deliver);
  }

  #deliver = (
    family: 4 | 6,
    b: Uint8Array,
    off: number,
    len: number,
    addrs: Uint8Array,
    a: number,
  ): void => {
    const sock = this.#socks[family === 4 ? 0 : 1];
    if (sock !== null) this.#send(sock, family, b, off, len, addrs, a);
  };
}
