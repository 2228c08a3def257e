/**
 * Server WebSocket text frames written straight into a byte buffer, so that a request worker
 * hands its socket worker bytes ready for `send` instead of strings to encode.
 *
 * Forwarded offers and answers are written from their parts, not from a `JSON.stringify` of
 * the whole message: WebTorrent's ids are binary strings (code points 0–255), and V8 turns a
 * string holding code points 128–255 into UTF-8 about six times slower than an ASCII one
 * (`TextEncoder.encodeInto`, 1.1 vs 0.18 µs for a 657-character offer on the build machine;
 * `JSON.stringify` of it 1.2 vs 0.75 µs). Here a short loop escapes and encodes the three
 * 20-character ids straight into the buffer, and only the SDP goes through `JSON.stringify`
 * and `encodeInto` (it is ASCII in practice). The bytes are exactly those of `offerMessage` and
 * `answerMessage` (`protocol.ts`) in UTF-8.
 *
 * @module
 */

import type { ByteSink } from "../shared/base/byte_buffer.ts";

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

const ascii = (s: string) => enc.encode(s);
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
 * Writes the id `s` (code points up to 255) as the inside of a JSON string, escaped as
 * `JSON.stringify` does, in UTF-8; returns the offset after it. Needs 6 bytes per character.
 * Only validated ids come here (`isBinary20` in `protocol.ts`): a branch for code points
 * from 0x800 would cost forwarding 15% (`hot_paths_bench.ts`).
 */
function writeJsonId(b: Uint8Array, o: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
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
 * Appends a forwarded offer (`kind` "offer") or answer ("answer") as one text frame: the bytes
 * of `offerMessage` / `answerMessage` (`protocol.ts`) with `{type: kind, sdp}` as the SDP
 * object. `infoHash`, `peerId` and `offerId` are validated ids (20 code points, each up to
 * 255). Returns the payload's bytes.
 */
export function writeForwardFrame(
  w: ByteSink,
  kind: "offer" | "answer",
  infoHash: string,
  peerId: string,
  offerId: string,
  sdp: string,
): number {
  // JSON.stringify and encodeInto do the SDP natively: 2–3 times faster than a loop here.
  const json = JSON.stringify(sdp);
  const max = INFO_HASH.length + PEER_ID.length + OFFER_ID.length + ANSWER_SDP.length +
    6 * 60 + 3 * json.length + 2;
  const start = w.reserve(max + 10);
  const guess = frameHeadLength(max);
  const b = w.buf;
  let o = copy(b, start + guess, INFO_HASH);
  o = copy(b, writeJsonId(b, o, infoHash), PEER_ID);
  o = copy(b, writeJsonId(b, o, peerId), OFFER_ID);
  o = copy(b, writeJsonId(b, o, offerId), kind === "offer" ? OFFER_SDP : ANSWER_SDP);
  o += enc.encodeInto(json, b.subarray(o)).written;
  b[o++] = 0x7d; // }
  b[o++] = 0x7d;
  return closeFrame(w, start, guess, o);
}
