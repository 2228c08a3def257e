/**
 * What travels between WebSocket socket workers and request workers.
 *
 * Requests go as bytes, through the link's shared-memory ring, one batch per request worker
 * per turn: ids as their 20 bytes (the code points of WebTorrent's binary strings), and each
 * SDP as the JSON string text it arrived in (`scan.ts`), so that it is copied, never parsed,
 * cloned or escaped again. Records (u32 and lengths little-endian):
 *
 * | kind | then |
 * |---|---|
 * | `REQ_ANNOUNCE` | u8 event, u8 seeder (0/1), u8 offers n, u32 conn, info hash, peer id, n × (offer id, u32 sdp length, sdp) |
 * | `REQ_ANSWER` | 3 bytes unused, u32 conn, info hash, peer id, to peer id, offer id, u32 sdp length, sdp |
 * | `REQ_SCRAPE` | 3 bytes unused, u32 conn, u32 scrape id, u32 n, n × info hash |
 * | `REQ_CLOSED` | 3 bytes unused, u32 conn |
 * | `REQ_ACCOUNT` | u8 event, u8 seeder, 1 unused, u32 conn, u32 key, info hash, peer id, f64 uploaded, f64 downloaded |
 * | `REQ_ACCOUNT_KEY_TEXT` | as `REQ_ACCOUNT`, then u8 n and the key's n characters |
 *
 * `REQ_ACCOUNT` follows an announce of a private tracker: the key it came with and the
 * client's totals, for the accounting (`shared/store/peer_accounts.ts`). Key indices are a
 * process's own, so to another node of a cluster the key's text goes along
 * (`REQ_ACCOUNT_KEY_TEXT`), and the owner accounts it under its own index for that key.
 *
 * Messages to connections go back as bytes too: the request worker writes them as finished
 * WebSocket frames (`frames.ts`), so its socket worker sends them as they are. A byte batch is
 * a run of records, each the messages to one connection, in the order they were sent:
 *
 * | u32 LE | u32 LE | u32 LE | u32 LE | u32 LE | |
 * |---|---|---|---|---|---|
 * | `RES_FRAMES` | conn | messages | payload bytes | frame bytes (n) | n bytes of frames |
 *
 * Scrape counts go back as one flat array of numbers and strings per batch (`RES_SCRAPE`: conn,
 * scrape id, n, n × (info hash, complete, incomplete, downloaded)), posted as one
 * structured-clone message: scrapes are rare, and flat because V8 clones an array of
 * primitives several times faster than the same data as objects.
 *
 * @module
 */

import type { ByteBuffer, ByteSink } from "../shared/base/byte_buffer.ts";
import { getU32LE, setU32LE } from "../shared/base/bytes.ts";
import { ANSWER_SLOT, SCAN_ANNOUNCE, type Scanned } from "./scan.ts";
import { WsEvent } from "./protocol.ts";
import { type KeyTable, MAX_KEY_LEN } from "../shared/store/key_table.ts";

/** A structured-clone batch (scrape counts). */
export type Batch = (string | number)[];

/** Record kind: an announce (with its offers). */
export const REQ_ANNOUNCE = 1;
/** Record kind: an answer to an offer. */
export const REQ_ANSWER = 2;
/** Record kind: a scrape part. */
export const REQ_SCRAPE = 3;
/** Record kind: a connection closed. */
export const REQ_CLOSED = 4;
/** Record kind: a private tracker's accounting of the announce before it. */
export const REQ_ACCOUNT = 5;
/** Bytes of a `REQ_ACCOUNT` record. */
export const ACCOUNT_LEN = 72;
/** Record kind: `REQ_ACCOUNT` with the key's text, to another node. */
export const REQ_ACCOUNT_KEY_TEXT = 6;
/** Byte record kind: frames to one connection. */
export const RES_FRAMES = 1;
/** Bytes of a `RES_FRAMES` record's header. */
export const FRAMES_HEAD = 20;
/** Record kind: the counts of a part of a scrape. */
export const RES_SCRAPE = 2;

