/**
 * The fast path for the messages a WebTorrent tracker mostly sees, announces (with offers) and
 * answers: their UTF-8 bytes are scanned as JSON where they lie, the ids decoded to bytes, and
 * each SDP left as the escaped JSON text it came in, to be copied unchanged into the message
 * forwarded. No string is made of the message, and the SDPs (most of its bytes) are never
 * decoded, unescaped, cloned between workers or escaped again.
 *
 * It accepts a strict subset of what `TextDecoder` + `JSON.parse` + `validate` (`protocol.ts`)
 * accept, and means the same by it: valid UTF-8 and JSON, ids of 20 code points up to 255 (as
 * UTF-8 or escapes), known keys at most once and unescaped, numbers without exponents, and
 * values it skips nested at most `MAX_DEPTH` deep (`json_bytes.ts`). Anything else (scrapes, refusals, escaped or
 * repeated keys, a byte-order mark) makes `scanMessage` return false, and the message takes
 * the general path, which decides what it is.
 *
 * @module
 */

import { WsEvent } from "./protocol.ts";
import type { AnnounceRequest, AnswerRequest } from "./protocol.ts";
import type { ByteBuffer } from "../shared/base/byte_buffer.ts";
import { ascii, sameBytes } from "../shared/base/bytes.ts";
import {
  COMMA,
  exact,
  id,
  K_OTHER,
  lastNumber,
  LBRACKET,
  literal,
  members,
  number,
  QUOTE,
  RBRACKET,
  skip,
  space,
  stringEnd,
} from "./json_bytes.ts";

/** `Scanned.kind`: an announce, with `offers` offers. */
export const SCAN_ANNOUNCE = 1;
/** `Scanned.kind`: an answer to an offer. */
export const SCAN_ANSWER = 2;
/** The largest `max_offers` (`config.ts`): room for this many offers. */
export const MAX_OFFERS = 100;
/** The slot of `sdpAt`/`sdpLen` an answer's SDP takes (apart from the offers'). */
export const ANSWER_SLOT = MAX_OFFERS;

/** An announce or answer, scanned; one is reused for every message. */
export class Scanned {
  /** `SCAN_ANNOUNCE` or `SCAN_ANSWER`. */
  kind = 0;
  /** The info hash, 20 bytes (the code points of WebTorrent's binary string). */
  readonly hash = new Uint8Array(20);
  /** The sending peer's id. */
  readonly peer = new Uint8Array(20);
  /** An answer's `to_peer_id`. */
  readonly toPeer = new Uint8Array(20);
  /** An answer's `offer_id`. */
  readonly offerId = new Uint8Array(20);
  /** An announce's `WsEvent`. */
  event = 0;
  /** An announce's `left === 0`. */
  seeder = false;
  /** An announce's `uploaded` (0 when absent, null or negative; the integer part). */
  uploaded = 0;
  /** An announce's `downloaded` (as `uploaded`). */
  downloaded = 0;
  /** Offers used (at most `max_offers`). */
  offers = 0;
  /** The offers' ids, 20 bytes each. */
  readonly offerIds = new Uint8Array(20 * MAX_OFFERS);
  /** Where each SDP's JSON string text (inside the quotes) starts in `src`: offers, then an answer's at `ANSWER_SLOT`. */
  readonly sdpAt = new Int32Array(MAX_OFFERS + 1);
  /** Its length in bytes. */
  readonly sdpLen = new Int32Array(MAX_OFFERS + 1);
  /** The bytes the SDPs lie in. */
  src: Uint8Array = new Uint8Array(0);
}

// Keys, by their bit in the set of keys seen.
const K_ACTION = 0, K_INFO_HASH = 1, K_PEER_ID = 2, K_OFFERS = 3, K_ANSWER = 4;
const K_TO_PEER_ID = 5, K_OFFER_ID = 6, K_EVENT = 7, K_LEFT = 8, K_NUMWANT = 9;
const K_UPLOADED = 10, K_DOWNLOADED = 11;
const TOP_KEYS = [
  "action",
  "info_hash",
  "peer_id",
  "offers",
  "answer",
  "to_peer_id",
  "offer_id",
  "event",
  "left",
  "numwant",
  "uploaded",
  "downloaded",
].map(ascii);
const OFFER_KEYS = ["offer_id", "offer"].map(ascii);
const SDP_KEYS = ["type", "sdp"].map(ascii);
const ANNOUNCE = ascii("announce"), OFFER = ascii("offer"), ANSWER = ascii("answer");
const NULL = ascii("null");
/** Event names and their `WsEvent`, as `validate` reads them. */
const EVENTS: [Uint8Array, number][] = [
  [ascii("started"), WsEvent.Started],
  [ascii("stopped"), WsEvent.Stopped],
  [ascii("completed"), WsEvent.Completed],
  [ascii("update"), WsEvent.None],
  [ascii("paused"), WsEvent.Paused],
  [ascii(""), WsEvent.None],
];

