/**
 * Announce and scrape query strings (BEP 3, 7, 23), parsed from raw bytes into reusable result
 * objects: no strings, no regular expressions, no allocation per request.
 *
 * Values are percent-decoded to bytes: `%XY` (either case) is one byte, `+` is a space, and
 * any other byte stands for itself, so clients that send `info_hash` and `peer_id` unencoded,
 * or half-encoded, work. A `%` not followed by two hex digits makes that value invalid.
 * Parameters are split at `&`; a parameter without `=` has an empty value. Names are matched
 * exactly as sent (lowercase, not percent-decoded); unknown parameters are ignored, bad bytes
 * in them included. When a parameter is repeated the first one counts and later ones are
 * ignored unread (except `info_hash` in a scrape, which lists every torrent).
 *
 * Each refusal is a `QueryFailure` code whose text (`QUERY_FAILURE_TEXT`, e.g. `invalid
 * info_hash`, `missing port`) is meant for the bencoded `failure reason`.
 *
 * @module
 */

import { parseEndpointText } from "./ip_text.ts";
import { ascii, sameBytes } from "../shared/base/bytes.ts";
import { decodeValue, skipValue, valueEnd } from "./percent.ts";

/** Why a query was refused (0: it was not); indexes into `QUERY_FAILURE_TEXT`. */
export const QueryFailure = {
  None: 0,
  MissingInfoHash: 1,
  InvalidInfoHash: 2,
  MissingPeerId: 3,
  InvalidPeerId: 4,
  MissingPort: 5,
  InvalidPort: 6,
  InvalidUploaded: 7,
  InvalidDownloaded: 8,
  InvalidLeft: 9,
  InvalidEvent: 10,
  InvalidNumwant: 11,
  InvalidKey: 12,
  InvalidTrackerId: 13,
} as const;

/** The failure reason for each `QueryFailure`. */
export const QUERY_FAILURE_TEXT: readonly string[] = [
  "",
  "missing info_hash",
  "invalid info_hash",
  "missing peer_id",
  "invalid peer_id",
  "missing port",
  "invalid port",
  "invalid uploaded",
  "invalid downloaded",
  "invalid left",
  "invalid event",
  "invalid numwant",
  "invalid key",
  "invalid trackerid",
];

/** `event` values: the BEP 15 numbers (`udp/codec.ts` `AnnounceEvent`), and BEP 21 `paused`. */
export const Event = { None: 0, Completed: 1, Started: 2, Stopped: 3, Paused: 4 } as const;

/** Longest `key` and `trackerid` kept, in bytes after decoding; longer ones are ignored. */
export const MAX_KEY_LEN = 64;

/** Largest value of `uploaded`, `downloaded` and `left`: 2^63 - 1, as in BEP 15's i64. */
const MAX_I64_DIGITS = "9223372036854775807";

/** A parsed announce; reused from request to request (`parseAnnounceQuery` resets it). */
export class AnnounceQuery {
  /** The 20-byte info hash. */
  readonly infoHash: Uint8Array = new Uint8Array(20);
  /** The 20-byte peer id. */
  readonly peerId: Uint8Array = new Uint8Array(20);
  /** The port the peer listens on, 1–65535. */
  port = 0;
  /** Bytes uploaded (exact up to 2^53; larger values, up to 2^63 - 1, rounded; -1 is 0). */
  uploaded = 0;
  /** Bytes downloaded (as `uploaded`). */
  downloaded = 0;
  /** Bytes left (as `uploaded`); 0 makes the peer a seeder; -1 when not given (a leecher). */
  left = -1;
  /** One of `Event`. */
  event: number = Event.None;
  /** Peers wanted, or -1 when not given or negative (values above 2^31 - 1 are cut to it). */
  numWant: number = -1;
  /** Compact peers (BEP 23); true unless `compact=0` (any other value means compact). */
  compact = true;
  /** `no_peer_id` was given (and not `0`): leave peer ids out of non-compact peer lists. */
  noPeerId = false;
  /** The decoded `key` in its first `keyLen` bytes. */
  readonly key: Uint8Array = new Uint8Array(MAX_KEY_LEN);
  /** Length of `key`, or -1 when it was not given or was longer than `MAX_KEY_LEN`. */
  keyLen: number = -1;
  /** The decoded `trackerid` in its first `trackerIdLen` bytes. */
  readonly trackerId: Uint8Array = new Uint8Array(MAX_KEY_LEN);
  /** Length of `trackerId`, or -1 when it was not given or was too long (as `keyLen`). */
  trackerIdLen: number = -1;
  /** `ip` as an 18-byte address record (16-byte IP, v4-mapped for IPv4, then the port or 0). */
  readonly ip: Uint8Array = new Uint8Array(18);
  /** Family of `ip`: 4, 6, or 0 when not given or not a literal address (a DNS name, say). */
  ipFamily = 0;
  /** `ipv4` as an 18-byte address record (BEP 7: an address, or an endpoint with a port). */
  readonly ipv4: Uint8Array = new Uint8Array(18);
  /** Whether `ipv4` was given. */
  hasIpv4 = false;
  /** `ipv6` as an 18-byte address record (a bare address, `[addr]` or `[addr]:port`). */
  readonly ipv6: Uint8Array = new Uint8Array(18);
  /** Whether `ipv6` was given. */
  hasIpv6 = false;
  /**
   * How many of `ip`, `ipv4` and `ipv6` were given (not empty) but are not a literal address
   * of their kind (BEP 3 allows a DNS name in `ip`): they are ignored, never an error.
   */
  ignoredIps = 0;
}

