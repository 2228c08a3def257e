/**
 * The HTTP tracker's front end in one socket worker, free of sockets so it can be tested
 * alone: it opens an `HttpConnection` (`connection.ts`) per TCP connection within the limits,
 * serves what each connection parses (announce and scrape through the core, `translate.ts`;
 * anything else at once), and hands each answer from the request workers to the connection
 * waiting for it (`tokens.ts`).
 *
 * Bounds: connections in all and per IP, requests waiting per socket worker, and the time a
 * client has to send a request head or may stay idle between requests (`sweep`); what one
 * connection may be owed and may queue is the connection's own.
 *
 * @module
 */

import { Route, Routes } from "./route.ts";
import { GATE_TEXT, type PrivateGate } from "../shared/store/private_gate.ts";
import { ByteBuffer } from "../shared/base/byte_buffer.ts";
import { getU32LE } from "../shared/base/bytes.ts";
import { isV4Mapped } from "../shared/net/address.ts";
import type { Transport } from "../shared/net/tcp.ts";
import { Admission } from "../shared/net/admission.ts";
import { type Answers, Forwarder } from "../core/forward.ts";
import type { PendingScrapes } from "../core/pending_scrapes.ts";
import { A_TOKEN, R_REFUSAL, REFUSAL_TEXT } from "../core/records.ts";
import type { HttpSettings } from "./config.ts";
import { type ConnectionHost, HttpConnection } from "./connection.ts";
import type { HttpCounters } from "./socket_init.ts";
import { parseEndpointText } from "./ip_text.ts";
import {
  AnnounceQuery,
  Event,
  parseAnnounceQuery,
  parseScrapeQuery,
  QUERY_FAILURE_TEXT,
  ScrapeQuery,
} from "./query.ts";
import type { RequestParserOptions } from "./request.ts";
import {
  AnnounceReply,
  Reply,
  writeAnnounceResponse,
  writeErrorResponse,
  writeFailureResponse,
  writeScrapeResponse,
} from "./response.ts";
import { Tokens } from "./tokens.ts";
import { forwardAnnounce, FullScrapes, readAnswer } from "./translate.ts";

export { HttpConnection, MAX_OWED } from "./connection.ts";

/** Limits on connections. */
export interface ConnectionLimits {
  /** Most open connections of this worker. */
  maxConnections: number;
  /** Most open connections from one IP, of this worker. */
  maxConnectionsPerIp: number;
}

/** The HTTP front end of one socket worker. */
export class HttpFront implements ConnectionHost, Answers {
  /** Cumulative counters. */
  readonly counters: HttpCounters = {
    accepted: 0,
    closed: 0,
    timedOut: 0,
    idle: 0,
    slow: 0,
    announces: 0,
    scrapes: 0,
    other: 0,
    responses: 0,
    failures: 0,
    errors: 0,
    bytesIn: 0,
    bytesOut: 0,
    ignoredIps: 0,
  };
  /** Open connections, in all and by IP, against their limits. */
  readonly admission: Admission;
  /** The batches to and from the request workers. */
  readonly forward: Forwarder;
  /** The settings. */
  readonly settings: HttpSettings;
  /** Options every connection's parser shares. */
  readonly parserOptions: RequestParserOptions;
  /** Where responses are built. */
  readonly out = new ByteBuffer(1 << 16);
  /** The current second (monotonic), set by the worker before each turn. */
  now = 0;
  #conns = new Set<HttpConnection>();
  #proxies: Uint8Array[];
  #wakeup: () => void;
  /** Requests waiting for the swarms. */
  #tokens = new Tokens<HttpConnection>();
  #announce = new AnnounceQuery();
  #scrape: ScrapeQuery;
  #addr = new Uint8Array(18);
  #reply = new AnnounceReply();
  #full = new FullScrapes();
  /** A private tracker's keys (null: an open tracker); set with `private`. */
  gate: PrivateGate | null = null;
  #routes = new Routes(false);