/** One scrape entry: info hash, complete, incomplete, downloaded. */
export type ScrapeEntry = [string, number, number, number];

function copy20(to: Uint8Array, at: number, from: Uint8Array, off: number): void {
  for (let i = 0; i < 20; i++) to[at + i] = from[off + i];
}

/** Appends the announce or answer `m` from connection `conn`. */
export function pushScanned(w: ByteBuffer, conn: number, m: Scanned): void {
  const src = m.src;
  if (m.kind === SCAN_ANNOUNCE) {
    const at = w.take(48), b = w.buf;
    b[at] = REQ_ANNOUNCE;
    b[at + 1] = m.event;
    b[at + 2] = m.seeder ? 1 : 0;
    b[at + 3] = m.offers;
    setU32LE(b, at + 4, conn);
    copy20(b, at + 8, m.hash, 0);
    copy20(b, at + 28, m.peer, 0);
    for (let i = 0; i < m.offers; i++) {
      const sdpAt = m.sdpAt[i], len = m.sdpLen[i];
      const o = w.take(24 + len), ob = w.buf;
      copy20(ob, o, m.offerIds, 20 * i);
      setU32LE(ob, o + 20, len);
      ob.set(src.subarray(sdpAt, sdpAt + len), o + 24);
    }
    return;
  }
  const sdpAt = m.sdpAt[ANSWER_SLOT], len = m.sdpLen[ANSWER_SLOT];
  const at = w.take(92 + len), b = w.buf;
  b[at] = REQ_ANSWER;
  setU32LE(b, at + 4, conn);
  copy20(b, at + 8, m.hash, 0);
  copy20(b, at + 28, m.peer, 0);
  copy20(b, at + 48, m.toPeer, 0);
  copy20(b, at + 68, m.offerId, 0);
  setU32LE(b, at + 88, len);
  b.set(src.subarray(sdpAt, sdpAt + len), at + 92);
}

const f64 = new Float64Array(2), f64b = new Uint8Array(f64.buffer);

/** Appends the accounting of the announce `m` of connection `conn`, made with key `key`. */
export function pushAccount(w: ByteBuffer, conn: number, key: number, m: Scanned): void {
  const at = w.take(ACCOUNT_LEN), b = w.buf;
  b[at] = REQ_ACCOUNT;
  b[at + 1] = m.event;
  b[at + 2] = m.seeder ? 1 : 0;
  b[at + 3] = 0;
  setU32LE(b, at + 4, conn);
  setU32LE(b, at + 8, key);
  copy20(b, at + 12, m.hash, 0);
  copy20(b, at + 32, m.peer, 0);
  f64[0] = m.uploaded;
  f64[1] = m.downloaded;
  b.set(f64b, at + 52);
}

/**
 * Appends the accounting of the announce `m` of connection `conn` for another node: key index
 * `key` as its text, which `keys` holds.
 */
export function pushAccountKeyText(
  w: ByteBuffer,
  conn: number,
  keys: KeyTable,
  key: number,
  m: Scanned,
): void {
  pushAccount(w, conn, key, m);
  const at = w.len - ACCOUNT_LEN;
  const t = w.take(1 + MAX_KEY_LEN), b = w.buf;
  b[at] = REQ_ACCOUNT_KEY_TEXT;
  const n = keys.copyKey(key, b, t + 1);
  b[t] = n;
  // A key with no text here (not expected: refusals come first) would end the reader's batch.
  w.len = n === 0 ? at : t + 1 + n;
}

/** Appends the part of scrape `id` of connection `conn` that one request worker answers. */
export function pushScrape(w: ByteBuffer, conn: number, id: number, hashes: string[]): void {
  const at = w.take(16 + 20 * hashes.length), b = w.buf;
  b[at] = REQ_SCRAPE;
  setU32LE(b, at + 4, conn);
  setU32LE(b, at + 8, id);
  setU32LE(b, at + 12, hashes.length);
  for (let k = 0; k < hashes.length; k++) {
    for (let i = 0; i < 20; i++) b[at + 16 + 20 * k + i] = hashes[k].charCodeAt(i);
  }
}