/**
 * Scans the message `b` (a whole text message's bytes). True when it is an announce or an
 * answer that `validate` accepts, with `m` filled in (`m.src` is `b`); false when it must
 * take the general path. At most `maxOffers` offers are used; later ones are only checked as
 * JSON, as `validate` ignores them.
 */
export function scanMessage(b: Uint8Array, maxOffers: number, m: Scanned): boolean {
  const end = b.length;
  s.b = b;
  s.end = end;
  s.m = m;
  s.maxOffers = Math.min(maxOffers, MAX_OFFERS);
  s.seen = 0;
  s.answer = false;
  m.src = b;
  m.offers = 0;
  m.event = WsEvent.None;
  m.seeder = false;
  m.uploaded = 0;
  m.downloaded = 0;
  const p = members(b, space(b, 0, end), end, TOP_KEYS, s.top);
  if (p < 0 || space(b, p, end) !== end) return false;
  const seen = s.seen;
  const need = (1 << K_ACTION) | (1 << K_INFO_HASH) | (1 << K_PEER_ID);
  if ((seen & need) !== need) return false;
  if (s.answer) {
    const both = (1 << K_TO_PEER_ID) | (1 << K_OFFER_ID);
    if ((seen & both) !== both) return false;
    m.kind = SCAN_ANSWER;
  } else {
    m.kind = SCAN_ANNOUNCE;
  }
  return true;
}

/** The scanner's state and its member callbacks, made once (no closure per message). */
class State {
  b: Uint8Array = new Uint8Array(0);
  end = 0;
  m: Scanned = new Scanned();
  maxOffers = 0;
  seen = 0;
  answer = false;
  #offerSlot = 0;
  #sdpSlot = 0;
  #sdpType: Uint8Array = OFFER;
  #sdpSeen = 0;
  #offerSeen = 0;

  /** A member of the message object. */
  readonly top = (key: number, p: number): number => {
    const { b, end, m } = this;
    if (key !== K_OTHER) this.seen |= 1 << key;
    switch (key) {
      case K_ACTION:
        return exact(b, p, end, ANNOUNCE);
      case K_INFO_HASH:
        return id(b, p, end, m.hash, 0);
      case K_PEER_ID:
        return id(b, p, end, m.peer, 0);
      case K_TO_PEER_ID:
        return id(b, p, end, m.toPeer, 0);
      case K_OFFER_ID:
        return id(b, p, end, m.offerId, 0);
      case K_EVENT: {
        if (b[p] === 0x6e) return literal(b, p, end, NULL);
        if (b[p] !== QUOTE) return -1;
        const q = stringEnd(b, p + 1, end);
        if (q < 0) return -1;
        for (const [name, event] of EVENTS) {
          if (sameBytes(b, p + 1, q - p - 1, name)) {
            m.event = event;
            return q + 1;
          }
        }
        return -1;
      }
      case K_LEFT:
      case K_NUMWANT:
      case K_UPLOADED:
      case K_DOWNLOADED: {
        if (b[p] === 0x6e) return literal(b, p, end, NULL);
        const q = number(b, p, end);
        if (key === K_LEFT) {
          if (lastNumber.negative) return -1; // refused, or -0: the general path says which
          m.seeder = lastNumber.zero;
        } else if (key !== K_NUMWANT && q > 0 && !lastNumber.negative) {
          if (key === K_UPLOADED) m.uploaded = integerPart(b, p, q);
          else m.downloaded = integerPart(b, p, q);
        }
        return q;
      }
      case K_ANSWER:
        this.answer = b[p] !== 0x6e;
        if (!this.answer) return literal(b, p, end, NULL);
        return this.#sdpObject(p, ANSWER, ANSWER_SLOT);
      case K_OFFERS:
        return this.#offers(p);
      default:
        return skip(b, p, end, 1);
    }
  };

