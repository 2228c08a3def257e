/**
 * BEP 15 wire format, both ways, as pure functions over byte arrays (big-endian).
 *
 * The server side reads requests in place and writes responses into caller-owned buffers, so
 * the hot path allocates nothing. The client side (used by tests, interop and the load
 * generator) writes requests and reads responses.
 *
 * @module
 */

import {
  getI32BE as readI32,
  getU32BE as readU32,
  setU32BE as writeU32,
} from "../shared/base/bytes.ts";
import {
  AnnounceEvent,
  REFUSAL_TEXT,
  SCRAPE_ENTRY_LEN,
  writeScrapeEntry,
} from "../core/records.ts";

/** Big-endian integer helpers, under the names the codec uses. */
export { readI32, readU32, writeU32 };

/**
 * A scrape entry (seeders, completed, leechers, big-endian) is laid out as the core's
 * (`core/records.ts`), so the core's entries are copied into a response as they are.
 */
export { SCRAPE_ENTRY_LEN, writeScrapeEntry };

/** Announce `event` values: BEP 15's numbers are the core's. */
export { AnnounceEvent };

/** The magic `protocol_id` of a connect request (0x41727101980). */
export const PROTOCOL_ID_HI = 0x417;
/** Low 32 bits of the magic `protocol_id`. */
export const PROTOCOL_ID_LO = 0x27101980;

/** Request and response `action` values. */
export const Action = { Connect: 0, Announce: 1, Scrape: 2, Error: 3 } as const;

/** Smallest announce request (BEP 41 options may follow). */
export const ANNOUNCE_LEN = 98;
/** Header of a scrape request before its info hashes. */
export const SCRAPE_HEADER_LEN = 16;
/** Bytes of an announce response before its peers. */
export const ANNOUNCE_RESPONSE_HEADER_LEN = 20;
/** Bytes of a scrape response before its per-hash entries. */
export const SCRAPE_RESPONSE_HEADER_LEN = 8;

// Offsets in an announce request.
/** Offset of the info hash in announce and scrape requests. */
export const OFF_INFO_HASH = 16;
/** Offset of the peer id in an announce request. */
export const OFF_PEER_ID = 36;
/** Offset of `left` (i64) in an announce request. */
export const OFF_LEFT = 64;
/** Offset of `event` (i32) in an announce request. */
export const OFF_EVENT = 80;
/** Offset of `num_want` (i32) in an announce request. */
export const OFF_NUMWANT = 92;
/** Offset of `port` (u16) in an announce request. */
export const OFF_PORT = 96;

/** What kind of request a datagram is, as far as its header tells. */
export const Kind = {
  /** Too short to carry a header, or a connect with the wrong magic: stay silent. */
  Ignore: 0,
  /** A connect request. */
  Connect: 1,
  /** An announce request of valid length. */
  Announce: 2,
  /** A scrape request with at least one info hash. */
  Scrape: 3,
  /** An announce that is too short. */
  BadAnnounce: 4,
  /** A scrape without info hashes. */
  EmptyScrape: 5,
  /** An unknown action. */
  BadAction: 6,
} as const;

/**
 * Classifies the datagram of `len` bytes at `off`. For every kind but `Ignore` and `Connect`
 * the connection ID must be checked before anything is answered.
 */
export function classify(b: Uint8Array, off: number, len: number): number {
  if (len < 16) return Kind.Ignore;
  const action = readI32(b, off + 8);
  switch (action) {
    case Action.Connect:
      return readU32(b, off) === PROTOCOL_ID_HI && readU32(b, off + 4) === PROTOCOL_ID_LO
        ? Kind.Connect
        : Kind.Ignore;
    case Action.Announce:
      return len >= ANNOUNCE_LEN ? Kind.Announce : Kind.BadAnnounce;
    case Action.Scrape:
      return len >= SCRAPE_HEADER_LEN + 20 ? Kind.Scrape : Kind.EmptyScrape;
    default:
      return Kind.BadAction;
  }
}

/** Number of whole info hashes in a scrape of `len` bytes (a partial trailing hash is ignored). */
export function scrapeHashCount(len: number): number {
  return Math.floor((len - SCRAPE_HEADER_LEN) / 20);
}

/** Reasons the server answers with an error response, indexes into `PROBLEM_TEXT`. */
export const Problem = {
  BadAnnounce: 1,
  EmptyScrape: 2,
  BadAction: 3,
  BadEvent: 4,
  PortZero: 5,
} as const;

