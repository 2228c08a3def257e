/**
 * Server WebSocket text frames written straight into a byte buffer, so that a request worker
 * hands its socket worker bytes ready for `send` instead of strings to encode.
 *
 * Forwarded offers and answers are written from their parts as the request batch holds them
 * (`messages.ts`), with no string made: a short loop escapes the three ids (20 bytes each,
 * WebTorrent's binary strings) into JSON in UTF-8, and the SDP's JSON string text is copied as
 * it arrived. A string holding code points 128–255, as binary ids are, takes V8's slow path
 * to UTF-8 (figures: `bench/results/design-notes.md`). When the client escaped its SDP as
 * `JSON.stringify` does, the bytes are exactly those of `offerMessage` and `answerMessage`
 * (`protocol.ts`) in UTF-8; otherwise they are the same JSON value.
 *
 * @module
 */

import type { ByteSink } from "../shared/base/byte_buffer.ts";
import { ascii, putDigits } from "../shared/base/bytes.ts";

const enc = new TextEncoder();

/** Bytes of the header of a server frame with `payloadLen` bytes of payload. */
export function frameHeadLength(payloadLen: number): number {
  return payloadLen < 126 ? 2 : payloadLen < 65536 ? 4 : 10;
}

/** Writes the header of a final server frame at `b[at]`; returns its length. */
export function writeFrameHead(
  b: Uint8Array,
  at: number,
  opcode: number,
  payloadLen: number,
): number {
  b[at] = 0x80 | opcode;
  if (payloadLen < 126) {
    b[at + 1] = payloadLen;
    return 2;
  }
  if (payloadLen < 65536) {
    b[at + 1] = 126;
    b[at + 2] = payloadLen >> 8;
    b[at + 3] = payloadLen & 0xff;
    return 4;
  }
  b[at + 1] = 127;
  b[at + 2] =
    b[at + 3] =
    b[at + 4] =
    b[at + 5] =
      0;
  b[at + 6] = payloadLen >>> 24;
  b[at + 7] = payloadLen >>> 16;
  b[at + 8] = payloadLen >>> 8;
  b[at + 9] = payloadLen & 0xff;
  return 10;
}

/**
 * Ends a text frame whose payload was written at `start + guess` (room for a header of `guess`
 * bytes left before it) and ended at `end`: writes the header, moving the payload when the
 * header is not `guess` bytes long. Returns the payload's length and sets `w.len`.
 */
function closeFrame(w: ByteSink, start: number, guess: number, end: number): number {
  const b = w.buf;
  const payload = end - start - guess;
  const head = writeFrameHead(b, start, 0x1, payload);
  if (head !== guess) b.copyWithin(start + head, start + guess, end);
  w.len = start + head + payload;
  return payload;
}

/** Appends `text` as one text frame; returns its payload bytes. */
export function writeTextFrame(w: ByteSink, text: string): number {
  // UTF-8 takes at most 3 bytes per UTF-16 unit.
  const max = text.length * 3;
  const start = w.reserve(max + 10);
  const guess = frameHeadLength(max);
  const { written } = enc.encodeInto(text, w.buf.subarray(start + guess));
  return closeFrame(w, start, guess, start + guess + written);
}

const INFO_HASH = ascii('{"action":"announce","info_hash":"');
const PEER_ID = ascii('","peer_id":"');
const OFFER_ID = ascii('","offer_id":"');
const OFFER_SDP = ascii('","offer":{"type":"offer","sdp":');
const ANSWER_SDP = ascii('","answer":{"type":"answer","sdp":');
const HEX = ascii("0123456789abcdef");

/** Copies the short `c` to `b[o]`; returns the offset after it (a loop beats `set` this short). */
function copy(b: Uint8Array, o: number, c: Uint8Array): number {
  for (let i = 0; i < c.length; i++) b[o + i] = c[i];
  return o + c.length;
}

/**
 * Writes the id whose 20 bytes (code points up to 255) are at `src[at]` as the inside of a
 * JSON string, escaped as `JSON.stringify` does, in UTF-8; returns the offset after it. Needs 6
 * bytes per character.
 */
