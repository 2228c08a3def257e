/**
 * An incremental HTTP/1.x request-head parser for a tracker, free of any socket API.
 *
 * A connection `push`es each chunk it reads and calls `next` until it answers `Parse.More`:
 * a chunk may hold part of a request, one request or many pipelined ones. Requests are given
 * one at a time in one reused `HttpRequest` whose fields are offsets into `request.buf`, valid
 * until the next `push` or `next`. A request that arrives whole in a chunk is parsed in place;
 * only an incomplete head is copied, into a per-connection buffer of at most `maxHead` bytes
 * that is dropped again once empty, so an idle connection holds no buffer.
 *
 * What it accepts (RFC 9112, with these decisions):
 * - `GET` and `HEAD` are requests; other methods parse (for framing) and end as
 *   `HttpError.MethodNotAllowed` (405, for methods of RFC 9110) or `MethodNotImplemented`
 *   (501, any other token), which keep a keep-alive connection open.
 * - `HTTP/1.0` and `HTTP/1.1`; `HTTP/1.2`–`1.9` are served as 1.1, other majors get 505.
 * - Lines end with CRLF; a bare LF is also accepted as a line end (RFC 9112 §2.2 allows it, and
 *   hand-written clients send it). A bare CR anywhere in the head is refused (400).
 * - Empty lines before the request line are skipped (RFC 9112 §2.2); they count toward `maxHead`.
 * - The request target is origin-form (`/path?query`) or absolute-form (`http://host/path?q`).
 *   It runs from the first space to the last one, so raw unencoded bytes, even spaces, survive
 *   to the query parser; only CR and LF cannot appear in it. `#` has no special meaning.
 * - Keep-alive: HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with `Connection:
 *   keep-alive` (and no `close`).
 * - Header names are case-insensitive tokens; obsolete line folding and whitespace before the
 *   colon are refused (400). Only `Connection`, `Content-Length`, `Transfer-Encoding` and the
 *   configured client-IP header are looked at; other values are not validated. `Host` is not
 *   required.
 * - A body (`Content-Length` up to `maxBody`) is skipped without being buffered; larger is 413.
 *   `Transfer-Encoding` ending in `chunked` is refused with 411 (send a length); any other
 *   `Transfer-Encoding`, or one beside `Content-Length`, with 400 (RFC 9112 §6.3). Differing
 *   repeated `Content-Length` values, or non-digits in it, are 400.
 * - The request line may be at most `maxRequestLine` bytes (414 past it, or when it has not
 *   ended within `maxHead` bytes) and the whole head `maxHead` bytes (431 past it), both found
 *   without looking at more than `maxHead` bytes, so the outcome is the same however the
 *   bytes were split into chunks.
 *
 * Errors are outcomes, never exceptions: `next` returns `Parse.Error` with `error` set (see
 * `HTTP_ERROR_STATUS` and `HTTP_ERROR_TEXT`) and `mustClose` saying whether the connection
 * must close after the answer. After a closing error the parser ignores all further input.
 *
 * @module
 */

import {
  type HeadRules,
  headRules,
  HTTP_ERROR_STATUS,
  HttpError,
  HttpRequest,
  NO_BYTES,
  parseHead,
} from "./request_head.ts";

export {
  HTTP_ERROR_STATUS,
  HTTP_ERROR_TEXT,
  HttpError,
  HttpRequest,
  Method,
} from "./request_head.ts";

/** Outcomes of `RequestParser.next`. */
export const Parse = {
  /** Nothing more to give until more bytes are pushed. */
  More: 0,
  /** `request` holds a `GET` or `HEAD` request. */
  Request: 1,
  /** `error` says what is wrong; answer it, and close if `mustClose`. */
  Error: 2,
} as const;