/** Why an announce with a valid header is refused, or 0 when it is acceptable. */
export function announceProblem(b: Uint8Array, off: number): number {
  const event = readI32(b, off + OFF_EVENT);
  if (event < 0 || event > 3) return Problem.BadEvent;
  if (b[off + OFF_PORT] === 0 && b[off + OFF_PORT + 1] === 0) return Problem.PortZero;
  return 0;
}

const enc = new TextEncoder();
/** Pre-encoded error messages, by `Problem`. */
export const PROBLEM_TEXT: readonly Uint8Array[] = [
  enc.encode(""),
  enc.encode("invalid announce request: too short"),
  enc.encode("invalid scrape request: no info hash"),
  enc.encode("invalid action"),
  enc.encode("invalid announce request: unknown event"),
  enc.encode("invalid announce request: port 0"),
];

/** The core's refusals (`core/records.ts` `Refusal`), pre-encoded for error responses. */
export const REFUSAL_BYTES: readonly Uint8Array[] = REFUSAL_TEXT.map((t) => enc.encode(t));

/**
 * Peers to send for `num_want` when a reply holds at most `max`: `max` when the client asks
 * for more, or for 0 or less (-1 is BEP 15's "the default").
 */
export function peersWanted(numWant: number, max: number): number {
  return numWant <= 0 || numWant > max ? max : numWant;
}

/** True when `left` (i64) is zero: the announcing peer is a seeder. */
export function isSeeder(b: Uint8Array, off: number): boolean {
  for (let i = off + OFF_LEFT; i < off + OFF_LEFT + 8; i++) if (b[i] !== 0) return false;
  return true;
}

/** Writes a connect response; returns its length (16). */
export function writeConnectResponse(
  out: Uint8Array,
  o: number,
  tid: number,
  cidHi: number,
  cidLo: number,
): number {
  writeU32(out, o, Action.Connect);
  writeU32(out, o + 4, tid);
  writeU32(out, o + 8, cidHi);
  writeU32(out, o + 12, cidLo);
  return 16;
}

/** Writes the 20-byte header of an announce response; peers follow. */
export function writeAnnounceHeader(
  out: Uint8Array,
  o: number,
  tid: number,
  interval: number,
  leechers: number,
  seeders: number,
): number {
  writeU32(out, o, Action.Announce);
  writeU32(out, o + 4, tid);
  writeU32(out, o + 8, interval);
  writeU32(out, o + 12, leechers);
  writeU32(out, o + 16, seeders);
  return ANNOUNCE_RESPONSE_HEADER_LEN;
}

/** Writes the 8-byte header of a scrape response; 12-byte entries follow. */
export function writeScrapeHeader(out: Uint8Array, o: number, tid: number): number {
  writeU32(out, o, Action.Scrape);
  writeU32(out, o + 4, tid);
  return SCRAPE_RESPONSE_HEADER_LEN;
}

/** Writes an error response with `message`; returns its length. */
export function writeErrorResponse(
  out: Uint8Array,
  o: number,
  tid: number,
  message: Uint8Array,
): number {
  writeU32(out, o, Action.Error);
  writeU32(out, o + 4, tid);
  out.set(message, o + 8);
  return 8 + message.length;
}

// ---------------------------------------------------------------------------------------------
// Client side: requests out, responses in. Allocation is fine here (tests, tools).

/** Fields of an announce request. */
export interface AnnounceRequest {
  /** Connection ID as 8 bytes. */
  connectionId: Uint8Array;
  /** Transaction ID. */
  transactionId: number;
  /** 20-byte info hash. */
  infoHash: Uint8Array;
  /** 20-byte peer id. */
  peerId: Uint8Array;
  /** Bytes downloaded. */
  downloaded?: bigint;
  /** Bytes left; 0 makes the peer a seeder. */
  left: bigint;
  /** Bytes uploaded. */
  uploaded?: bigint;
  /** One of `AnnounceEvent`. */
  event?: number;
  /** IPv4 address field (ignored by shoal). */
  ip?: number;
  /** Key. */
  key?: number;
  /** Peers wanted; -1 is the default. */
  numWant?: number;
  /** Port the peer listens on. */
  port: number;
  /** BEP 41 option bytes to append. */
  options?: Uint8Array;
}

/** Encodes a connect request. */
export function encodeConnectRequest(transactionId: number): Uint8Array {
  const b = new Uint8Array(16);
  writeU32(b, 0, PROTOCOL_ID_HI);
  writeU32(b, 4, PROTOCOL_ID_LO);
  writeU32(b, 8, Action.Connect);
  writeU32(b, 12, transactionId);
  return b;
}