function writeJsonId(b: Uint8Array, o: number, src: Uint8Array, at: number): number {
  for (let i = at; i < at + 20; i++) {
    const c = src[i];
    if (c >= 0x20 && c < 0x80) {
      if (c === 0x22 || c === 0x5c) b[o++] = 0x5c;
      b[o++] = c;
    } else if (c >= 0x80) {
      b[o++] = 0xc0 | (c >> 6);
      b[o++] = 0x80 | (c & 0x3f);
    } else {
      o = writeControl(b, o, c);
    }
  }
  return o;
}

/** Writes the JSON escape of the control character `c` at `b[o]`; returns the offset after it. */
function writeControl(b: Uint8Array, o: number, c: number): number {
  b[o++] = 0x5c;
  const short = c === 8
    ? 0x62
    : c === 9
    ? 0x74
    : c === 10
    ? 0x6e
    : c === 12
    ? 0x66
    : c === 13
    ? 0x72
    : 0;
  if (short !== 0) {
    b[o++] = short;
    return o;
  }
  b[o++] = 0x75; // \u00XX
  b[o++] = 0x30;
  b[o++] = 0x30;
  b[o++] = HEX[c >> 4];
  b[o++] = HEX[c & 15];
  return o;
}

/**
 * Appends a forwarded offer (`kind` "offer") or answer ("answer") as one text frame: the
 * message `offerMessage` / `answerMessage` (`protocol.ts`) make with `{type: kind, sdp}`, from
 * the ids at `src[hashAt]`, `src[fromAt]` and `src[offerIdAt]` (20 bytes each) and the SDP's
 * JSON string text, `sdpLen` bytes at `src[sdpAt]`. Returns the payload's bytes.
 */
export function writeForwardFrame(
  w: ByteSink,
  kind: "offer" | "answer",
  src: Uint8Array,
  hashAt: number,
  fromAt: number,
  offerIdAt: number,
  sdpAt: number,
  sdpLen: number,
): number {
  const max = INFO_HASH.length + PEER_ID.length + OFFER_ID.length + ANSWER_SDP.length +
    6 * 60 + sdpLen + 4;
  const start = w.reserve(max + 10);
  const guess = frameHeadLength(max);
  const b = w.buf;
  let o = copy(b, start + guess, INFO_HASH);
  o = copy(b, writeJsonId(b, o, src, hashAt), PEER_ID);
  o = copy(b, writeJsonId(b, o, src, fromAt), OFFER_ID);
  o = copy(b, writeJsonId(b, o, src, offerIdAt), kind === "offer" ? OFFER_SDP : ANSWER_SDP);
  b[o++] = 0x22; // "
  b.set(src.subarray(sdpAt, sdpAt + sdpLen), o);
  o += sdpLen;
  b[o++] = 0x22;
  b[o++] = 0x7d; // }
  b[o++] = 0x7d;
  return closeFrame(w, start, guess, o);
}

const INTERVAL = ascii('","interval":');
const COMPLETE = ascii(',"complete":');
const INCOMPLETE = ascii(',"incomplete":');

/**
 * Appends the reply to an announce as one text frame: the message `announceReply`
 * (`protocol.ts`) makes, byte for byte, from the info hash at `src[hashAt]` (20 bytes) and the
 * three numbers, each a non-negative safe integer. Returns the payload's bytes.
 */
export function writeAnnounceFrame(
  w: ByteSink,
  src: Uint8Array,
  hashAt: number,
  interval: number,
  complete: number,
  incomplete: number,
): number {
  const max = INFO_HASH.length + 6 * 20 + INTERVAL.length + COMPLETE.length +
    INCOMPLETE.length + 3 * 16 + 1;
  const start = w.reserve(max + 10);
  const guess = frameHeadLength(max);
  const b = w.buf;
  let o = copy(b, start + guess, INFO_HASH);
  o = copy(b, writeJsonId(b, o, src, hashAt), INTERVAL);
  o = copy(b, putDigits(b, o, interval), COMPLETE);
  o = copy(b, putDigits(b, o, complete), INCOMPLETE);
  o = putDigits(b, o, incomplete);
  b[o++] = 0x7d; // }
  return closeFrame(w, start, guess, o);
}

/**
 * A forwarded offer's or answer's parts as `writeForwardFrame` takes them after its sink: the
 * kind, the request batch they lie in, where its ids and SDP text start, the SDP's length.
 */
export type ForwardParts = Parameters<typeof writeForwardFrame> extends [ByteSink, ...infer P] ? P
  : never;