  /**
   * A front end with `settings`, sending to request workers through batches keyed by
   * `shardKey`; `wakeup` is called when batches wait to be flushed.
   */
  constructor(
    settings: HttpSettings,
    shardKey: Uint32Array,
    limits: ConnectionLimits,
    proxies: Uint8Array[],
    wakeup: () => void,
  ) {
    this.settings = settings;
    this.admission = new Admission(limits.maxConnections, limits.maxConnectionsPerIp);
    this.#proxies = proxies;
    this.#wakeup = wakeup;
    this.forward = new Forwarder(
      shardKey,
      settings.request_workers,
      settings.max_scrape_torrents,
      true,
    );
    this.#scrape = new ScrapeQuery(settings.max_scrape_torrents);
    this.parserOptions = {
      maxHead: settings.max_request_size,
      maxRequestLine: settings.max_request_size,
      ipHeader: settings.runs_behind_reverse_proxy ? settings.reverse_proxy_ip_header_name : null,
      ipHeaderEntry: "last",
    };
    this.#reply.minInterval = settings.min_announce_interval > 0
      ? settings.min_announce_interval
      : -1;
  }

  /** Makes this a private tracker's front, checking keys against `gate`. */
  private(gate: PrivateGate): void {
    this.gate = gate;
    this.#routes = new Routes(true);
  }

  /** Open connections. */
  get size(): number {
    return this.#conns.size;
  }

  /** True when connections from `addr` may name the client in the proxy header. */
  trustsProxy(addr: Uint8Array): boolean {
    if (!this.settings.runs_behind_reverse_proxy) return false;
    outer: for (const p of this.#proxies) {
      for (let j = 0; j < 16; j++) if (p[j] !== addr[j]) continue outer;
      return true;
    }
    return false;
  }

  /**
   * A connection was accepted over `t` from `ip` (`addr`: its 18-byte record): its engine,
   * or null when a limit refuses it (then it is closed at once).
   */
  open(t: Transport, ip: string, addr: Uint8Array): HttpConnection | null {
    if (!this.admission.admit(ip)) {
      t.end();
      return null;
    }
    const c = new HttpConnection(this, t, ip, addr, this.now);
    this.#conns.add(c);
    this.counters.accepted++;
    return c;
  }

  /** Forgets a connection that ended. */
  forget(c: HttpConnection): void {
    if (!this.#conns.delete(c)) return;
    this.counters.closed++;
    this.admission.release(c.ipKey);
  }

  /** Closes connections past their time: a head not sent whole in time, or idle too long. */
  sweep(now: number): void {
    const s = this.settings;
    for (const c of this.#conns) {
      if (c.headSince >= 0 && now - c.headSince > s.request_timeout) {
        this.counters.timedOut++;
        c.close();
      } else if (c.headSince < 0 && c.inFlight === 0 && now - c.lastActive > s.keep_alive_timeout) {
        this.counters.idle++;
        c.close();
      }
    }
  }

  /** Closes every connection. */
  closeAll(): void {
    for (const c of [...this.#conns]) c.close();
  }

  /** Handles the request the connection's parser just gave, as its `seq`th. */
  request(c: HttpConnection, seq: number, flags: number): void {
    const route = this.#routes.of(c.request);
    if (route === Route.Announce) {
      this.counters.announces++;
      return this.#announceRequest(c, seq, flags);
    }
    if (route === Route.Scrape) {
      this.counters.scrapes++;
      return this.#scrapeRequest(c, seq, flags);
    }
    this.counters.other++;
    this.counters.errors++;
    const w = this.out;
    w.len = 0;
    writeErrorResponse(
      w,
      404,
      "not found: this is a BitTorrent tracker (/announce, /scrape)",
      flags,
    );
    c.respond(seq, w.buf, 0, w.len);
  }

  #fail(c: HttpConnection, seq: number, flags: number, reason: string): void {
    this.counters.failures++;
    const w = this.out;
    w.len = 0;
    writeFailureResponse(w, reason, flags);
    c.respond(seq, w.buf, 0, w.len);
  }

  /** The client's address into `#addr`: the proxy's header, a trusted `ip`, or the socket's. */
  #clientAddr(c: HttpConnection, q: AnnounceQuery | null): string | null {
    const a = this.#addr;
    if (c.proxied) {
      const req = c.request;
      if (req.ipStart < 0) return "the proxy sent no client address";
      const fam = parseEndpointText(req.buf, req.ipStart, req.ipEnd, a, 0);
      if (fam === 0) return "the proxy sent an invalid client address";
    } else {
      a.set(c.addr);
    }
    if (q !== null && this.settings.trust_ip_parameter) {
      this.counters.ignoredIps += q.ignoredIps;
      const v4 = isV4Mapped(a, 0);
      if (q.ipFamily !== 0) a.set(q.ip);
      else if (v4 && q.hasIpv4) a.set(q.ipv4);
      else if (!v4 && q.hasIpv6) a.set(q.ipv6);
    }
    return null;
  }

  /** A token for request `seq` of `c`, or -1 when every token is taken. */
  #token(c: HttpConnection, seq: number, flags: number): number {
    const tid = this.#tokens.take(c, seq, flags, this.now);
    if (tid >= 0) c.inFlight++;
    return tid;
  }

