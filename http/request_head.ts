/**
 * Parsing of one complete HTTP/1.x request head, in place: the request line and the few header
 * fields a tracker uses. `RequestParser` (`request.ts`) finds where heads begin and end and
 * calls `parseHead`; the rules it applies are listed there.
 *
 * @module
 */

import { ascii } from "../shared/base/bytes.ts";

/** An empty array shared by every new request (allocating typed arrays is not free). */
export const NO_BYTES: Uint8Array = new Uint8Array(0);

/** Request methods the tracker tells apart. */
export const Method = { Other: 0, Get: 1, Head: 2 } as const;

/** Why a request was refused; indexes into `HTTP_ERROR_STATUS` and `HTTP_ERROR_TEXT`. */
export const HttpError = {
  None: 0,
  BadRequestLine: 1,
  BadHeader: 2,
  BareCR: 3,
  UriTooLong: 4,
  HeadTooLarge: 5,
  MethodNotAllowed: 6,
  MethodNotImplemented: 7,
  VersionNotSupported: 8,
  BadContentLength: 9,
  BodyTooLarge: 10,
  ChunkedBody: 11,
  BadTransferEncoding: 12,
} as const;

/** The HTTP status to answer each `HttpError` with. */
export const HTTP_ERROR_STATUS: readonly number[] = [
  0, // None
  400, // BadRequestLine
  400, // BadHeader
  400, // BareCR
  414, // UriTooLong
  431, // HeadTooLarge
  405, // MethodNotAllowed
  501, // MethodNotImplemented
  505, // VersionNotSupported
  400, // BadContentLength
  413, // BodyTooLarge
  411, // ChunkedBody
  400, // BadTransferEncoding
];

/** A short text for each `HttpError`, for the body of the error response. */
export const HTTP_ERROR_TEXT: readonly string[] = [
  "",
  "bad request line",
  "bad header field",
  "bare CR in request head",
  "request target too long",
  "request head too large",
  "method not allowed: use GET",
  "method not implemented: use GET",
  "HTTP version not supported",
  "bad Content-Length",
  "request body too large",
  "chunked request bodies are not accepted",
  "bad Transfer-Encoding",
];

/** The request `next` gave; reused for every request of a connection. */
export class HttpRequest {
  /** The bytes the offsets below point into; valid until the next `push` or `next`. */
  buf: Uint8Array = NO_BYTES;
  /** One of `Method`. */
  method: number = Method.Other;
  /** HTTP minor version: 0 for HTTP/1.0, otherwise 1 or more (served as 1.1). */
  minor = 1;
  /** Whether the connection stays open after this request is answered. */
  keepAlive = true;
  /** Start of the path (after the authority in absolute-form). */
  pathStart = 0;
  /** End of the path: the `?` or the end of the target. */
  pathEnd = 0;
  /** Start of the raw query bytes, after the `?`. */
  queryStart = 0;
  /** End of the raw query bytes (`queryStart` when there is none). */
  queryEnd = 0;
  /** Value of `Content-Length` (0 when absent). */
  contentLength = 0;
  /** Start of the chosen entry of the client-IP header, trimmed, or -1 when absent or empty. */
  ipStart: number = -1;
  /** End of the chosen entry of the client-IP header. */
  ipEnd: number = -1;

  /** Whether the path is exactly the bytes of `literal` (e.g. `/announce` encoded once). */
  pathIs(literal: Uint8Array): boolean {
    if (this.pathEnd - this.pathStart !== literal.length) return false;
    for (let i = 0; i < literal.length; i++) {
      if (this.buf[this.pathStart + i] !== literal[i]) return false;
    }
    return true;
  }

  /** The path as a string, one character per byte (for logs and tests). */
  path(): string {
    return binary(this.buf, this.pathStart, this.pathEnd);
  }

  /** The chosen entry of the client-IP header as a string, or null when absent. */
  clientIp(): string | null {
    return this.ipStart < 0 ? null : binary(this.buf, this.ipStart, this.ipEnd);
  }
}

/** `b[start..end)` as a string of one character per byte (`TextDecoder("latin1")` is cp1252). */
function binary(b: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i++) s += String.fromCharCode(b[i]);
  return s;
}
const LF = 10, CR = 13, SP = 32, HTAB = 9, COLON = 58, COMMA = 44, QUESTION = 63, SLASH = 47;

/** Token characters (RFC 9110 §5.6.2) lowercased, 0 for bytes that are not token characters. */
const TOKEN_LOWER: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") {
    t[c.charCodeAt(0)] = c.charCodeAt(0);
  }
  for (let c = 65; c <= 90; c++) t[c] = c + 32;
  return t;
})();

