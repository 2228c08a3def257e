/**
 * The HTTP tracker's socket-worker logic, free of sockets so it can be tested alone: one
 * `HttpConnection` engine per TCP connection parses request heads (`request.ts`), turns
 * announces and scrapes into requests to the UDP swarms (`udp/forward.ts`: an announce becomes
 * the BEP 15 packet the request workers already answer), and writes the answers back as
 * bencoded HTTP responses, in request order on each connection however pipelined requests
 * come back from different request workers.
 *
 * Bounds: connections in all and per IP, requests in flight per connection and per worker,
 * bytes queued to a slow reader, and the time a client has to send a request head or may stay
 * idle between requests (`sweep`).
 *
 * @module
 */

import { getI32BE, setU32BE } from "../shared/base/bytes.ts";
import { ByteBuffer } from "../shared/base/byte_buffer.ts";
import { isV4Mapped } from "../shared/net/address.ts";
import type { Engine, Transport } from "../shared/net/tcp.ts";
import { Admission } from "../shared/net/admission.ts";
import { Forwarder } from "../udp/forward.ts";
import { Action, ANNOUNCE_LEN } from "../udp/codec.ts";
import { ANNOUNCE_HTTP, ANNOUNCE_PEER_IDS } from "../udp/messages.ts";
import type { HttpSettings } from "./config.ts";
import { parseEndpointText } from "./ip_text.ts";
import {
  AnnounceQuery,
  Event,
  parseAnnounceQuery,
  parseScrapeQuery,
  QUERY_FAILURE_TEXT,
  ScrapeQuery,
} from "./query.ts";
import { Parse, RequestParser, type RequestParserOptions } from "./request.ts";
import {
  AnnounceReply,
  Reply,
  responseFlags,
  writeAnnounceResponse,
  writeErrorResponse,
  writeFailureResponse,
  writeParseError,
  writeScrapeResponse,
} from "./response.ts";

/**
 * Answers one connection may owe at once (pipelined requests in flight, or answered and
 * waiting for an earlier one); at this many, it reads no more until half of them are sent.
 */
export const MAX_OWED = 256;
/** Requests one socket worker may have waiting for the swarms. */
const TOKENS = 1 << 16;

const enc = new TextEncoder();
const ANNOUNCE_PATH = enc.encode("/announce"), SCRAPE_PATH = enc.encode("/scrape");

/** Counters of an HTTP socket worker. */
export interface HttpCounters {
  /** Connections accepted. */
  accepted: number;
  /** Connections closed, for any reason. */
  closed: number;
  /** Closed for a request head not sent in time. */
  timedOut: number;
  /** Closed for being idle too long between requests. */
  idle: number;
  /** Closed for being too slow to read what was sent (`max_outgoing_buffer`). */
  slow: number;
  /** Announces received (well-formed or not). */
  announces: number;
  /** Scrapes received. */
  scrapes: number;
  /** Requests for anything else, or that did not parse. */
  other: number;
  /** Responses sent: all of them. */
  responses: number;
  /** Responses with a `failure reason`. */
  failures: number;
  /** Responses with an HTTP error status. */
  errors: number;
  /** Bytes received. */
  bytesIn: number;
  /** Bytes sent. */
  bytesOut: number;
  /** Trusted `ip`, `ipv4`, `ipv6` parameters ignored for not being a literal address. */
  ignoredIps: number;
}

/** Limits on connections. */
export interface ConnectionLimits {
  /** Most open connections of this worker. */
  maxConnections: number;
  /** Most open connections from one IP, of this worker. */
  maxConnectionsPerIp: number;
}