/** Limits and options of a `RequestParser`. */
export interface RequestParserOptions {
  /** Largest request head, in bytes (default 8192). */
  maxHead?: number;
  /** Largest request line, in bytes without its line end (default 8192). */
  maxRequestLine?: number;
  /** Largest request body skipped; larger is refused with 413 (default 1024). */
  maxBody?: number;
  /** Name of the header with the client IP behind a reverse proxy (e.g. `X-Forwarded-For`). */
  ipHeader?: string | null;
  /** Which comma-separated entry of the IP header is the client (default `last`). */
  ipHeaderEntry?: "first" | "last";
}

const DEFAULTS: RequestParserOptions = {};
/** Limits derived from each options object, computed once. */
const derived = new WeakMap<
  RequestParserOptions,
  { maxHead: number; maxLine: number; rules: HeadRules }
>();

// Scan results besides a head end.
const SCAN_MORE = -1, SCAN_URI_TOO_LONG = -2, SCAN_HEAD_TOO_LARGE = -3, SCAN_BARE_CR = -4;

/** Parses the request heads of one connection; see the module documentation. */
export class RequestParser {
  /** The request `next` gave; reused. */
  readonly request: HttpRequest = new HttpRequest();
  /** The `HttpError` of the last `Parse.Error`. */
  error: number = HttpError.None;
  /** Whether the connection must close after answering the last request or error. */
  mustClose = false;

  readonly #maxHead: number;
  readonly #maxLine: number;
  readonly #rules: HeadRules;

  #chunk: Uint8Array = NO_BYTES;
  #pos = 0;
  #end = 0;
  /** Unparsed bytes kept between chunks are `#pending[#pStart..#pEnd)`. */
  #pending: Uint8Array | null = null;
  #pStart = 0;
  #pEnd = 0;
  /** Body bytes still to skip. */
  #skip = 0;
  #dead = false;
  // Head scan state, relative to the start of the (partial) head.
  #scanned = 0;
  #lineStart = 0;
  #crAt = -1;
  #requestLine = -1;
  #requestLineEnd = 0;

  /**
   * Creates a parser for one connection. Pass the same `options` object to every parser of a
   * server: what is derived from it is computed once per object (it is read only then).
   */
  constructor(options: RequestParserOptions = DEFAULTS) {
    let d = derived.get(options);
    if (d === undefined) {
      const maxHead = Math.max(64, options.maxHead ?? 8192);
      d = {
        maxHead,
        maxLine: Math.min(maxHead, Math.max(16, options.maxRequestLine ?? 8192)),
        rules: headRules(
          Math.max(0, options.maxBody ?? 1024),
          options.ipHeader ?? null,
          options.ipHeaderEntry ?? "last",
        ),
      };
      derived.set(options, d);
    }
    this.#maxHead = d.maxHead;
    this.#maxLine = d.maxLine;
    this.#rules = d.rules;
  }

  /** HTTP status to answer the last error with. */
  get status(): number {
    return HTTP_ERROR_STATUS[this.error];
  }

  /** Bytes of memory this parser holds for the connection (at most `maxHead`). */
  get held(): number {
    return this.#pending === null ? 0 : this.#pending.length;
  }

  /** Bytes received and not yet parsed or skipped (kept, or still in the pushed chunk). */
  get buffered(): number {
    return this.#pEnd - this.#pStart + this.#end - this.#pos;
  }

  /** Whether the parser gave a closing error and ignores further input. */
  get closed(): boolean {
    return this.#dead;
  }

