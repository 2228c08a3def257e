/**
 * What travels between WebSocket socket workers and request workers.
 *
 * Requests, and scrape counts, go as one flat array of numbers and strings per batch and
 * destination, posted as one structured-clone message. Flat, because V8 clones an array of
 * primitives several times faster than the same data as objects: 36 vs 272 µs for a batch of
 * 40 announces with 5 offers each, measured on the build machine (each object writes its keys
 * and a header; strings are copied either way). Records, each starting with its kind:
 *
 * | direction | kind | then |
 * |---|---|---|
 * | socket → request | `REQ_ANNOUNCE` | conn, info hash, peer id, event, seeder (0/1), offers n, n × (offer id, sdp) |
 * | socket → request | `REQ_ANSWER` | conn, info hash, peer id, to peer id, offer id, sdp |
 * | socket → request | `REQ_SCRAPE` | conn, scrape id, n, n × info hash |
 * | socket → request | `REQ_CLOSED` | conn |
 * | request → socket | `RES_SCRAPE` | conn, scrape id, n, n × (info hash, complete, incomplete, downloaded) |
 *
 * Messages to connections go as bytes (through the link's shared-memory ring): the request
 * worker writes them as finished WebSocket frames (`frames.ts`), so its socket worker sends
 * them as they are, with no string to clone, hold or encode. A byte batch is a run of records,
 * each the messages to one connection, in the order they were sent:
 *
 * | u32 LE | u32 LE | u32 LE | u32 LE | u32 LE | |
 * |---|---|---|---|---|---|
 * | `RES_FRAMES` | conn | messages | payload bytes | frame bytes (n) | n bytes of frames |
 *
 * @module
 */

import type { AnnounceRequest, AnswerRequest, Offer } from "./protocol.ts";
import type { ByteSink } from "../shared/base/byte_buffer.ts";
import { getU32LE, setU32LE } from "../shared/base/bytes.ts";

/** One batch, either way. */
export type Batch = (string | number)[];

/** Record kind: an announce (with its offers). */
export const REQ_ANNOUNCE = 1;
/** Record kind: an answer to an offer. */
export const REQ_ANSWER = 2;
/** Record kind: a scrape part. */
export const REQ_SCRAPE = 3;
/** Record kind: a connection closed. */
export const REQ_CLOSED = 4;
/** Byte record kind: frames to one connection. */
export const RES_FRAMES = 1;
/** Bytes of a `RES_FRAMES` record's header. */
export const FRAMES_HEAD = 20;
/** Record kind: the counts of a scrape part. */
export const RES_SCRAPE = 2;

/** One scrape entry: info hash, complete, incomplete, downloaded. */
export type ScrapeEntry = [string, number, number, number];

/** Appends an announce from connection `conn`. */
export function pushAnnounce(b: Batch, conn: number, r: AnnounceRequest): void {
  b.push(REQ_ANNOUNCE, conn, r.infoHash, r.peerId, r.event, r.seeder ? 1 : 0, r.offers.length);
  for (const o of r.offers) b.push(o.offerId, o.offer.sdp);
}

/** Appends an answer from connection `conn`. */
export function pushAnswer(b: Batch, conn: number, r: AnswerRequest): void {
  b.push(REQ_ANSWER, conn, r.infoHash, r.peerId, r.toPeerId, r.offerId, r.answer.sdp);
}

/** Appends the part of scrape `id` of connection `conn` that one request worker answers. */
export function pushScrape(b: Batch, conn: number, id: number, hashes: string[]): void {
  b.push(REQ_SCRAPE, conn, id, hashes.length, ...hashes);
}

/** Appends that connection `conn` closed. */
export function pushClosed(b: Batch, conn: number): void {
  b.push(REQ_CLOSED, conn);
}

/**
 * Starts a `RES_FRAMES` record for connection `conn` in `w`; write its frames after it, then
 * end it with `endFrames`. Returns where the record starts.
 */
export function beginFrames(w: ByteSink, conn: number): number {
  const at = w.reserve(FRAMES_HEAD);
  w.len = at + FRAMES_HEAD;
  setU32LE(w.buf, at, RES_FRAMES);
  setU32LE(w.buf, at + 4, conn);
  return at;
}

/** Ends the record begun at `at`: `messages` frames with `payload` bytes of text, up to `w.len`. */
export function endFrames(w: ByteSink, at: number, messages: number, payload: number): void {
  setU32LE(w.buf, at + 8, messages);
  setU32LE(w.buf, at + 12, payload);
  setU32LE(w.buf, at + 16, w.len - at - FRAMES_HEAD);
}