/** One HTTP connection: its parser and the order its answers must go out in. */
export class HttpConnection implements Engine {
  /** Key of the client IP for the per-IP count. */
  readonly ipKey: string;
  /** The client address (18 bytes) the connection came from. */
  readonly addr = new Uint8Array(18);
  /** True once the connection ended. */
  done = false;
  /** Bytes wanted before parsing can go on: any read size will do. */
  readonly need = 0;
  /** Requests waiting for the swarms. */
  inFlight = 0;
  #front: HttpFront;
  #t: Transport;
  #parser: RequestParser;
  #proxied: boolean;
  #nextSeq = 0;
  #writeSeq = 0;
  #ready: Map<number, Uint8Array> | null = null;
  #closeAfter = -1; // the seq after whose answer the connection closes
  #eof = false; // the client ended its stream
  #paused = false; // reading stopped until owed answers drain
  #parsing = false; // inside #parse (answers written during it do not resume or end)
  #held: Uint8Array | null = null; // bytes not yet parsed while paused
  /** When the request head being received began, or -1 (monotonic seconds). */
  headSince = -1;
  /** When the connection was last active. */
  lastActive: number;

  /** Serves a connection from `addr` over `t`. */
  constructor(front: HttpFront, t: Transport, ip: string, addr: Uint8Array, now: number) {
    this.#front = front;
    this.#t = t;
    this.ipKey = ip;
    this.addr.set(addr.subarray(0, 18));
    this.#parser = new RequestParser(front.parserOptions);
    this.#proxied = front.trustsProxy(this.addr);
    this.lastActive = now;
    this.headSince = now; // the first request head is timed from the accept
  }

  /** Bytes queued and not yet sent. */
  get queued(): number {
    return this.#t.queued;
  }

  receive(b: Uint8Array, off: number, len: number): void {
    if (this.done) return;
    const front = this.#front;
    front.counters.bytesIn += len;
    this.lastActive = front.now;
    if (this.#paused) this.#hold(b, off, len); // read before the pause took effect
    else this.#parse(b, off, len);
  }

  /** Parses and handles the requests in `len` bytes at `b[off]`, until it must pause. */
  #parse(b: Uint8Array, off: number, len: number): void {
    const front = this.#front, now = front.now;
    const p = this.#parser;
    p.push(b, off, len);
    this.#parsing = true;
    while (!this.done) {
      if (this.#nextSeq - this.#writeSeq >= MAX_OWED) {
        // The client pipelines faster than its answers come: stop reading until half went.
        this.#held = p.release();
        this.#paused = true;
        this.#t.pause(true);
        break;
      }
      const r = p.next();
      if (r === Parse.More) break;
      const seq = this.#nextSeq++;
      if (r === Parse.Error) {
        front.counters.other++;
        front.counters.errors++;
        const w = front.out;
        w.len = 0;
        writeParseError(w, p.error, p.mustClose, p.request.minor);
        if (p.mustClose) this.#closeAfter = seq;
        this.respond(seq, w.buf, 0, w.len);
        if (p.mustClose) break;
        continue;
      }
      const req = p.request;
      const flags = responseFlags(req, !front.settings.keep_alive || p.mustClose);
      if (flags & Reply.Close) this.#closeAfter = seq;
      front.request(this, seq, flags);
      if (this.done || flags & Reply.Close) break;
    }
    this.#parsing = false;
    // A partial head waits for its end (not while paused: then the wait is the server's);
    // none left means the connection is between requests.
    this.headSince = p.buffered > 0 && !this.#paused
      ? (this.headSince < 0 ? now : this.headSince)
      : -1;
    this.#endIfAnswered();
  }