function nameHash(name: Uint8Array): number {
  let h = 0;
  for (const c of name) h = (Math.imul(h, 31) + c) | 0;
  return h;
}
const CONNECTION = ascii("connection"), CONTENT_LENGTH = ascii("content-length");
const TRANSFER_ENCODING = ascii("transfer-encoding");
const H_CONNECTION = nameHash(CONNECTION), H_CONTENT_LENGTH = nameHash(CONTENT_LENGTH);
const H_TRANSFER_ENCODING = nameHash(TRANSFER_ENCODING);
const CLOSE_TOKEN = ascii("close"), KEEP_ALIVE_TOKEN = ascii("keep-alive");
const CHUNKED_TOKEN = ascii("chunked");
/** Methods of RFC 9110 other than GET and HEAD: answered 405 rather than 501. */
const KNOWN_METHODS = ["POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"].map(ascii);
/** Longest method token looked at; longer ones are 501 without further ado. */
const MAX_METHOD = 20;

/** Whether `b[start..end)` lowercased (ASCII letters only) equals the lowercase `lit`. */
function equalsLower(b: Uint8Array, start: number, end: number, lit: Uint8Array): boolean {
  if (end - start !== lit.length) return false;
  for (let i = 0; i < lit.length; i++) {
    const c = b[start + i];
    if ((c >= 65 && c <= 90 ? c | 32 : c) !== lit[i]) return false;
  }
  return true;
}

function isOws(c: number): boolean {
  return c === SP || c === HTAB;
}

/** What `parseHead` needs besides the bytes; built once per parser by `headRules`. */
export interface HeadRules {
  /** Largest `Content-Length` accepted. */
  readonly maxBody: number;
  /** Lowercase name of the client-IP header, or null. */
  readonly ipName: Uint8Array | null;
  /** `nameHash` of `ipName`. */
  readonly ipHash: number;
  /** Whether the client is the last comma-separated entry of the IP header (else the first). */
  readonly ipLast: boolean;
}

/** Builds the `HeadRules` for a body limit and an optional client-IP header. */
export function headRules(
  maxBody: number,
  ipHeader: string | null,
  ipEntry: "first" | "last",
): HeadRules {
  const ipName = ipHeader ? ascii(ipHeader.toLowerCase()) : null;
  return { maxBody, ipName, ipHash: ipName ? nameHash(ipName) : 0, ipLast: ipEntry === "last" };
}

/**
 * Parses the head whose request line is `b[ls..lf)` (`lf` at its LF) into `req`. The caller
 * has found the head's empty line and made sure that every CR in it ends a line
 * (`RequestParser` does both). Returns `HttpError.None`, a method error (`MethodNotAllowed` or
 * `MethodNotImplemented`: the head is otherwise valid and `req` complete, `keepAlive`
 * included), or the error that makes the connection close.
 */
