/**
 * The socket worker's per-packet logic, free of sockets and workers so it can be tested alone:
 * checks each datagram, answers connects and errors at once, reads announces and scrapes into
 * the core's records (`core/forward.ts`), one batch per request worker, and writes the request
 * workers' answers back as BEP 15 datagrams.
 *
 * @module
 */

import {
  Action,
  announceProblem,
  classify,
  isSeeder,
  Kind,
  OFF_EVENT,
  OFF_INFO_HASH,
  OFF_NUMWANT,
  OFF_PEER_ID,
  OFF_PORT,
  peersWanted,
  Problem,
  PROBLEM_TEXT,
  readI32,
  REFUSAL_BYTES,
  SCRAPE_HEADER_LEN,
  scrapeHashCount,
  writeAnnounceHeader,
  writeConnectResponse,
  writeErrorResponse,
  writeScrapeHeader,
} from "./codec.ts";
import { ConnectionIds } from "./connection_id.ts";
import { wallSeconds } from "../shared/base/clock.ts";
import { ADDR_LEN, type DatagramSocket, type PacketBatch } from "./datagram.ts";
import { Stat, STAT_COUNT } from "./stats.ts";
import { type Answers, Forwarder } from "../core/forward.ts";
import type { PendingScrapes } from "../core/pending_scrapes.ts";
import { A_ADDR, A_TOKEN, ANNOUNCE_SEEDER, ANSWER_HEADER, peerLen } from "../core/records.ts";
import { R_COUNT, R_INTERVAL, R_LEECHERS, R_REFUSAL, R_SEEDERS } from "../core/records.ts";
import { REC_FAMILY, SCRAPE_ENTRY_LEN } from "../core/records.ts";
import { getU16LE, getU32LE } from "../shared/base/bytes.ts";
import { UDP_GATE_BYTES, UDP_SCRAPE_REFUSED, UdpPrivate } from "./private.ts";

/** Something that sends datagrams: a `DatagramSocket`, or a test double recording them. */
export type Sender = Pick<DatagramSocket, "send" | "sendParts">;

/** Settings the router needs. */
export interface RouterSettings {
  /** Number of request workers. */
  requestWorkers: number;
  /** Most hashes answered per scrape. */
  maxScrapeTorrents: number;
  /** Seconds a connection ID stays valid. */
  maxConnectionAge: number;
  /**
   * Most peers in one announce response to an IPv4 and to an IPv6 peer (`[4]`, `[6]`), also
   * sent when the client wants more or `numwant <= 0`.
   */
  responsePeers: { 4: number; 6: number };
  /** Four random words shared by all socket workers: the connection ID key. */
  connectionKey: Uint32Array;
  /**
   * A cluster's connection IDs (null: this process's own, on its monotonic clock): the
   * previous secret's key, if any, and the skew between nodes' wall clocks to allow.
   */
  cluster: { previousKey: Uint32Array | null; skew: number } | null;
  /** Two random words shared by all socket workers: which request worker owns a hash. */
  shardKey: Uint32Array;
}

/** Per-packet logic of one socket worker. */
export class Router implements Answers {
  /** The batches to and from the request workers; flushed after each receive batch. */
  readonly forward: Forwarder;
  /** Cumulative counters (see `Stat`), IPv4 then IPv6. */
  readonly counters = new Float64Array(2 * STAT_COUNT);
  #ids: ConnectionIds;
  /** Connection IDs on the wall clock (a cluster's, valid on every node). */
  #wallIds: boolean;
  #maxScrape: number;
  #responsePeers: { 4: number; 6: number };
  #out = new Uint8Array(256);
  #socks: (Sender | null)[] = [null, null];
  /** A private tracker's checks (null: an open tracker). */
  private: UdpPrivate | null = null;