  /** The connection still waiting on `token`, whose token is given back; or undefined. */
  #redeem(token: number): HttpConnection | undefined {
    const c = this.#tokens.conn(token);
    if (c === undefined) return undefined; // expired
    this.#tokens.release(token);
    c.inFlight--;
    return c.done ? undefined : c;
  }

  #announceRequest(c: HttpConnection, seq: number, flags: number): void {
    const req = c.request, q = this.#announce;
    const problem = parseAnnounceQuery(req.buf, req.queryStart, req.queryEnd, q);
    if (problem !== 0) return this.#fail(c, seq, flags, QUERY_FAILURE_TEXT[problem]);
    const bad = this.#clientAddr(c, q);
    if (bad !== null) return this.#fail(c, seq, flags, bad);
    const gate = this.gate;
    if (gate !== null) {
      const p = this.#routes.path;
      const why = gate.check(req.buf, p.keyStart, p.keyEnd, q.peerId, 0);
      if (why !== 0) return this.#fail(c, seq, flags, GATE_TEXT[why]);
    }
    const s = this.settings;
    let want = Math.min(q.numWant < 0 ? s.default_numwant : q.numWant, s.max_response_peers);
    if (q.event === Event.Stopped) want = 0;
    const tokenFlags = flags | (q.compact ? 0 : NON_COMPACT) | (q.noPeerId ? NO_PEER_ID : 0);
    const tid = this.#token(c, seq, tokenFlags);
    if (tid < 0) return this.#fail(c, seq, flags, "tracker busy, try again");
    const a = this.#addr;
    a[16] = q.port >> 8;
    a[17] = q.port & 0xff;
    if (gate !== null) this.forward.keyed(gate.key, q.uploaded, q.downloaded);
    forwardAnnounce(this.forward, q, a, want, !q.compact && !q.noPeerId, tid);
    this.#wakeup();
  }

  #scrapeRequest(c: HttpConnection, seq: number, flags: number): void {
    const req = c.request, q = this.#scrape;
    const problem = parseScrapeQuery(req.buf, req.queryStart, req.queryEnd, q);
    if (problem !== 0) return this.#fail(c, seq, flags, QUERY_FAILURE_TEXT[problem]);
    if (this.gate !== null) {
      const p = this.#routes.path;
      const why = this.gate.check(req.buf, p.keyStart, p.keyEnd, null, 0);
      if (why !== 0) return this.#fail(c, seq, flags, GATE_TEXT[why]);
    }
    if (q.count === 0) {
      if (!this.settings.allow_full_scrape) {
        return this.#fail(c, seq, flags, "full scrapes are not allowed");
      }
      const tid = this.#token(c, seq, flags);
      if (tid < 0) return this.#fail(c, seq, flags, "tracker busy, try again");
      this.#full.open(tid, this.settings.request_workers);
      this.forward.fullScrape(tid);
      return this.#wakeup();
    }
    const bad = this.#clientAddr(c, null);
    if (bad !== null) return this.#fail(c, seq, flags, bad);
    const tid = this.#token(c, seq, flags);
    if (tid < 0) return this.#fail(c, seq, flags, "tracker busy, try again");
    const family = isV4Mapped(this.#addr, 0) ? 4 : 6;
    if (!this.forward.scrape(q.hashes, 0, q.count, family, this.#addr, 0, tid, this.now)) {
      this.#redeem(tid);
      return this.#fail(c, seq, flags, "tracker busy, try again");
    }
    this.#wakeup();
  }

  /** Reads a request worker's batch and answers the connections it is for. */
  responses(b: Uint8Array): void {
    this.forward.responses(b, this);
  }

  /** The core's answer to an announce, at `b[p]`. */
  announced(b: Uint8Array, p: number): void {
    const tid = getU32LE(b, p + A_TOKEN), tf = this.#tokens.flags(tid);
    const seq = this.#tokens.seq(tid), c = this.#redeem(tid);
    if (c === undefined) return;
    const flags = tf & REPLY_FLAGS, refusal = b[p + R_REFUSAL];
    if (refusal !== 0) return this.#fail(c, seq, flags, REFUSAL_TEXT[refusal]);
    const r = this.#reply, w = this.out;
    readAnswer(b, p, r);
    r.compact = (tf & NON_COMPACT) === 0;
    r.noPeerId = (tf & NO_PEER_ID) !== 0;
    w.len = 0;
    writeAnnounceResponse(w, r, flags);
    r.peers = r.peers6 = EMPTY; // hold no reference to the batch
    r.peerIds = null;
    c.respond(seq, w.buf, 0, w.len);
  }

  /** A scrape whose parts all came back. */
  scraped(pending: PendingScrapes, s: number): void {
    const tid = pending.token(s), flags = this.#tokens.flags(tid) & REPLY_FLAGS;
    const seq = this.#tokens.seq(tid), c = this.#redeem(tid);
    if (c === undefined) return;
    const w = this.out;
    w.len = 0;
    const n = pending.count(s);
    writeScrapeResponse(
      w,
      pending.hashes!,
      pending.hashesOffset(s),
      n,
      pending.entries,
      pending.entryOffset(s, 0),
      flags,
    );
    c.respond(seq, w.buf, 0, w.len);
  }

  /** One request worker's part of a full scrape; the last one answers it. */
  fullScraped(tid: number, b: Uint8Array, off: number, count: number): void {
    const flags = this.#tokens.flags(tid) & REPLY_FLAGS;
    const w = this.#full.add(tid, b, off, count, flags);
    if (w === null) return;
    const seq = this.#tokens.seq(tid), c = this.#redeem(tid);
    if (c !== undefined) c.respond(seq, w.buf, 0, w.len);
  }

  /**
   * Gives up on requests whose answers will not come (a request worker was replaced): each
   * gets a failure reason, so its connection is not held up.
   */
  expire(now: number): void {
    this.forward.pending.expire(now);
    this.#tokens.expired(now, TOKEN_TIMEOUT_S, (tid) => {
      const seq = this.#tokens.seq(tid), flags = this.#tokens.flags(tid) & REPLY_FLAGS;
      this.#full.drop(tid);
      const c = this.#redeem(tid);
      if (c !== undefined) this.#fail(c, seq, flags, "tracker busy, try again");
    });
  }
}

/** The `Reply` flags among a token's flags. */
const REPLY_FLAGS = Reply.Close | Reply.Head | Reply.KeepAlive;
/** Seconds a request waits for the swarms before it is answered with a failure. */
const TOKEN_TIMEOUT_S = 10;
/** Token flags beside the `Reply` ones: the announce asked for a non-compact list. */
const NON_COMPACT = 8;
/** Token flag: ... without peer ids. */
const NO_PEER_ID = 16;
const EMPTY = new Uint8Array(0);