/**
 * Appends a cluster's `WsEvent.Rejoin` of connection `conn`'s peer `peer` (a 20-character
 * binary string) in the torrent of the 20 bytes `hash`.
 */
export function pushRejoin(
  w: ByteBuffer,
  conn: number,
  hash: Uint8Array,
  peer: string,
  seeder: boolean,
): void {
  const at = w.take(48), b = w.buf;
  b[at] = REQ_ANNOUNCE;
  b[at + 1] = WsEvent.Rejoin;
  b[at + 2] = seeder ? 1 : 0;
  b[at + 3] = 0;
  setU32LE(b, at + 4, conn);
  copy20(b, at + 8, hash, 0);
  for (let i = 0; i < 20; i++) b[at + 28 + i] = peer.charCodeAt(i);
}

/** Appends that connection `conn` closed. */
export function pushClosed(w: ByteBuffer, conn: number): void {
  const at = w.take(8);
  w.buf[at] = REQ_CLOSED;
  setU32LE(w.buf, at + 4, conn);
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

/**
 * An announce as a request worker reads it. One object is reused for every record: it and
 * its arrays are valid only during the handler's call, and `bytes` (the batch) until the
 * worker's next flush.
 */
export class AnnounceIn {
  /** The info hash, as a 20-character binary string. */
  infoHash = "";
  /** The announcing peer's id. */
  peerId = "";
  /** One of `WsEvent`. */
  event = 0;
  /** `left === 0`: the peer seeds. */
  seeder = false;
  /** Offers to forward. */
  offers = 0;
  /** The batch the positions below are in. */
  bytes: Uint8Array = new Uint8Array(0);
  /** Where the info hash's 20 bytes are. */
  hashAt = 0;
  /** Where the peer id's 20 bytes are. */
  peerAt = 0;
  /** Where each offer id's 20 bytes are. */
  offerIdAt: number[] = [];
  /**
   * Offer `k`'s id as a binary string, made when asked: an offer that finds no peer (most, in
   * small swarms) needs none.
   */
  offerId(k: number): string {
    return binaryString(this.bytes, this.offerIdAt[k]);
  }
  /** Where each SDP's JSON string text (inside the quotes) is. */
  sdpAt: number[] = [];
  /** Its length in bytes. */
  sdpLen: number[] = [];
}

/** An answer as a request worker reads it; reused, valid as `AnnounceIn` is. */
export class AnswerIn {
  /** The info hash. */
  infoHash = "";
  /** The answering peer's id. */
  peerId = "";
  /** The peer that made the offer. */
  toPeerId = "";
  /** The offer answered. */
  offerId = "";
  /** The batch the positions below are in. */
  bytes: Uint8Array = new Uint8Array(0);
  /** Where the info hash's 20 bytes are. */
  hashAt = 0;
  /** Where the answering peer's id is. */
  peerAt = 0;
  /** Where the offer id is. */
  offerIdAt = 0;
  /** Where the SDP's JSON string text is. */
  sdpAt = 0;
  /** Its length in bytes. */
  sdpLen = 0;
}

/** What a request worker does with the records of a batch. */
export interface RequestHandlers {
  /** An announce from connection `conn`. */
  announce(conn: number, r: AnnounceIn): void;
  /** An answer from connection `conn`. */
  answer(conn: number, r: AnswerIn): void;
  /** A part of scrape `id` of connection `conn`. */
  scrape(conn: number, id: number, hashes: string[]): void;
  /** Connection `conn` closed. */
  closed(conn: number): void;
  /**
   * A private tracker's accounting: the `REQ_ACCOUNT` record at `b[p]` (key at `p + 8`, info
   * hash at `p + 12`, peer id at `p + 32`, totals at `p + 52`).
   */
  account?(b: Uint8Array, p: number): void;
  /**
   * The same from another node (`REQ_ACCOUNT_KEY_TEXT`): the key at `p + 8` is the sender's,
   * its text at `b[start…end)`.
   */
  accountKeyText?(b: Uint8Array, p: number, start: number, end: number): void;
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

/** The 20 bytes at `b[at]` as a binary string. */
export function binaryString(b: Uint8Array, at: number): string {
  return String.fromCharCode(
    b[at],
    b[at + 1],
    b[at + 2],
    b[at + 3],
    b[at + 4],
    b[at + 5],
    b[at + 6],
    b[at + 7],
    b[at + 8],
    b[at + 9],
    b[at + 10],
    b[at + 11],
    b[at + 12],
    b[at + 13],
    b[at + 14],
    b[at + 15],
    b[at + 16],
    b[at + 17],
    b[at + 18],
    b[at + 19],
  );
}

const announceIn = new AnnounceIn(), answerIn = new AnswerIn();

/** Hands each record of the byte batch `b` (socket → request) to `h`; stops at a bad record. */
export function readRequests(b: Uint8Array, h: RequestHandlers): void {
  const end = b.length;
  for (let p = 0; p + 8 <= end;) {
    const kind = b[p], conn = getU32LE(b, p + 4);
    if (kind === REQ_ANNOUNCE) {
      const r = announceIn, n = b[p + 3];
      if (p + 48 > end) return;
      r.bytes = b;
      r.hashAt = p + 8;
      r.peerAt = p + 28;
      r.infoHash = binaryString(b, p + 8);
      r.peerId = binaryString(b, p + 28);
      r.event = b[p + 1];
      r.seeder = b[p + 2] === 1;
      let q = p + 48;
      for (let k = 0; k < n; k++) {
        if (q + 24 > end) return;
        const len = getU32LE(b, q + 20);
        if (q + 24 + len > end) return;
        r.offerIdAt[k] = q;
        r.sdpAt[k] = q + 24;
        r.sdpLen[k] = len;
        q += 24 + len;
      }
      r.offers = n;
      h.announce(conn, r);
      p = q;
    } else if (kind === REQ_ANSWER) {
      if (p + 92 > end) return;
      const r = answerIn, len = getU32LE(b, p + 88);
      if (p + 92 + len > end) return;
      r.bytes = b;
      r.hashAt = p + 8;
      r.peerAt = p + 28;
      r.offerIdAt = p + 68;
      r.infoHash = binaryString(b, p + 8);
      r.peerId = binaryString(b, p + 28);
      r.toPeerId = binaryString(b, p + 48);
      r.offerId = binaryString(b, p + 68);
      r.sdpAt = p + 92;
      r.sdpLen = len;
      h.answer(conn, r);
      p += 92 + len;
    } else if (kind === REQ_SCRAPE) {
      if (p + 16 > end) return;
      const n = getU32LE(b, p + 12);
      if (p + 16 + 20 * n > end) return;
      const hashes: string[] = new Array(n);
      for (let k = 0; k < n; k++) hashes[k] = binaryString(b, p + 16 + 20 * k);
      h.scrape(conn, getU32LE(b, p + 8), hashes);
      p += 16 + 20 * n;
    } else if (kind === REQ_CLOSED) {
      h.closed(conn);
      p += 8;
    } else if (kind === REQ_ACCOUNT) {
      if (p + ACCOUNT_LEN > end) return;
      h.account?.(b, p);
      p += ACCOUNT_LEN;
    } else if (kind === REQ_ACCOUNT_KEY_TEXT) {
      const n = p + ACCOUNT_LEN < end ? b[p + ACCOUNT_LEN] : 0;
      const textEnd = p + ACCOUNT_LEN + 1 + n;
      if (n === 0 || textEnd > end) return;
      h.accountKeyText?.(b, p, p + ACCOUNT_LEN + 1, textEnd);
      p = textEnd;
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
