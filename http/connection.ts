/**
 * One HTTP connection's engine (`shared/net/tcp.ts`): parses its request heads
 * (`request.ts`), hands each request to its host (the front, `front.ts`), and writes the
 * answers in request order, however pipelined requests come back from different request
 * workers. It reads no further while it owes `MAX_OWED` answers, answers what was asked
 * before the client's end of stream, and closes a client too slow to read.
 *
 * @module
 */

import type { ByteBuffer } from "../shared/base/byte_buffer.ts";
import type { Engine, Transport } from "../shared/net/tcp.ts";
import type { HttpSettings } from "./config.ts";
import { Parse, RequestParser, type RequestParserOptions } from "./request.ts";
import { Reply, responseFlags, writeParseError } from "./response.ts";

/**
 * Answers one connection may owe at once (pipelined requests in flight, or answered and
 * waiting for an earlier one); at this many, it reads no more until half of them are sent.
 */
export const MAX_OWED = 256;

/** What a connection counts. */
export interface ConnectionCounters {
  /** Closed for being too slow to read what was sent (`max_outgoing_buffer`). */
  slow: number;
  /** Requests that did not parse. */
  other: number;
  /** Responses with an HTTP error status. */
  errors: number;
  /** Responses sent: all of them. */
  responses: number;
  /** Bytes received. */
  bytesIn: number;
  /** Bytes sent. */
  bytesOut: number;
}

/** What serves a connection's requests (the front). */
export interface ConnectionHost {
  /** The counters a connection adds to. */
  readonly counters: ConnectionCounters;
  /** The settings. */
  readonly settings: HttpSettings;
  /** Options every connection's parser shares. */
  readonly parserOptions: RequestParserOptions;
  /** Where responses are built. */
  readonly out: ByteBuffer;
  /** The current second (monotonic). */
  readonly now: number;
  /** True when connections from `addr` may name the client in the proxy header. */
  trustsProxy(addr: Uint8Array): boolean;
  /** Handles the request the connection's parser just gave, as its `seq`th. */
  request(c: HttpConnection, seq: number, flags: number): void;
  /** Forgets a connection that ended. */
  forget(c: HttpConnection): void;
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
  #host: ConnectionHost;
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
  constructor(host: ConnectionHost, t: Transport, ip: string, addr: Uint8Array, now: number) {
    this.#host = host;
    this.#t = t;
    this.ipKey = ip;
    this.addr.set(addr.subarray(0, 18));
    this.#parser = new RequestParser(host.parserOptions);
    this.#proxied = host.trustsProxy(this.addr);
    this.lastActive = now;
    this.headSince = now; // the first request head is timed from the accept
  }

  /** False once the connection reads no more: it closes after the answer it owes. */
  get wantsInput(): boolean {
    return !this.done && this.#closeAfter < 0;
  }

  /** Bytes queued and not yet sent. */
  get queued(): number {
    return this.#t.queued;
  }

  receive(b: Uint8Array, off: number, len: number): void {
    if (this.done) return;
    const host = this.#host;
    host.counters.bytesIn += len;
    this.lastActive = host.now;
    if (this.#paused) this.#hold(b, off, len); // read before the pause took effect
    else this.#parse(b, off, len);
  }

  /** Parses and handles the requests in `len` bytes at `b[off]`, until it must pause. */
  #parse(b: Uint8Array, off: number, len: number): void {
    const host = this.#host, now = host.now;
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
        host.counters.other++;
        host.counters.errors++;
        const w = host.out;
        w.len = 0;
        writeParseError(w, p.error, p.mustClose, p.request.minor);
        if (p.mustClose) this.#closeAfter = seq;
        this.respond(seq, w.buf, 0, w.len);
        if (p.mustClose) break;
        continue;
      }
      const req = p.request;
      const flags = responseFlags(req, !host.settings.keep_alive || p.mustClose);
      if (flags & Reply.Close) this.#closeAfter = seq;
      host.request(this, seq, flags);
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
    const host = this.#host;
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
    if (!this.done && this.#t.queued > host.settings.max_outgoing_buffer) {
      host.counters.slow++;
      this.close();
      return;
    }
    if (this.#parsing || this.done) return;
    if (this.#paused && this.#nextSeq - this.#writeSeq <= MAX_OWED / 2) this.#resume();
    this.#endIfAnswered();
  }

  #send(seq: number, b: Uint8Array, off: number, len: number): void {
    const host = this.#host;
    host.counters.responses++;
    host.counters.bytesOut += len;
    this.#t.write(b, off, len);
    this.#writeSeq = seq + 1;
    if (seq === this.#closeAfter) {
      this.done = true;
      this.#t.end();
      host.forget(this);
    }
  }

  /** Closes the connection now (what is queued is still written). */
  close(): void {
    if (this.done) return;
    this.done = true;
    this.#t.end();
    this.#host.forget(this);
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
    this.#host.forget(this);
  }
}
