/**
 * The BitTorrent core's records: what a socket worker of any protocol (UDP, HTTP, and the
 * fronts to come) sends the request workers, and what comes back, in batches (one per request
 * worker per turn, `shared/runtime/channel.ts`). Field positions are the core's own; a
 * protocol's codec reads its wire format into these records and writes its answers from them.
 *
 * Every record starts with a type byte and the client's address family (4 or 6). Integers are
 * little-endian unless a field says otherwise; addresses are the 18-byte records of
 * `shared/net/address.ts` (16-byte IP, v4-mapped for IPv4, then the big-endian port).
 *
 * Socket worker → request worker:
 *
 * `REQ_ANNOUNCE`, `ANNOUNCE_LEN` bytes:
 *
 * | offset | bytes | field |
 * |---|---|---|
 * | `A_FLAGS` | 1 | `ANNOUNCE_SEEDER` (nothing left to download), `ANNOUNCE_PEER_IDS` |
 * | `A_EVENT` | 1 | one of `AnnounceEvent` |
 * | `A_ADDR` | 18 | the client: the peer's IP, and the port an answer goes to (UDP's source) |
 * | `A_TOKEN` | 4 | the front's reference for the answer (echoed, never read) |
 * | `A_PORT` | 2 | the port the peer listens on (big-endian) |
 * | `A_WANT` | 2 | peers to list, at most `MAX_PEERS` (the front applied its default and caps) |
 * | `A_INFO_HASH` | 20 | info hash |
 * | `A_PEER_ID` | 20 | peer id |
 *
 * A peer is its IP (from `A_ADDR`) and `A_PORT`, as in opentracker and aquatic; the peer id is
 * data.
 *
 * `REQ_SCRAPE`, `SCRAPE_HEADER` + `REQ_SCRAPE_ITEM` per hash: u16 hash count at `S_COUNT`, u32
 * pending-scrape id at `S_ID`, then per hash a u16 index into the scrape and the info hash.
 *
 * `REQ_FULL_SCRAPE`, `FULL_SCRAPE_REQ_LEN` bytes: u32 token at `S_ID`: every torrent.
 *
 * Request worker → socket worker:
 *
 * `RES_ANNOUNCE`, `ANSWER_HEADER` bytes, then `R_COUNT` peers as compact addresses (IP and
 * big-endian port: 6 bytes for IPv4, 18 for IPv6), then with `ANNOUNCE_PEER_IDS` each listed
 * peer's 20-byte peer id, in the same order:
 *
 * | offset | bytes | field |
 * |---|---|---|
 * | `A_FLAGS` | 1 | the request's flags |
 * | `R_REFUSAL` | 1 | 0, or the `Refusal` that kept the peer out (no counts, no peers) |
 * | `A_ADDR` | 18 | the request's address |
 * | `A_TOKEN` | 4 | the request's token |
 * | `R_COUNT` | 2 | peers listed |
 * | `R_INTERVAL` | 4 | seconds until the peer should announce again |
 * | `R_SEEDERS`, `R_LEECHERS` | 4 + 4 | the torrent's counts, the announcer included |
 *
 * `RES_SCRAPE`, `SCRAPE_HEADER` + `RES_SCRAPE_ITEM` per hash: as the request, with a scrape
 * entry (`SCRAPE_ENTRY_LEN`) in place of each info hash.
 *
 * `RES_FULL_SCRAPE`: `FULL_SCRAPE_HEADER` (token at `S_ID`, u32 count at `F_COUNT`), then per
 * torrent its info hash and scrape entry.
 *
 * A scrape entry is three big-endian u32: seeders at `E_SEEDERS`, completed downloads at
 * `E_COMPLETED`, leechers at `E_LEECHERS` (the order BEP 15 sends them in, so UDP copies them).
 *
 * @module
 */

import { setU16LE, setU32BE, setU32LE } from "../shared/base/bytes.ts";
import { ADDR_LEN } from "../shared/net/address.ts";

/** Record type: an announce. */
export const REQ_ANNOUNCE = 1;
/** Record type: the part of a scrape owned by the receiving request worker. */
export const REQ_SCRAPE = 2;
/** Record type: a full scrape (HTTP, when the operator allows it). */
export const REQ_FULL_SCRAPE = 3;
/**
 * Record type: an announce of a private tracker, `KEYED_ANNOUNCE_LEN` bytes: an announce, then
 * the key's index (u32 at `K_KEY`) and the client's uploaded and downloaded totals (f64 at
 * `K_UPLOADED`, `K_DOWNLOADED`), for the accounting. Its answer is an announce answer.
 */
export const REQ_ANNOUNCE_KEYED = 4;
/**
 * Record type, between the nodes of a cluster only (`remote.ts`): a keyed announce whose key
 * index is the sending process's, followed by the key itself (a length byte, then at most
 * `MAX_KEY_LEN` bytes), which the owner turns into its own index (indices are per process).
 */
export const REQ_ANNOUNCE_KEY_TEXT = 5;
/** Record type: the answer to an announce. */
export const RES_ANNOUNCE = 1;
/** Record type: scrape entries for a pending scrape. */
export const RES_SCRAPE = 2;
/** Record type: every torrent of a request worker, for a full scrape. */
export const RES_FULL_SCRAPE = 3;

/** Offset of the family byte in every record. */
export const REC_FAMILY = 1;

