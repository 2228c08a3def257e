/**
 * The head of every HTTP response shoal writes, into a caller-owned `ByteSink`: the status
 * line, `Content-Type: text/plain`, `Content-Length`, `Connection: close` when the connection
 * closes (or `Connection: keep-alive` to an HTTP/1.0 client that keeps it), `Allow` on 405, and
 * nothing else (no `Date`, no `Server`). Plus the plain-text error responses.
 *
 * The body is written first, after room left for the head (`beginResponse`); `finishResponse`
 * then writes the head in front of it and moves the body up to meet it (one `copyWithin`). For
 * `HEAD` the body is dropped and its `Content-Length` kept, as for the `GET` it stands for.
 *
 * @module
 */

import type { ByteSink } from "./bencode.ts";
import { putDigits } from "../shared/base/bytes.ts";
import { HTTP_ERROR_STATUS, HTTP_ERROR_TEXT, HttpError, Method } from "./request_head.ts";
import { ascii } from "../shared/base/bytes.ts";

/** Flags for the head of a response; see `responseFlags`. */
export const Reply = {
  /** Send `Connection: close`: the connection closes after this response. */
  Close: 1,
  /** Answering `HEAD`: head only, with the length the body would have. */
  Head: 2,
  /** Send `Connection: keep-alive` (an HTTP/1.0 client that asked to keep the connection). */
  KeepAlive: 4,
} as const;

/** The `Reply` flags for answering a request (`HttpRequest` fields) of a parser. */
export function responseFlags(
  req: { method: number; minor: number; keepAlive: boolean },
  mustClose: boolean,
): number {
  if (mustClose || !req.keepAlive) {
    return Reply.Close | (req.method === Method.Head ? Reply.Head : 0);
  }
  return (req.method === Method.Head ? Reply.Head : 0) | (req.minor === 0 ? Reply.KeepAlive : 0);
}

/** Room left for the head before the body; more than the longest head. */
export const HEAD_ROOM = 192;

const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  411: "Length Required",
  413: "Content Too Large",
  414: "URI Too Long",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};
/** Head prefixes up to the `Content-Length` value, by status. */
const prefixes = new Map<number, Uint8Array>();
function prefix(status: number): Uint8Array {
  let p = prefixes.get(status);
  if (p === undefined) {
    const s = Math.min(999, Math.max(100, Math.floor(status) || 500));
    p = ascii(
      `HTTP/1.1 ${s} ${REASONS[s] ?? "Error"}\r\nContent-Type: text/plain\r\nContent-Length: `,
    );
    if (prefixes.size < 64) prefixes.set(status, p);
  }
  return p;
}
const CLOSE = ascii("\r\nConnection: close\r\n");
const KEEP_ALIVE = ascii("\r\nConnection: keep-alive\r\n");
const CRLF = ascii("\r\n");
const ALLOW = ascii("Allow: GET, HEAD\r\n");
const head = new Uint8Array(HEAD_ROOM);

/** Starts a response: leaves `HEAD_ROOM` for the head and returns where the response starts. */
export function beginResponse(w: ByteSink): number {
  const start = w.reserve(HEAD_ROOM);
  w.len = start + HEAD_ROOM;
  return start;
}

/**
 * Ends the response begun at `start` (by `beginResponse`; the body written since): writes the
 * head and moves the body after it. Returns the response's length.
 */
export function finishResponse(w: ByteSink, start: number, status: number, flags: number): number {
  const bodyStart = start + HEAD_ROOM, bodyLen = w.len - bodyStart;
  const p = prefix(status);
  head.set(p, 0);
  let h = putDigits(head, p.length, bodyLen);
  const conn = flags & Reply.Close ? CLOSE : flags & Reply.KeepAlive ? KEEP_ALIVE : CRLF;
  head.set(conn, h);
  h += conn.length;
  if (status === 405) {
    head.set(ALLOW, h);
    h += ALLOW.length;
  }
  head[h++] = 13;
  head[h++] = 10;
  const b = w.buf;
  for (let i = 0; i < h; i++) b[start + i] = head[i];
  if (flags & Reply.Head) {
    w.len = start + h;
  } else {
    b.copyWithin(start + h, bodyStart, bodyStart + bodyLen);
    w.len = start + h + bodyLen;
  }
  return w.len - start;
}

/**
 * Writes a plain-text error response with `status` and `text` (ASCII) plus a newline as its
 * body; 405 also gets `Allow: GET, HEAD`. Returns the length.
 */
export function writeErrorResponse(
  w: ByteSink,
  status: number,
  text: string,
  flags: number,
): number {
  const start = beginResponse(w);
  const o = w.reserve(text.length + 1);
  for (let i = 0; i < text.length; i++) w.buf[o + i] = text.charCodeAt(i) & 0xff;
  w.buf[o + text.length] = 10;
  w.len = o + text.length + 1;
  return finishResponse(w, start, status, flags);
}

/**
 * Writes the answer to a `RequestParser` error (`parser.error`, `parser.mustClose`, and its
 * request's `minor`): the status and text of `HTTP_ERROR_STATUS` and `HTTP_ERROR_TEXT`.
 */
export function writeParseError(
  w: ByteSink,
  error: number,
  mustClose: boolean,
  minor: number,
): number {
  const e = error > HttpError.None && error < HTTP_ERROR_STATUS.length ? error : 1;
  const flags = mustClose ? Reply.Close : minor === 0 ? Reply.KeepAlive : 0;
  return writeErrorResponse(w, HTTP_ERROR_STATUS[e], HTTP_ERROR_TEXT[e], flags);
}