/** The info hashes of a scrape; reused from request to request. */
export class ScrapeQuery {
  /** The info hashes, 20 bytes each, in the order given; `count` of them are valid. */
  readonly hashes: Uint8Array;
  /** Number of hashes read. 0 asks for a full scrape, which the caller may refuse. */
  count = 0;
  /** Whether more than `maxTorrents` were given (the rest are ignored, unread). */
  truncated = false;
  /** Most hashes read from one scrape. */
  readonly maxTorrents: number;

  /** Makes room for `maxTorrents` hashes. */
  constructor(maxTorrents: number) {
    this.maxTorrents = Math.max(1, maxTorrents);
    this.hashes = new Uint8Array(20 * this.maxTorrents);
  }
}

const AMP = 0x26, EQ = 0x3d, ZERO = 0x30, MINUS = 0x2d;

/** Scratch for decoding numbers, events and addresses (the longest is `[v6]:port`). */
const scratch = new Uint8Array(64);

// Parameter ids, as bit positions in the set of parameters seen.
const P_INFO_HASH = 1, P_PEER_ID = 2, P_PORT = 3, P_UPLOADED = 4, P_DOWNLOADED = 5;
const P_LEFT = 6, P_EVENT = 7, P_NUMWANT = 8, P_COMPACT = 9, P_NO_PEER_ID = 10, P_KEY = 11;
const P_TRACKERID = 12, P_IP = 13, P_IPV4 = 14, P_IPV6 = 15;

const N_INFO_HASH = ascii("info_hash"), N_PEER_ID = ascii("peer_id"), N_PORT = ascii("port");
const N_UPLOADED = ascii("uploaded"), N_DOWNLOADED = ascii("downloaded");
const N_LEFT = ascii("left"), N_EVENT = ascii("event"), N_NUMWANT = ascii("numwant");
const N_COMPACT = ascii("compact"), N_NO_PEER_ID = ascii("no_peer_id"), N_KEY = ascii("key");
const N_TRACKERID = ascii("trackerid"), N_IP = ascii("ip"), N_IPV4 = ascii("ipv4");
const N_IPV6 = ascii("ipv6");

const EVENTS: [Uint8Array, number][] = [
  [ascii("started"), Event.Started],
  [ascii("completed"), Event.Completed],
  [ascii("stopped"), Event.Stopped],
  [ascii("paused"), Event.Paused],
  [ascii("empty"), Event.None],
];

function equals(b: Uint8Array, start: number, end: number, lit: Uint8Array): boolean {
  return sameBytes(b, start, end - start, lit);
}

/** The id of the announce parameter named `b[start..end)`, or 0 for an unknown one. */
function paramId(b: Uint8Array, start: number, end: number): number {
  switch (end - start) {
    case 2:
      return equals(b, start, end, N_IP) ? P_IP : 0;
    case 3:
      return equals(b, start, end, N_KEY) ? P_KEY : 0;
    case 4:
      if (equals(b, start, end, N_PORT)) return P_PORT;
      if (equals(b, start, end, N_LEFT)) return P_LEFT;
      if (equals(b, start, end, N_IPV4)) return P_IPV4;
      return equals(b, start, end, N_IPV6) ? P_IPV6 : 0;
    case 5:
      return equals(b, start, end, N_EVENT) ? P_EVENT : 0;
    case 7:
      if (equals(b, start, end, N_PEER_ID)) return P_PEER_ID;
      if (equals(b, start, end, N_COMPACT)) return P_COMPACT;
      return equals(b, start, end, N_NUMWANT) ? P_NUMWANT : 0;
    case 8:
      return equals(b, start, end, N_UPLOADED) ? P_UPLOADED : 0;
    case 9:
      if (equals(b, start, end, N_INFO_HASH)) return P_INFO_HASH;
      return equals(b, start, end, N_TRACKERID) ? P_TRACKERID : 0;
    case 10:
      if (equals(b, start, end, N_DOWNLOADED)) return P_DOWNLOADED;
      return equals(b, start, end, N_NO_PEER_ID) ? P_NO_PEER_ID : 0;
  }
  return 0;
}