/** Offsets of an announce's flags and event bytes (an answer keeps the flags there). */
export const A_FLAGS = 2, A_EVENT = 3;
/** Offset of the client's address in announces and their answers. */
export const A_ADDR = 4;
/** Offset of the front's token (u32), in announces and their answers. */
export const A_TOKEN = A_ADDR + ADDR_LEN;
/** Offsets of the announced port (u16, big-endian) and of the peers wanted (u16). */
export const A_PORT = A_TOKEN + 4, A_WANT = A_PORT + 2;
/** Offsets of the info hash and the peer id (20 bytes each). */
export const A_INFO_HASH = A_WANT + 2, A_PEER_ID = A_INFO_HASH + 20;
/** Bytes of an announce record. */
export const ANNOUNCE_LEN = A_PEER_ID + 20;

/** Offsets of a keyed announce's key index, uploaded and downloaded; and its length. */
export const K_KEY = ANNOUNCE_LEN, K_UPLOADED = K_KEY + 4, K_DOWNLOADED = K_UPLOADED + 8;
/** Bytes of a keyed announce record. */
export const KEYED_ANNOUNCE_LEN = K_DOWNLOADED + 8;

/** Announce flag: the peer has nothing left to download. */
export const ANNOUNCE_SEEDER = 1;
/** Announce flag: list each peer's peer id after the peers (HTTP `compact=0`). */
export const ANNOUNCE_PEER_IDS = 2;

/** Offset of an answer's refusal byte. */
export const R_REFUSAL = 3;
/** Offset of an answer's peer count (u16). */
export const R_COUNT = A_TOKEN + 4;
/** Offset of an answer's announce interval (u32). */
export const R_INTERVAL = R_COUNT + 2;
/** Offsets of an answer's seeder and leecher counts (u32 each). */
export const R_SEEDERS = R_INTERVAL + 4, R_LEECHERS = R_SEEDERS + 4;
/** Bytes of an answer before its peers. */
export const ANSWER_HEADER = R_LEECHERS + 4;

/** Most peers one announce may ask for (HTTP's cap; UDP's packet holds far fewer). */
export const MAX_PEERS = 1000;

/** Announce `event` values (BEP 15's numbers; HTTP's `paused` is `None` here). */
export const AnnounceEvent = { None: 0, Completed: 1, Started: 2, Stopped: 3 } as const;

/** Why an announce was refused (0: it was not). */
export const Refusal = {
  None: 0,
  NotAllowed: 1,
  TooManyTorrents: 2,
  TooManyPeers: 3,
  /** A private tracker with `registered_torrents_only`, and the torrent is not registered. */
  Unregistered: 4,
  /** The key was revoked while the announce was on its way. */
  KeyRevoked: 5,
} as const;

/** What each `Refusal` tells the client, in every protocol. */
export const REFUSAL_TEXT: readonly string[] = [
  "",
  "info hash not allowed",
  "tracker full: too many torrents, try again later",
  "torrent full: too many peers, try again later",
  "torrent not registered with this tracker",
  "passkey revoked: get a new announce URL from the site",
];

/** Offset of a scrape record's hash count (u16). */
export const S_COUNT = 2;
/** Offset of a scrape record's pending-scrape id, or a full scrape's token (u32). */
export const S_ID = 4;
/** Bytes of a scrape record before its items. */
export const SCRAPE_HEADER = 8;
/** Bytes per hash in a `REQ_SCRAPE` record: index and info hash. */
export const REQ_SCRAPE_ITEM = 22;
/** Bytes of a scrape entry. */
export const SCRAPE_ENTRY_LEN = 12;
/** Bytes per entry in a `RES_SCRAPE` record: index and scrape entry. */
export const RES_SCRAPE_ITEM = 2 + SCRAPE_ENTRY_LEN;
/** Offsets in a scrape entry. */
export const E_SEEDERS = 0, E_COMPLETED = 4, E_LEECHERS = 8;

/** Bytes of a `REQ_FULL_SCRAPE` record. */
export const FULL_SCRAPE_REQ_LEN = 8;
/** Offset of a full scrape answer's torrent count (u32). */
export const F_COUNT = 8;
/** Bytes of a `RES_FULL_SCRAPE` record before its torrents. */
export const FULL_SCRAPE_HEADER = 12;
/** Bytes per torrent in a full scrape answer: info hash and scrape entry. */
export const FULL_SCRAPE_ITEM = 20 + SCRAPE_ENTRY_LEN;

/** Bytes of one listed peer's compact address in a family: 6 for 4, 18 for 6. */
export function peerLen(family: 4 | 6): number {
  return family === 4 ? 6 : 18;
}

/** Writes a scrape entry at `out[o]`; returns its length. */
export function writeScrapeEntry(
  out: Uint8Array,
  o: number,
  seeders: number,
  completed: number,
  leechers: number,
): number {
  setU32BE(out, o + E_SEEDERS, seeders);
  setU32BE(out, o + E_COMPLETED, completed);
  setU32BE(out, o + E_LEECHERS, leechers);
  return SCRAPE_ENTRY_LEN;
}

/**
 * Writes the header of the answer to the announce at `b[p]` into `out[o]`: its flags, address
 * and token, with `refusal`, `count` peers, the interval and the counts. Returns the header's
 * length.
 */
export function writeAnswerHeader(
  b: Uint8Array,
  p: number,
  out: Uint8Array,
  o: number,
  refusal: number,
  count: number,
  interval: number,
  seeders: number,
  leechers: number,
): number {
  out[o] = RES_ANNOUNCE;
  out[o + REC_FAMILY] = b[p + REC_FAMILY];
  out[o + A_FLAGS] = b[p + A_FLAGS];
  out[o + R_REFUSAL] = refusal;
  for (let j = A_ADDR; j < A_TOKEN + 4; j++) out[o + j] = b[p + j]; // address and token
  setU16LE(out, o + R_COUNT, count);
  setU32LE(out, o + R_INTERVAL, interval);
  setU32LE(out, o + R_SEEDERS, seeders);
  setU32LE(out, o + R_LEECHERS, leechers);
  return ANSWER_HEADER;
}