  /**
   * Gives the parser `len` bytes read from the connection, from `b[off]`. They are parsed in
   * place by `next`, which must be called until it answers `Parse.More` before `b` is reused.
   * (If it was not, the earlier chunk's unparsed bytes are kept first: up to `maxHead` of them,
   * more is refused as `HeadTooLarge`.)
   */
  push(b: Uint8Array, off: number, len: number): void {
    if (this.#dead) return;
    if (this.#pos < this.#end) {
      this.#skipBody();
      if (this.#pos < this.#end) {
        this.#stash();
        if (this.#dead) return;
      }
    }
    this.#chunk = b;
    this.#pos = off;
    this.#end = off + len;
  }

  /**
   * Lets go of the chunk last pushed, before `next` answered `Parse.More`: returns a copy of
   * its bytes not yet parsed (null if none), to be pushed again to go on. How a connection
   * stops parsing for a while without holding on to the read buffer.
   */
  release(): Uint8Array | null {
    if (this.#pos >= this.#end) return null;
    const rest = this.#chunk.slice(this.#pos, this.#end);
    this.#pos = this.#end;
    return rest;
  }

  /** Parses the next request; see `Parse`. */
  next(): number {
    if (this.#dead) return Parse.More;
    if (this.#skip > 0 && this.#skipBody() > 0) return Parse.More;
    if (this.#pEnd > this.#pStart) return this.#fromPending();
    this.#pending = null; // an idle connection holds no buffer
    this.#pStart = this.#pEnd = 0;
    const chunk = this.#chunk, start = this.#pos;
    if (start >= this.#end) return Parse.More;
    // The scan sees no more than `maxHead` bytes, as a head kept between chunks would: the
    // outcome never depends on how the bytes were split.
    const r = this.#scan(chunk, start, Math.min(this.#end, start + this.#maxHead));
    if (r >= 0) {
      this.#pos = r;
      return this.#head(chunk, start);
    }
    if (r !== SCAN_MORE) return this.#scanFailure(r);
    this.#stash();
    return Parse.More;
  }

  /** Skips body bytes, kept ones first; returns how many are still to come. */
  #skipBody(): number {
    let n = Math.min(this.#skip, this.#pEnd - this.#pStart);
    this.#pStart += n;
    this.#skip -= n;
    n = Math.min(this.#skip, this.#end - this.#pos);
    this.#pos += n;
    this.#skip -= n;
    return this.#skip;
  }

  /** Appends the unparsed rest of the chunk (which `next` keeps under `maxHead`) to the buffer. */
  #stash(): void {
    this.#compact();
    const n = this.#end - this.#pos;
    if (this.#pEnd + n > this.#maxHead) {
      this.#fail(HttpError.HeadTooLarge); // only when `push` followed `push`
      return;
    }
    this.#ensure(this.#pEnd + n);
    this.#pending!.set(this.#chunk.subarray(this.#pos, this.#end), this.#pEnd);
    this.#pEnd += n;
    this.#pos = this.#end;
  }

  /** Moves the kept bytes to the start of the buffer (the request that was there is done). */
  #compact(): void {
    if (this.#pStart === 0) return;
    this.#pending!.copyWithin(0, this.#pStart, this.#pEnd);
    this.#pEnd -= this.#pStart;
    this.#pStart = 0;
  }

  #ensure(size: number): void {
    const p = this.#pending;
    if (p !== null && p.length >= size) return;
    let cap = p === null ? 512 : p.length;
    while (cap < size) cap *= 2;
    const next = new Uint8Array(Math.min(cap, this.#maxHead));
    if (p !== null) next.set(p.subarray(0, this.#pEnd));
    this.#pending = next;
  }

  /** Continues a head begun in an earlier chunk: copies at most up to the bound, then scans. */
  #fromPending(): number {
    this.#compact();
    const old = this.#pEnd;
    const n = Math.min(this.#maxHead - old, this.#end - this.#pos);
    this.#ensure(old + n);
    const p = this.#pending!;
    p.set(this.#chunk.subarray(this.#pos, this.#pos + n), old);
    this.#pEnd = old + n;
    const r = this.#scan(p, 0, old + n);
    if (r >= 0) {
      if (r >= old) {
        // Bytes copied past the head end are read again from the chunk.
        this.#pos += r - old;
        this.#pStart = this.#pEnd = 0;
      } else {
        // The head ended in bytes kept earlier (see `push`): the chunk's are not taken yet.
        this.#pStart = r;
        this.#pEnd = old;
      }
      return this.#head(p, 0);
    }
    this.#pos += n;
    if (r !== SCAN_MORE) return this.#scanFailure(r);
    return Parse.More;
  }

  /**
   * Looks for the end of the head that starts at `b[base]`, resuming where the last scan of
   * this head stopped (each byte is looked at once): returns the offset after its empty line,
   * or a `SCAN_` code. A line with a CR anywhere but right before its LF is refused here.
   */
  #scan(b: Uint8Array, base: number, end: number): number {
    let line = base + this.#lineStart;
    let cr = this.#crAt < 0 ? -1 : base + this.#crAt;
    // The request line is refused at its (maxLine + 2)th byte without a LF, wherever the chunks
    // split it, so that check comes before anything found at its end.
    const lineLimit = this.#maxLine + 2;
    let stop = this.#requestLine < 0 ? Math.min(end, line + lineLimit) : end;
    let i = base + this.#scanned;
    for (; i < stop; i++) {
      const c = b[i];
      if (c > 13) continue;
      if (c === 13) {
        if (cr < 0) cr = i;
        continue;
      }
      if (c !== 10) continue;
      if (cr >= 0 && cr !== i - 1) return SCAN_BARE_CR;
      const empty = i === line || (i === line + 1 && cr === line);
      if (this.#requestLine < 0) {
        if (!empty) {
          if (i - line - (cr >= 0 ? 1 : 0) > this.#maxLine) return SCAN_URI_TOO_LONG;
          this.#requestLine = line - base;
          this.#requestLineEnd = i - base;
        }
      } else if (empty) {
        return i + 1 - base > this.#maxHead ? SCAN_HEAD_TOO_LARGE : i + 1;
      }
      line = i + 1;
      cr = -1;
      stop = this.#requestLine < 0 ? Math.min(end, line + lineLimit) : end;
    }
    if (this.#requestLine < 0 && i - line >= lineLimit) return SCAN_URI_TOO_LONG;
    this.#scanned = end - base;
    this.#lineStart = line - base;
    this.#crAt = cr < 0 ? -1 : cr - base;
    const full = end - base >= this.#maxHead;
    // A request line that has not ended within the head bound is too long itself.
    if (this.#requestLine < 0 && end > line && full) return SCAN_URI_TOO_LONG;
    return full ? SCAN_HEAD_TOO_LARGE : SCAN_MORE;
  }

  #scanFailure(r: number): number {
    return this.#fail(
      r === SCAN_URI_TOO_LONG
        ? HttpError.UriTooLong
        : r === SCAN_BARE_CR
        ? HttpError.BareCR
        : HttpError.HeadTooLarge,
    );
  }

  /** Ends parsing for good: the connection is to be closed after answering `error`. */
  #fail(error: number): number {
    this.#stop();
    this.error = error;
    this.mustClose = true;
    this.request.keepAlive = false;
    return Parse.Error;
  }

  /** Ignores all further input and lets go of the buffer. */
  #stop(): void {
    this.#dead = true;
    this.#pending = null;
    this.#pStart = this.#pEnd = 0;
    this.#skip = 0;
    this.#pos = this.#end;
  }

  /** Parses the complete head that starts at `b[start]` (the scan found its empty line). */
  #head(b: Uint8Array, start: number): number {
    const req = this.request;
    const error = parseHead(
      b,
      start + this.#requestLine,
      start + this.#requestLineEnd,
      req,
      this.#rules,
    );
    this.#scanned = this.#lineStart = 0;
    this.#crAt = this.#requestLine = -1;
    if (error !== HttpError.None) {
      if (error !== HttpError.MethodNotAllowed && error !== HttpError.MethodNotImplemented) {
        return this.#fail(error);
      }
      this.error = error;
      this.mustClose = !req.keepAlive;
      this.#skip = req.contentLength;
      if (this.mustClose) this.#stop();
      return Parse.Error;
    }
    this.error = HttpError.None;
    this.mustClose = !req.keepAlive;
    this.#skip = req.contentLength;
    // After a request that closes the connection, pipelined requests are not answered.
    if (this.mustClose) this.#stop();
    return Parse.Request;
  }
}