/** What `parseCount` gives for a well-formed negative integer. */
const NEGATIVE = -2;

/**
 * The non-negative decimal integer `b[start..end)` (percent-decoded; leading zeros allowed)
 * if it is at most 2^63 - 1; `NEGATIVE` for a `-` and up to 19 digits; else -1. Exact up to
 * 2^53.
 */
function parseCount(b: Uint8Array, start: number, end: number): number {
  const n = decodeValue(b, start, end, scratch, 0, scratch.length);
  if (n <= 0) return -1;
  if (scratch[0] === MINUS) {
    if (n === 1 || n > 20) return -1;
    for (let k = 1; k < n; k++) if (scratch[k] < ZERO || scratch[k] > ZERO + 9) return -1;
    return NEGATIVE;
  }
  let i = 0;
  while (i < n - 1 && scratch[i] === ZERO) i++;
  const digits = n - i;
  if (digits > 19) return -1;
  // hi and lo (the last 15 digits) are exact, so hi * 1e15 + lo rounds once.
  let hi = 0, lo = 0, above = 0; // above: vs the largest value, where the digits first differ
  for (let k = 0; k < digits; k++) {
    const d = scratch[i + k] - ZERO;
    if (d < 0 || d > 9) return -1;
    if (digits === 19 && above === 0) above = d - (MAX_I64_DIGITS.charCodeAt(k) - ZERO);
    if (digits - k > 15) hi = hi * 10 + d;
    else lo = lo * 10 + d;
  }
  return above > 0 ? -1 : hi * 1e15 + lo;
}

/**
 * Parses the value of one recognised announce parameter, from `b[vs]` to the next `&`, into
 * `q` (`valueEnd()` is where it stopped); returns a `QueryFailure` or 0.
 */
function announceParam(
  id: number,
  b: Uint8Array,
  vs: number,
  end: number,
  q: AnnounceQuery,
): number {
  switch (id) {
    case P_INFO_HASH:
      return decodeValue(b, vs, end, q.infoHash, 0, 20) === 20 ? 0 : QueryFailure.InvalidInfoHash;
    case P_PEER_ID:
      return decodeValue(b, vs, end, q.peerId, 0, 20) === 20 ? 0 : QueryFailure.InvalidPeerId;
    case P_PORT: {
      const v = parseCount(b, vs, end);
      if (v < 1 || v > 65535) return QueryFailure.InvalidPort;
      q.port = v;
      return 0;
    }
    case P_UPLOADED: {
      // Some clients send -1 for "unknown": read as 0, as other trackers do.
      const v = parseCount(b, vs, end);
      q.uploaded = Math.max(0, v);
      return v === -1 ? QueryFailure.InvalidUploaded : 0;
    }
    case P_DOWNLOADED: {
      const v = parseCount(b, vs, end);
      q.downloaded = Math.max(0, v);
      return v === -1 ? QueryFailure.InvalidDownloaded : 0;
    }
    case P_LEFT:
      return (q.left = parseCount(b, vs, end)) < 0 ? QueryFailure.InvalidLeft : 0;
    case P_EVENT: {
      const n = decodeValue(b, vs, end, scratch, 0, 12);
      if (n === 0) return 0;
      for (const [name, event] of EVENTS) {
        if (equals(scratch, 0, n, name)) {
          q.event = event;
          return 0;
        }
      }
      return QueryFailure.InvalidEvent;
    }
    case P_NUMWANT: {
      const v = parseCount(b, vs, end);
      if (v === -1) return QueryFailure.InvalidNumwant;
      q.numWant = v === NEGATIVE ? -1 : Math.min(v, 0x7fffffff); // -1: the default (BEP 15)
      return 0;
    }
    case P_COMPACT:
      skipValue(b, vs, end);
      q.compact = !(valueEnd() - vs === 1 && b[vs] === ZERO);
      return 0;
    case P_NO_PEER_ID:
      skipValue(b, vs, end);
      q.noPeerId = !(valueEnd() - vs === 1 && b[vs] === ZERO);
      return 0;
    case P_KEY: {
      // Longer than anything kept is ignored (-2), not fatal; a bad escape is an error.
      const n = decodeValue(b, vs, end, q.key, 0, MAX_KEY_LEN);
      if (n === -2) skipValue(b, vs, end); // a failed decode stops before the value's end
      q.keyLen = Math.max(-1, n);
      return n === -1 ? QueryFailure.InvalidKey : 0;
    }
    case P_TRACKERID: {
      const n = decodeValue(b, vs, end, q.trackerId, 0, MAX_KEY_LEN);
      if (n === -2) skipValue(b, vs, end);
      q.trackerIdLen = Math.max(-1, n);
      return n === -1 ? QueryFailure.InvalidTrackerId : 0;
    }
    case P_IP:
    case P_IPV4:
    case P_IPV6: {
      // Never an error: only a trusted front end uses them, and it ignores what is not an
      // address (a DNS name, a zone index, a bad escape).
      const n = decodeValue(b, vs, end, scratch, 0, scratch.length);
      if (n < 0) skipValue(b, vs, end); // a failed decode stops before the value's end
      if (n === 0) return 0; // an empty value is as good as none
      const out = id === P_IP ? q.ip : id === P_IPV4 ? q.ipv4 : q.ipv6;
      const family = n < 0 ? 0 : parseEndpointText(scratch, 0, n, out, 0);
      if (id === P_IP) q.ipFamily = family;
      else if (id === P_IPV4) q.hasIpv4 = family === 4;
      else q.hasIpv6 = family === 6;
      if (family === 0 || (id === P_IPV4 && family !== 4) || (id === P_IPV6 && family !== 6)) {
        q.ignoredIps++;
      }
      return 0;
    }
  }
  return 0;
}