  /** Creates a router. */
  constructor(s: RouterSettings) {
    this.#ids = new ConnectionIds(
      s.connectionKey,
      s.maxConnectionAge,
      s.cluster?.skew,
      s.cluster?.previousKey ?? null,
    );
    this.#wallIds = s.cluster !== null;
    this.#maxScrape = s.maxScrapeTorrents;
    this.#responsePeers = s.responsePeers;
    this.forward = new Forwarder(s.shardKey, s.requestWorkers, s.maxScrapeTorrents);
  }

  /**
   * Handles one receive batch from a socket of `family`; connects and errors are answered
   * through `sock` right away, the rest is appended to the batches of `forward` (its `writers`).
   */
  handleBatch(batch: PacketBatch, family: 4 | 6, sock: Sender, now: number): void {
    const c = this.counters, base = family === 4 ? 0 : STAT_COUNT;
    const data = batch.data, addrs = batch.addrs;
    const idNow = this.#wallIds ? wallSeconds() : now;
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
        this.#ids.write(out, 8, addrs, a, idNow);
        this.#send(sock, family, Action.Connect, 16, EMPTY, 0, 0, addrs, a);
        continue;
      }
      // Nothing else is answered without a valid connection ID: no amplification.
      if (!this.#ids.check(data, off, addrs, a, idNow)) {
        c[base + Stat.BadConnectionId]++;
        continue;
      }
      switch (kind) {
        case Kind.Announce: {
          c[base + Stat.Announce]++;
          const problem = announceProblem(data, off);
          if (problem !== 0) this.#error(sock, family, tid, problem, addrs, a);
          else if (this.private !== null) {
            const why = this.private.announce(data, off, len, addrs, a, now);
            if (why !== 0) this.#refuse(sock, family, tid, UDP_GATE_BYTES[why], addrs, a);
            else {
              const pv = this.private;
              this.forward.keyed(pv.gate.key, pv.uploaded, pv.downloaded);
              this.#announce(data, off, family, addrs, a, tid);
            }
          } else this.#announce(data, off, family, addrs, a, tid);
          break;
        }
        case Kind.Scrape:
          c[base + Stat.Scrape]++;
          if (this.private !== null && !this.private.scrape(addrs, a, now)) {
            this.#refuse(sock, family, tid, UDP_SCRAPE_REFUSED, addrs, a);
          } else this.#scrape(data, off, len, family, addrs, a, tid, now);
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

  /** Reads the checked announce at `data[off]` into the core's record. */
  #announce(
    data: Uint8Array,
    off: number,
    family: 4 | 6,
    addrs: Uint8Array,
    a: number,
    tid: number,
  ): void {
    const want = peersWanted(readI32(data, off + OFF_NUMWANT), this.#responsePeers[family]);
    this.forward.announce(
      family,
      addrs,
      a,
      data,
      off + OFF_INFO_HASH,
      data,
      off + OFF_PEER_ID,
      (data[off + OFF_PORT] << 8) | data[off + OFF_PORT + 1],
      readI32(data, off + OFF_EVENT),
      isSeeder(data, off) ? ANNOUNCE_SEEDER : 0,
      want,
      tid,
    );
  }

  #error(
    sock: Sender,
    family: 4 | 6,
    tid: number,
    problem: number,
    addrs: Uint8Array,
    a: number,
  ): void {
    this.#refuse(sock, family, tid, PROBLEM_TEXT[problem], addrs, a);
  }

  #refuse(
    sock: Sender,
    family: 4 | 6,
    tid: number,
    text: Uint8Array,
    addrs: Uint8Array,
    a: number,
  ): void {
    const len = writeErrorResponse(this.#out, 0, tid, text);
    this.#send(sock, family, Action.Error, len, EMPTY, 0, 0, addrs, a);
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
   * Handles one batch from a request worker: answers announces and completed scrapes through
   * the socket of their family (`socks[0]` IPv4, `socks[1]` IPv6).
   */
  handleResponses(b: Uint8Array, socks: (Sender | null)[]): void {
    this.#socks = socks;
    this.forward.responses(b, this);
  }

  /** An announce answer (`core/records.ts`) at `b[p]`: its datagram. */
  announced(b: Uint8Array, p: number): void {
    const family = b[p + REC_FAMILY] === 6 ? 6 : 4;
    const sock = this.#socks[family === 4 ? 0 : 1];
    if (sock === null) return;
    const tid = getU32LE(b, p + A_TOKEN), refusal = b[p + R_REFUSAL];
    if (refusal !== 0) {
      const len = writeErrorResponse(this.#out, 0, tid, REFUSAL_BYTES[refusal]);
      return this.#send(sock, family, Action.Error, len, EMPTY, 0, 0, b, p + A_ADDR);
    }
    const head = writeAnnounceHeader(
      this.#out,
      0,
      tid,
      getU32LE(b, p + R_INTERVAL),
      getU32LE(b, p + R_LEECHERS),
      getU32LE(b, p + R_SEEDERS),
    );
    const peers = peerLen(family) * getU16LE(b, p + R_COUNT);
    this.#send(
      sock,
      family,
      Action.Announce,
      head,
      b,
      p + ANSWER_HEADER,
      peers,
      b,
      p + A_ADDR,
    );
  }

  /** A scrape whose parts all came back: its datagram, the entries as BEP 15 has them. */
  scraped(pending: PendingScrapes, s: number): void {
    const family = pending.family(s);
    const sock = this.#socks[family === 4 ? 0 : 1];
    if (sock === null) return;
    const head = writeScrapeHeader(this.#out, 0, pending.token(s));
    const len = SCRAPE_ENTRY_LEN * pending.count(s);
    const at = pending.entryOffset(s, 0);
    this.#send(
      sock,
      family,
      Action.Scrape,
      head,
      pending.entries,
      at,
      len,
      pending.addrs,
      s * ADDR_LEN,
    );
  }

  /** Sends `head` bytes of `#out` and `len` of `body` from `off`, counted as `action`. */
  #send(
    sock: Sender,
    family: 4 | 6,
    action: number,
    head: number,
    body: Uint8Array,
    off: number,
    len: number,
    addrs: Uint8Array,
    a: number,
  ): void {
    const c = this.counters, base = family === 4 ? 0 : STAT_COUNT;
    c[base + Stat.SentConnect + action]++;
    c[base + Stat.SentBytes] += head + len;
    sock.sendParts(this.#out, head, body, off, len, addrs, a);
  }
}

const EMPTY = new Uint8Array(0);
