/**
 * Record layouts of the batches between UDP socket workers and request workers.
 *
 * Socket worker → request worker:
 * - `REQ_ANNOUNCE` (120 bytes): type, family, flags (`ANNOUNCE_*`), a spare byte, 18-byte
 *   address, the first 98 bytes of the announce packet (BEP 15; an HTTP announce is rewritten
 *   into one).
 * - `REQ_SCRAPE` (8 + 22 per hash): type, family, u16 hash count, u32 pending-scrape id, then
 *   per hash a u16 index into the original request and the 20-byte info hash.
 *
 * - `REQ_FULL_SCRAPE` (8): type, 3 spare, u32 token: every torrent of the request worker.
 *
 * Request worker → socket worker:
 * - `RES_SEND` (22 + length): type, family, u16 length, 18-byte address, the datagram.
 * - `RES_SCRAPE` (8 + 14 per hash): type, family, u16 count, u32 pending-scrape id, then per
 *   hash a u16 index and the 12-byte scrape entry.
 *
 * - `RES_FULL_SCRAPE` (12 + 32 per torrent): type, 3 spare, u32 token, u32 count, then per
 *   torrent its 20-byte info hash and 12-byte scrape entry.
 *
 * u16 and u32 fields are little-endian.
 *
 * @module
 */

import { ADDR_LEN } from "./io.ts";
import { ANNOUNCE_LEN, SCRAPE_ENTRY_LEN } from "./codec.ts";

/** Record type: an announce to handle. */
export const REQ_ANNOUNCE = 1;
/** Record type: the part of a scrape owned by the receiving request worker. */
export const REQ_SCRAPE = 2;
/** Record type: a full scrape (HTTP, when the operator allows it). */
export const REQ_FULL_SCRAPE = 3;
/** Record type: a finished datagram to send. */
export const RES_SEND = 1;
/** Record type: scrape entries for a pending scrape. */
export const RES_SCRAPE = 2;
/** Record type: every torrent of a request worker, for a full scrape. */
export const RES_FULL_SCRAPE = 3;
/** Bytes of a `REQ_FULL_SCRAPE` record, and of a `RES_FULL_SCRAPE` one before its torrents. */
export const FULL_SCRAPE_REQ_LEN = 8, FULL_SCRAPE_HEADER = 12;

/** Offset of the flags byte of a `REQ_ANNOUNCE` record. */
export const REC_FLAGS = 2;
/**
 * Announce flag: from HTTP. `num_want` is the number of peers to send, as it is (0 is none;
 * the socket worker applied its default and cap), not bounded by the UDP packet size.
 */
export const ANNOUNCE_HTTP = 1;
/** Announce flag: append each listed peer's 20-byte peer id after the peers (HTTP `compact=0`). */
export const ANNOUNCE_PEER_IDS = 2;
/** Most peers an HTTP announce answer lists (the response, with peer ids, fits a u16 length). */
export const MAX_HTTP_PEERS = 1000;

/** Offset of the address in every record. */
export const REC_ADDR = 4;
/** Offset of the packet in a `REQ_ANNOUNCE` record, and of the datagram in `RES_SEND`. */
export const REC_BODY = REC_ADDR + ADDR_LEN;
/** Size of a `REQ_ANNOUNCE` record. */
export const REQ_ANNOUNCE_LEN = REC_BODY + ANNOUNCE_LEN;
/** Header of scrape records (request and response). */
export const SCRAPE_REC_HEADER = 8;
/** Bytes per hash in a `REQ_SCRAPE` record. */
export const REQ_SCRAPE_ITEM = 22;
/** Bytes per entry in a `RES_SCRAPE` record. */
export const RES_SCRAPE_ITEM = 2 + SCRAPE_ENTRY_LEN;