  /** Keeps bytes read while paused, after those held already. */
  #hold(b: Uint8Array, off: number, len: number): void {
    const h = this.#held, n = h === null ? 0 : h.length;
    const all = new Uint8Array(n + len);
    if (h !== null) all.set(h);
    all.set(b.subarray(off, off + len), n);
    this.#held = all;
  }

  /** Reads again once enough answers went: the held bytes first. */
  #resume(): void {
    const held = this.#held;
    this.#held = null;
    this.#paused = false;
    if (held !== null) this.#parse(held, 0, held.length);
    if (!this.#paused && !this.done) this.#t.pause(false);
  }

  /** After the client's end of stream: ends the connection once every answer went. */
  #endIfAnswered(): void {
    if (this.#eof && !this.#paused && !this.#parsing && this.#writeSeq === this.#nextSeq) {
      this.close();
    }
  }

  /** The parser's current request (during `HttpFront.request`). */
  get request() {
    return this.#parser.request;
  }

  /** Whether the client IP comes from the proxy header. */
  get proxied(): boolean {
    return this.#proxied;
  }

  /**
   * Sends the answer to request `seq` (`len` bytes at `b[off]`), once every earlier answer
   * went; until then it is kept (pipelined requests answered by different workers).
   */
  respond(seq: number, b: Uint8Array, off: number, len: number): void {
    if (this.done) return;
    const front = this.#front;
    if (seq !== this.#writeSeq) {
      (this.#ready ??= new Map()).set(seq, b.slice(off, off + len));
      return;
    }
    this.#send(seq, b, off, len);
    const ready = this.#ready;
    while (ready !== null && !this.done) {
      const next = ready.get(this.#writeSeq);
      if (next === undefined) break;
      ready.delete(this.#writeSeq);
      this.#send(this.#writeSeq, next, 0, next.length);
    }
    if (ready !== null && ready.size === 0) this.#ready = null;
    if (!this.done && this.#t.queued > front.settings.max_outgoing_buffer) {
      front.counters.slow++;
      this.close();
      return;
    }
    if (this.#parsing || this.done) return;
    if (this.#paused && this.#nextSeq - this.#writeSeq <= MAX_OWED / 2) this.#resume();
    this.#endIfAnswered();
  }

  #send(seq: number, b: Uint8Array, off: number, len: number): void {
    const front = this.#front;
    front.counters.responses++;
    front.counters.bytesOut += len;
    this.#t.write(b, off, len);
    this.#writeSeq = seq + 1;
    if (seq === this.#closeAfter) {
      this.done = true;
      this.#t.end();
      front.forget(this);
    }
  }

  /** Closes the connection now (what is queued is still written). */
  close(): void {
    if (this.done) return;
    this.done = true;
    this.#t.end();
    this.#front.forget(this);
  }

  /** The client sent its last byte: answer what it asked, then close. */
  ended(): void {
    if (this.done) return;
    this.#eof = true;
    this.#endIfAnswered();
  }

  /** The transport closed the connection. */
  gone(): void {
    if (this.done) return;
    this.done = true;
    this.#front.forget(this);
  }
}

/** The HTTP front end of one socket worker. */
export class HttpFront {
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
  // Requests waiting for the swarms, by token (the transaction id of the BEP 15 packet).
  #tokConn: (HttpConnection | undefined)[] = new Array(TOKENS);
  #tokSeq = new Uint32Array(TOKENS);
  #tokFlags = new Uint8Array(TOKENS);
  #tokGen = new Uint16Array(TOKENS);
  #tokTime = new Uint32Array(TOKENS);
  #tokFree = new Int32Array(TOKENS);
  #tokTop = TOKENS;
  #announce = new AnnounceQuery();
  #scrape: ScrapeQuery;
  #pkt = new Uint8Array(ANNOUNCE_LEN);
  #addr = new Uint8Array(18);
  #reply = new AnnounceReply();
  /** Full scrapes gathering their parts, by token. */
  #full = new Map<number, { parts: number; torrents: ByteBuffer }>();

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
    for (let i = 0; i < TOKENS; i++) this.#tokFree[i] = TOKENS - 1 - i;
    this.#reply.minInterval = settings.min_announce_interval > 0
      ? settings.min_announce_interval
      : -1;
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
    const req = c.request;
    if (req.pathIs(ANNOUNCE_PATH)) {
      this.counters.announces++;
      return this.#announceRequest(c, seq, flags);
    }
    if (req.pathIs(SCRAPE_PATH)) {
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

  #token(c: HttpConnection, seq: number, flags: number): number {
    if (this.#tokTop === 0) return -1;
    const t = this.#tokFree[--this.#tokTop];
    this.#tokConn[t] = c;
    this.#tokSeq[t] = seq;
    this.#tokFlags[t] = flags;
    const gen = (this.#tokGen[t] + 1) & 0xffff;
    this.#tokGen[t] = gen;
    this.#tokTime[t] = this.now;
    c.inFlight++;
    return ((gen << 16) | t) >>> 0;
  }

  #announceRequest(c: HttpConnection, seq: number, flags: number): void {
    const req = c.request, q = this.#announce;
    const problem = parseAnnounceQuery(req.buf, req.queryStart, req.queryEnd, q);
    if (problem !== 0) return this.#fail(c, seq, flags, QUERY_FAILURE_TEXT[problem]);
    const bad = this.#clientAddr(c, q);
    if (bad !== null) return this.#fail(c, seq, flags, bad);
    const s = this.settings;
    let want = Math.min(q.numWant < 0 ? s.default_numwant : q.numWant, s.max_response_peers);
    if (q.event === Event.Stopped) want = 0;
    const ids = !q.compact && !q.noPeerId;
    const tokenFlags = flags | (q.compact ? 0 : NON_COMPACT) | (q.noPeerId ? NO_PEER_ID : 0);
    const tid = this.#token(c, seq, tokenFlags);
    if (tid < 0) return this.#fail(c, seq, flags, "tracker busy, try again");
    // The BEP 15 announce the request workers answer (the connection ID is not read).
    const p = this.#pkt;
    p.fill(0);
    setU32BE(p, 8, Action.Announce);
    setU32BE(p, 12, tid);
    p.set(q.infoHash, 16);
    p.set(q.peerId, 36);
    if (q.left !== 0) p[71] = 1; // only whether it is 0 counts: seeder or not (-1: not given)
    setU32BE(p, 80, q.event === Event.Paused ? Event.None : q.event);
    setU32BE(p, 92, want);
    p[96] = q.port >> 8;
    p[97] = q.port & 0xff;
    const a = this.#addr;
    a[16] = p[96];
    a[17] = p[97];
    const family = isV4Mapped(a, 0) ? 4 : 6;
    this.forward.announce(p, 0, family, a, 0, ANNOUNCE_HTTP | (ids ? ANNOUNCE_PEER_IDS : 0));
    this.#wakeup();
  }

  #scrapeRequest(c: HttpConnection, seq: number, flags: number): void {
    const req = c.request, q = this.#scrape;
    const problem = parseScrapeQuery(req.buf, req.queryStart, req.queryEnd, q);
    if (problem !== 0) return this.#fail(c, seq, flags, QUERY_FAILURE_TEXT[problem]);
    if (q.count === 0) {
      if (!this.settings.allow_full_scrape) {
        return this.#fail(c, seq, flags, "full scrapes are not allowed");
      }
      const tid = this.#token(c, seq, flags);
      if (tid < 0) return this.#fail(c, seq, flags, "tracker busy, try again");
      this.#full.set(tid, { parts: this.settings.request_workers, torrents: new ByteBuffer() });
      this.forward.fullScrape(tid);
      return this.#wakeup();
    }
    const bad = this.#clientAddr(c, null);
    if (bad !== null) return this.#fail(c, seq, flags, bad);
    const tid = this.#token(c, seq, flags);
    if (tid < 0) return this.#fail(c, seq, flags, "tracker busy, try again");
    const family = isV4Mapped(this.#addr, 0) ? 4 : 6;
    if (!this.forward.scrape(q.hashes, 0, q.count, family, this.#addr, 0, tid, this.now)) {
      this.#release(tid & 0xffff);
      c.inFlight--;
      return this.#fail(c, seq, flags, "tracker busy, try again");
    }
    this.#wakeup();
  }

  #release(t: number): void {
    this.#tokConn[t] = undefined;
    this.#tokFree[this.#tokTop++] = t;
  }

  /** Reads a request worker's batch and answers the connections it is for. */
  responses(b: Uint8Array): void {
    this.forward.responses(b, this.#deliver, this.#deliverFull);
  }

  /** One request worker's part of a full scrape; the last one answers it. */
  #deliverFull = (tid: number, b: Uint8Array, off: number, count: number): void => {
    const f = this.#full.get(tid);
    if (f === undefined) return;
    f.torrents.append(b.subarray(off, off + 32 * count));
    if (--f.parts > 0) return;
    this.#full.delete(tid);
    const t = tid & 0xffff, c = this.#tokConn[t];
    if (c === undefined || this.#tokGen[t] !== tid >>> 16) return;
    const seq = this.#tokSeq[t], flags = this.#tokFlags[t] & REPLY_FLAGS;
    this.#release(t);
    c.inFlight--;
    if (c.done) return;
    // writeScrapeResponse takes hashes and entries apart: split the 32-byte records.
    const n = f.torrents.len / 32, all = f.torrents.buf;
    const hashes = new Uint8Array(20 * n), entries = new Uint8Array(12 * n);
    for (let k = 0; k < n; k++) {
      hashes.set(all.subarray(32 * k, 32 * k + 20), 20 * k);
      entries.set(all.subarray(32 * k + 20, 32 * k + 32), 12 * k);
    }
    const w = new ByteBuffer(64 + 60 * n);
    writeScrapeResponse(w, hashes, 0, n, entries, 0, flags);
    c.respond(seq, w.buf, 0, w.len);
  };

  #deliver = (
    family: 4 | 6,
    b: Uint8Array,
    off: number,
    len: number,
    _addrs: Uint8Array,
    _a: number,
    slot: number,
  ): void => {
    const tid = getI32BE(b, off + 4) >>> 0, t = tid & 0xffff;
    const c = this.#tokConn[t];
    if (c === undefined || this.#tokGen[t] !== tid >>> 16) return; // expired
    const seq = this.#tokSeq[t], tf = this.#tokFlags[t];
    this.#release(t);
    c.inFlight--;
    if (c.done) return;
    const flags = tf & REPLY_FLAGS;
    const w = this.out;
    w.len = 0;
    const action = getI32BE(b, off);
    if (action === Action.Announce) {
      const r = this.#reply, entry = family === 4 ? 6 : 18;
      const nonCompact = (tf & NON_COMPACT) !== 0, ids = nonCompact && !(tf & NO_PEER_ID);
      const n = Math.floor((len - 20) / (entry + (ids ? 20 : 0)));
      r.interval = getI32BE(b, off + 8);
      r.incomplete = getI32BE(b, off + 12);
      r.complete = getI32BE(b, off + 16);
      r.compact = !nonCompact;
      r.noPeerId = !ids;
      r.peers = r.peers6 = b;
      r.peersOff = r.peers6Off = off + 20;
      r.peersLen = family === 4 ? n * 6 : 0;
      r.peers6Len = family === 6 ? n * 18 : 0;
      r.peerIds = ids ? b : null;
      r.peerIdsOff = off + 20 + n * entry;
      writeAnnounceResponse(w, r, flags);
      r.peers = r.peers6 = EMPTY;
      r.peerIds = null;
    } else if (action === Action.Scrape && slot >= 0) {
      const pending = this.forward.pending;
      const count = Math.floor((len - 8) / 12);
      writeScrapeResponse(
        w,
        pending.hashes!,
        pending.hashesOffset(slot),
        count,
        b,
        off + 8,
        flags,
      );
    } else {
      // An error response: its message is the failure reason.
      this.counters.failures++;
      let reason = "";
      for (let i = off + 8; i < off + len; i++) reason += String.fromCharCode(b[i]);
      writeFailureResponse(w, reason, flags);
    }
    c.respond(seq, w.buf, 0, w.len);
  };

  /**
   * Gives up on requests whose answers will not come (a request worker was replaced): each
   * gets a failure reason, so its connection is not held up.
   */
  expire(now: number): void {
    this.forward.pending.expire(now);
    for (let t = 0; t < TOKENS; t++) {
      const c = this.#tokConn[t];
      if (c === undefined || now - this.#tokTime[t] <= TOKEN_TIMEOUT_S) continue;
      const seq = this.#tokSeq[t], flags = this.#tokFlags[t] & REPLY_FLAGS;
      this.#full.delete(((this.#tokGen[t] << 16) | t) >>> 0);
      this.#release(t);
      c.inFlight--;
      if (!c.done) this.#fail(c, seq, flags, "tracker busy, try again");
    }
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