/** Encodes an announce request. */
export function encodeAnnounceRequest(r: AnnounceRequest): Uint8Array {
  const opts = r.options ?? new Uint8Array(0);
  const b = new Uint8Array(ANNOUNCE_LEN + opts.length);
  const v = new DataView(b.buffer);
  b.set(r.connectionId, 0);
  v.setInt32(8, Action.Announce);
  v.setInt32(12, r.transactionId);
  b.set(r.infoHash, OFF_INFO_HASH);
  b.set(r.peerId, OFF_PEER_ID);
  v.setBigInt64(56, r.downloaded ?? 0n);
  v.setBigInt64(OFF_LEFT, r.left);
  v.setBigInt64(72, r.uploaded ?? 0n);
  v.setInt32(OFF_EVENT, r.event ?? AnnounceEvent.None);
  v.setUint32(84, r.ip ?? 0);
  v.setUint32(88, r.key ?? 0);
  v.setInt32(OFF_NUMWANT, r.numWant ?? -1);
  v.setUint16(OFF_PORT, r.port);
  b.set(opts, ANNOUNCE_LEN);
  return b;
}

/** Encodes a scrape request for `infoHashes`. */
export function encodeScrapeRequest(
  connectionId: Uint8Array,
  transactionId: number,
  infoHashes: Uint8Array[],
): Uint8Array {
  const b = new Uint8Array(SCRAPE_HEADER_LEN + 20 * infoHashes.length);
  b.set(connectionId, 0);
  writeU32(b, 8, Action.Scrape);
  writeU32(b, 12, transactionId);
  infoHashes.forEach((h, i) => b.set(h, SCRAPE_HEADER_LEN + 20 * i));
  return b;
}

/** A decoded response. */
export type Response =
  | { action: 0; transactionId: number; connectionId: Uint8Array }
  | {
    action: 1;
    transactionId: number;
    interval: number;
    leechers: number;
    seeders: number;
    /** Peers as `ip:port` strings (IPv6 bracketed). */
    peers: string[];
  }
  | {
    action: 2;
    transactionId: number;
    torrents: { seeders: number; completed: number; leechers: number }[];
  }
  | { action: 3; transactionId: number; message: string };

function formatPeer(b: Uint8Array, i: number, ipLen: number): string {
  const port = (b[i + ipLen] << 8) | b[i + ipLen + 1];
  if (ipLen === 4) return `${b[i]}.${b[i + 1]}.${b[i + 2]}.${b[i + 3]}:${port}`;
  const words: string[] = [];
  for (let j = 0; j < 16; j += 2) words.push(((b[i + j] << 8) | b[i + j + 1]).toString(16));
  return `[${words.join(":")}]:${port}`;
}

/**
 * Decodes a response; `ipv6` says whether announce peers are 18 bytes (IPv6) or 6 (IPv4).
 * Throws on malformed input.
 */
export function decodeResponse(b: Uint8Array, ipv6: boolean): Response {
  if (b.length < 8) throw new Error(`response too short: ${b.length} bytes`);
  const action = readI32(b, 0);
  const transactionId = readI32(b, 4);
  switch (action) {
    case Action.Connect:
      if (b.length !== 16) throw new Error(`connect response of ${b.length} bytes`);
      return { action, transactionId, connectionId: b.slice(8, 16) };
    case Action.Announce: {
      const size = ipv6 ? 18 : 6;
      if (b.length < 20 || (b.length - 20) % size !== 0) {
        throw new Error(`announce response of ${b.length} bytes`);
      }
      const peers: string[] = [];
      for (let i = 20; i < b.length; i += size) peers.push(formatPeer(b, i, size - 2));
      return {
        action,
        transactionId,
        interval: readI32(b, 8),
        leechers: readI32(b, 12),
        seeders: readI32(b, 16),
        peers,
      };
    }
    case Action.Scrape: {
      if ((b.length - 8) % 12 !== 0) throw new Error(`scrape response of ${b.length} bytes`);
      const torrents = [];
      for (let i = 8; i < b.length; i += 12) {
        torrents.push({
          seeders: readI32(b, i),
          completed: readI32(b, i + 4),
          leechers: readI32(b, i + 8),
        });
      }
      return { action, transactionId, torrents };
    }
    case Action.Error:
      return { action, transactionId, message: new TextDecoder().decode(b.subarray(8)) };
    default:
      throw new Error(`unknown action ${action}`);
  }
}