function reset(q: AnnounceQuery): void {
  q.port =
    q.uploaded =
    q.downloaded =
    q.ignoredIps =
      0;
  q.left = -1;
  q.event = Event.None;
  q.numWant = q.keyLen = q.trackerIdLen = -1;
  q.compact = true;
  q.noPeerId = q.hasIpv4 = q.hasIpv6 = false;
  q.ipFamily = 0;
}

/**
 * Parses the announce query `b[start..end)` (the bytes after `?`) into `q`. Returns 0, or the
 * `QueryFailure` of the first bad parameter in the query, or else of the first required one
 * missing: `info_hash`, `peer_id` and `port` are required; `left` defaults to -1 (a leecher),
 * `uploaded` and `downloaded` to 0, `event` to none, `compact` to 1. `q` is only meaningful
 * on 0.
 */
export function parseAnnounceQuery(
  b: Uint8Array,
  start: number,
  end: number,
  q: AnnounceQuery,
): number {
  reset(q);
  let seen = 0;
  for (let i = start; i < end; i = valueEnd() + 1) {
    let p = i;
    for (; p < end; p++) {
      const c = b[p];
      if (c === EQ || c === AMP) break;
    }
    const id = p > i ? paramId(b, i, p) : 0;
    const vs = p < end && b[p] === EQ ? p + 1 : p;
    if (id !== 0 && (seen & (1 << id)) === 0) {
      seen |= 1 << id;
      const failure = announceParam(id, b, vs, end, q);
      if (failure !== 0) return failure;
    } else {
      skipValue(b, vs, end);
    }
  }
  if ((seen & (1 << P_INFO_HASH)) === 0) return QueryFailure.MissingInfoHash;
  if ((seen & (1 << P_PEER_ID)) === 0) return QueryFailure.MissingPeerId;
  if ((seen & (1 << P_PORT)) === 0) return QueryFailure.MissingPort;
  return QueryFailure.None;
}

/**
 * Parses the scrape query `b[start..end)` into `q`: every `info_hash` up to `q.maxTorrents`
 * (more are cut and `truncated` set; repeats are kept). Returns 0, or `InvalidInfoHash` when
 * one of those read is not 20 bytes. No `info_hash` at all is a full scrape (`count` 0).
 */
export function parseScrapeQuery(
  b: Uint8Array,
  start: number,
  end: number,
  q: ScrapeQuery,
): number {
  q.count = 0;
  q.truncated = false;
  for (let i = start; i < end; i = valueEnd() + 1) {
    let p = i;
    for (; p < end; p++) {
      const c = b[p];
      if (c === EQ || c === AMP) break;
    }
    const vs = p < end && b[p] === EQ ? p + 1 : p;
    if (p - i === 9 && equals(b, i, p, N_INFO_HASH)) {
      if (q.count === q.maxTorrents) {
        q.truncated = true;
        return QueryFailure.None;
      }
      if (decodeValue(b, vs, end, q.hashes, 20 * q.count, 20) !== 20) {
        return QueryFailure.InvalidInfoHash;
      }
      q.count++;
    } else {
      skipValue(b, vs, end);
    }
  }
  return QueryFailure.None;
}