  #offers(p: number): number {
    const { b, end, m } = this;
    if (b[p] === 0x6e) return literal(b, p, end, NULL);
    if (b[p] !== LBRACKET) return -1;
    p = space(b, p + 1, end);
    if (b[p] === RBRACKET) return p + 1;
    for (let i = 0;; i++) {
      if (i < this.maxOffers) {
        this.#offerSlot = i;
        this.#offerSeen = 0;
        p = members(b, p, end, OFFER_KEYS, this.#offer);
        if (p < 0 || this.#offerSeen !== 3) return -1;
        m.offers = i + 1;
      } else {
        p = skip(b, p, end, 2);
        if (p < 0) return -1;
      }
      p = space(b, p, end);
      if (b[p] === RBRACKET) return p + 1;
      if (b[p] !== COMMA) return -1;
      p = space(b, p + 1, end);
    }
  }

  /** A member of an offer: `offer_id`, `offer`, or another (ignored, as `validate` does). */
  readonly #offer = (key: number, p: number): number => {
    const { b, end, m } = this;
    if (key === K_OTHER) return skip(b, p, end, 3);
    this.#offerSeen |= 1 << key;
    if (key === 0) return id(b, p, end, m.offerIds, 20 * this.#offerSlot);
    return this.#sdpObject(p, OFFER, this.#offerSlot);
  };

  /** An `{type, sdp}` object whose type must be `type`; its SDP goes to slot `slot`. */
  #sdpObject(p: number, type: Uint8Array, slot: number): number {
    this.#sdpType = type;
    this.#sdpSlot = slot;
    this.#sdpSeen = 0;
    p = members(this.b, p, this.end, SDP_KEYS, this.#sdp);
    return p < 0 || this.#sdpSeen !== 3 ? -1 : p;
  }

  /** A member of an SDP object: `type`, `sdp`, or another (ignored). */
  readonly #sdp = (key: number, p: number): number => {
    const { b, end, m } = this;
    if (key === K_OTHER) return skip(b, p, end, 4);
    this.#sdpSeen |= 1 << key;
    if (key === 0) return exact(b, p, end, this.#sdpType);
    if (b[p] !== QUOTE) return -1;
    const q = stringEnd(b, p + 1, end);
    if (q < 0) return -1;
    m.sdpAt[this.#sdpSlot] = p + 1;
    m.sdpLen[this.#sdpSlot] = q - p - 1;
    return q + 1;
  };
}

const s = new State();

/** The integer part of the JSON number `b[p, q)` (digits, then maybe a fraction). */
function integerPart(b: Uint8Array, p: number, q: number): number {
  let v = 0;
  for (let i = p; i < q && b[i] >= 0x30 && b[i] <= 0x39; i++) v = v * 10 + (b[i] - 0x30);
  return v;
}

const enc = new TextEncoder();

/**
 * Fills `m` from a request the general path validated, so that both paths hand request
 * workers the same record: ids as bytes, and each SDP as `JSON.stringify` writes it (without
 * its quotes), in UTF-8 in `scratch`, which `m.src` then is.
 */
export function fromRequest(r: AnnounceRequest | AnswerRequest, m: Scanned, scratch: ByteBuffer) {
  const bytes = (id: string, out: Uint8Array, o: number) => {
    for (let i = 0; i < 20; i++) out[o + i] = id.charCodeAt(i);
  };
  const sdp = (text: string, slot: number) => {
    const json = JSON.stringify(text);
    const at = scratch.reserve(3 * json.length);
    const { written } = enc.encodeInto(json, scratch.buf.subarray(at));
    m.sdpAt[slot] = at + 1;
    m.sdpLen[slot] = written - 2;
    scratch.len = at + written;
  };
  scratch.len = 0;
  bytes(r.infoHash, m.hash, 0);
  bytes(r.peerId, m.peer, 0);
  if (r.kind === "answer") {
    m.kind = SCAN_ANSWER;
    bytes(r.toPeerId, m.toPeer, 0);
    bytes(r.offerId, m.offerId, 0);
    sdp(r.answer.sdp, ANSWER_SLOT);
  } else {
    m.kind = SCAN_ANNOUNCE;
    m.event = r.event;
    m.seeder = r.seeder;
    m.uploaded = r.uploaded;
    m.downloaded = r.downloaded;
    m.offers = Math.min(r.offers.length, MAX_OFFERS);
    for (let i = 0; i < m.offers; i++) {
      bytes(r.offers[i].offerId, m.offerIds, 20 * i);
      sdp(r.offers[i].offer.sdp, i);
    }
  }
  m.src = scratch.buf; // after the last write: the buffer may have grown
}