/** Appends the counts of a part of scrape `id` of connection `conn`. */
export function pushScrapeCounts(b: Batch, conn: number, id: number, files: ScrapeEntry[]): void {
  b.push(RES_SCRAPE, conn, id, files.length);
  for (const f of files) b.push(f[0], f[1], f[2], f[3]);
}

/** What a request worker does with the records of a batch. */
export interface RequestHandlers {
  /** An announce from connection `conn`. */
  announce(conn: number, r: AnnounceRequest): void;
  /** An answer from connection `conn`. */
  answer(conn: number, r: AnswerRequest): void;
  /** A part of scrape `id` of connection `conn`. */
  scrape(conn: number, id: number, hashes: string[]): void;
  /** Connection `conn` closed. */
  closed(conn: number): void;
}

/** What a socket worker does with the records of a batch. */
export interface SocketHandlers {
  /**
   * `messages` frames holding `payload` bytes of text for connection `conn`: the `len` bytes
   * at `b[at]` (valid only during the call).
   */
  frames(
    conn: number,
    b: Uint8Array,
    at: number,
    len: number,
    messages: number,
    payload: number,
  ): void;
  /** The counts of a part of scrape `id` of connection `conn`. */
  scrape(conn: number, id: number, files: ScrapeEntry[]): void;
}

const str = (v: string | number) => v as string;
const num = (v: string | number) => v as number;

/** Hands each record of `b` (socket → request) to `h`; stops at an unknown kind. */
export function readRequests(b: Batch, h: RequestHandlers): void {
  for (let p = 0; p < b.length;) {
    const kind = b[p], conn = num(b[p + 1]);
    if (kind === REQ_ANNOUNCE) {
      const n = num(b[p + 6]);
      const offers: Offer[] = new Array(n);
      for (let k = 0, q = p + 7; k < n; k++, q += 2) {
        offers[k] = { offerId: str(b[q]), offer: { type: "offer", sdp: str(b[q + 1]) } };
      }
      h.announce(conn, {
        kind: "announce",
        infoHash: str(b[p + 2]),
        peerId: str(b[p + 3]),
        event: num(b[p + 4]),
        seeder: b[p + 5] === 1,
        offers,
      });
      p += 7 + 2 * n;
    } else if (kind === REQ_ANSWER) {
      h.answer(conn, {
        kind: "answer",
        infoHash: str(b[p + 2]),
        peerId: str(b[p + 3]),
        toPeerId: str(b[p + 4]),
        offerId: str(b[p + 5]),
        answer: { type: "answer", sdp: str(b[p + 6]) },
      });
      p += 7;
    } else if (kind === REQ_SCRAPE) {
      const n = num(b[p + 3]);
      h.scrape(conn, num(b[p + 2]), b.slice(p + 4, p + 4 + n) as string[]);
      p += 4 + n;
    } else if (kind === REQ_CLOSED) {
      h.closed(conn);
      p += 2;
    } else {
      return;
    }
  }
}

/** Hands each record of the byte batch `b` (request → socket) to `h`; stops at a bad record. */
export function readFrames(b: Uint8Array, h: SocketHandlers): void {
  for (let p = 0; p + FRAMES_HEAD <= b.length;) {
    const len = getU32LE(b, p + 16);
    if (getU32LE(b, p) !== RES_FRAMES || p + FRAMES_HEAD + len > b.length) return;
    h.frames(getU32LE(b, p + 4), b, p + FRAMES_HEAD, len, getU32LE(b, p + 8), getU32LE(b, p + 12));
    p += FRAMES_HEAD + len;
  }
}

/** Hands each record of `b` (request → socket) to `h`; stops at an unknown kind. */
export function readResponses(b: Batch, h: SocketHandlers): void {
  for (let p = 0; p < b.length;) {
    const kind = b[p], conn = num(b[p + 1]);
    if (kind === RES_SCRAPE) {
      const n = num(b[p + 3]);
      const files: ScrapeEntry[] = new Array(n);
      for (let k = 0, q = p + 4; k < n; k++, q += 4) {
        files[k] = [str(b[q]), num(b[q + 1]), num(b[q + 2]), num(b[q + 3])];
      }
      h.scrape(conn, num(b[p + 2]), files);
      p += 4 + 4 * n;
    } else {
      return;
    }
  }
}