export function parseHead(
  b: Uint8Array,
  ls: number,
  lf: number,
  req: HttpRequest,
  rules: HeadRules,
): number {
  req.buf = b;
  req.keepAlive = false;
  req.method = Method.Other;
  req.minor = 1;
  req.contentLength = 0;
  req.ipStart = req.ipEnd = -1;
  const le = b[lf - 1] === CR ? lf - 1 : lf;

  // Method: a token, then one space.
  let p = ls;
  while (p < le && p - ls <= MAX_METHOD && TOKEN_LOWER[b[p]] !== 0) p++;
  if (p - ls > MAX_METHOD) return HttpError.MethodNotImplemented;
  if (p === ls || p >= le || b[p] !== SP) return HttpError.BadRequestLine;
  const methodLen = p - ls;
  let method = -1;
  if (methodLen === 3 && b[ls] === 71 && b[ls + 1] === 69 && b[ls + 2] === 84) {
    method = Method.Get;
  } else if (
    methodLen === 4 && b[ls] === 72 && b[ls + 1] === 69 && b[ls + 2] === 65 && b[ls + 3] === 68
  ) {
    method = Method.Head;
  }

  // Version: the last 8 bytes, "HTTP/d.d", after a space.
  const v = le - 8;
  if (
    v <= p + 2 || b[v - 1] !== SP || b[v] !== 72 || b[v + 1] !== 84 || b[v + 2] !== 84 ||
    b[v + 3] !== 80 || b[v + 4] !== SLASH || b[v + 6] !== 46
  ) {
    return HttpError.BadRequestLine;
  }
  const major = b[v + 5] - 48, minor = b[v + 7] - 48;
  if (major < 0 || major > 9 || minor < 0 || minor > 9) {
    return HttpError.BadRequestLine;
  }
  if (major !== 1) return HttpError.VersionNotSupported;
  req.minor = minor;

  // Target: from after the method's space to before the version's space.
  let t = p + 1;
  const te = v - 1;
  if (b[t] !== SLASH) {
    // Absolute-form: http:// or https://, then the authority up to the path or query.
    const c4 = b[t + 4], c5 = b[t + 5];
    const scheme = equalsLower(b, t, t + 4, HTTP_TOKEN)
      ? (c4 === COLON ? 5 : ((c4 | 32) === 115 && c5 === COLON) ? 6 : 0)
      : 0;
    if (scheme === 0 || b[t + scheme] !== SLASH || b[t + scheme + 1] !== SLASH) {
      return HttpError.BadRequestLine;
    }
    t += scheme + 2;
    while (t < te && b[t] !== SLASH && b[t] !== QUESTION) t++;
  }
  let q = t;
  while (q < te && b[q] !== QUESTION) q++;
  req.pathStart = t;
  req.pathEnd = q;
  req.queryStart = q < te ? q + 1 : te;
  req.queryEnd = te;

  // Header fields.
  let close = false, keepAliveToken = false, hasLength = false, teCount = 0, chunked = false;
  let line = lf + 1;
  const ipName = rules.ipName;
  for (;;) {
    let nl = line;
    while (b[nl] !== LF) nl++;
    const e = nl > line && b[nl - 1] === CR ? nl - 1 : nl;
    if (e === line) break; // the empty line: end of head
    // Name: token characters up to the colon, hashed lowercased as they go.
    let h = 0, c = line;
    for (; c < e; c++) {
      const x = b[c];
      if (x === COLON) break;
      const lower = TOKEN_LOWER[x];
      if (lower === 0) return HttpError.BadHeader;
      h = (Math.imul(h, 31) + lower) | 0;
    }
    if (c === line || c >= e) return HttpError.BadHeader;
    const nameLen = c - line;
    let vs = c + 1, ve = e;
    while (vs < ve && isOws(b[vs])) vs++;
    while (ve > vs && isOws(b[ve - 1])) ve--;
    if (nameLen === 10 && h === H_CONNECTION && equalsLower(b, line, c, CONNECTION)) {
      // Comma-separated tokens; `close` wins over `keep-alive`.
      for (let s = vs; s < ve;) {
        let x = s;
        while (x < ve && b[x] !== COMMA) x++;
        let ts = s, tEnd = x;
        while (ts < tEnd && isOws(b[ts])) ts++;
        while (tEnd > ts && isOws(b[tEnd - 1])) tEnd--;
        if (equalsLower(b, ts, tEnd, CLOSE_TOKEN)) close = true;
        else if (equalsLower(b, ts, tEnd, KEEP_ALIVE_TOKEN)) keepAliveToken = true;
        s = x + 1;
      }
    } else if (
      nameLen === 14 && h === H_CONTENT_LENGTH && equalsLower(b, line, c, CONTENT_LENGTH)
    ) {
      if (vs === ve) return HttpError.BadContentLength;
      let n = 0;
      for (let i = vs; i < ve; i++) {
        const d = b[i] - 48;
        if (d < 0 || d > 9) return HttpError.BadContentLength;
        n = n * 10 + d;
        if (n > rules.maxBody) n = rules.maxBody + 1; // saturate: no overflow
      }
      if (hasLength && n !== req.contentLength) return HttpError.BadContentLength;
      hasLength = true;
      req.contentLength = n;
    } else if (
      nameLen === 17 && h === H_TRANSFER_ENCODING &&
      equalsLower(b, line, c, TRANSFER_ENCODING)
    ) {
      // Only the final coding matters: is it chunked?
      let s = ve;
      while (s > vs && b[s - 1] !== COMMA) s--;
      while (s < ve && isOws(b[s])) s++;
      chunked = equalsLower(b, s, ve, CHUNKED_TOKEN);
      teCount++;
    } else if (
      ipName !== null && nameLen === ipName.length && h === rules.ipHash &&
      equalsLower(b, line, c, ipName) && (rules.ipLast || req.ipStart < 0)
    ) {
      let s = vs, x = ve;
      if (rules.ipLast) {
        while (s < x && b[x - 1] !== COMMA) x--;
        s = x;
        x = ve;
      } else {
        x = s;
        while (x < ve && b[x] !== COMMA) x++;
      }
      while (s < x && isOws(b[s])) s++;
      while (x > s && isOws(b[x - 1])) x--;
      req.ipStart = s < x ? s : -1;
      req.ipEnd = s < x ? x : -1;
    }
    line = nl + 1;
  }

  if (teCount > 0) {
    return hasLength || !chunked ? HttpError.BadTransferEncoding : HttpError.ChunkedBody;
  }
  if (req.contentLength > rules.maxBody) return HttpError.BodyTooLarge;
  req.keepAlive = minor >= 1 ? !close : keepAliveToken && !close;
  if (method < 0) {
    return isKnownMethod(b, ls, p) ? HttpError.MethodNotAllowed : HttpError.MethodNotImplemented;
  }
  req.method = method;
  return HttpError.None;
}

const HTTP_TOKEN = ascii("http");

function isKnownMethod(b: Uint8Array, start: number, end: number): boolean {
  outer: for (const m of KNOWN_METHODS) {
    if (m.length !== end - start) continue;
    for (let i = 0; i < m.length; i++) if (b[start + i] !== m[i]) continue outer;
    return true;
  }
  return false;
}
