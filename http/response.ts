/**
 * Complete HTTP tracker responses with bencoded bodies (announce, scrape, failure), written
 * into a caller-owned `ByteSink` (a `ByteBuffer`, or a channel's `BatchWriter`); the head is
 * `response_head.ts`'s, whose exports are repeated here so a server imports one module.
 *
 * Peers arrive as the swarm store has them: compact IPv4 (6 bytes each, BEP 23), compact IPv6
 * (18 bytes each, BEP 7), and optionally their 20-byte peer ids (`translate.ts` reads them from
 * the core's answers).
 *
 * @module
 */

import {
  bencodedString,
  type ByteSink,
  writeByteString,
  writeDictStart,
  writeEnd,
  writeInt,
  writeListStart,
  writeRaw,
} from "./bencode.ts";
import { formatIPv4Text, formatIPv6Text } from "./ip_text.ts";
import { getU32BE } from "../shared/base/bytes.ts";
import { E_COMPLETED, E_LEECHERS, E_SEEDERS, SCRAPE_ENTRY_LEN } from "../core/records.ts";
import { beginResponse, finishResponse } from "./response_head.ts";

export {
  beginResponse,
  finishResponse,
  HEAD_ROOM,
  Reply,
  responseFlags,
  writeErrorResponse,
  writeParseError,
} from "./response_head.ts";

const K_COMPLETE = bencodedString("complete"), K_INCOMPLETE = bencodedString("incomplete");
const K_INTERVAL = bencodedString("interval"), K_MIN_INTERVAL = bencodedString("min interval");
const K_PEERS = bencodedString("peers"), K_PEERS6 = bencodedString("peers6");
const K_IP = bencodedString("ip"), K_PEER_ID = bencodedString("peer id");
const K_PORT = bencodedString("port"), K_FILES = bencodedString("files");
const K_DOWNLOADED = bencodedString("downloaded");
const K_FAILURE = bencodedString("failure reason");

function key(w: ByteSink, k: Uint8Array): void {
  writeRaw(w, k, 0, k.length);
}

/** What an announce answer says; fill one and reuse it. */
export class AnnounceReply {
  /** Seeders. */
  complete = 0;
  /** Leechers. */
  incomplete = 0;
  /** Seconds until the next announce. */
  interval = 1800;
  /** Seconds the client must wait at least; left out when negative. */
  minInterval: number = -1;
  /** Compact IPv4 peers: 4-byte IP and big-endian port each, `peersLen` bytes from `peersOff`. */
  peers: Uint8Array = new Uint8Array(0);
  /** Offset of the IPv4 peers in `peers`. */
  peersOff = 0;
  /** Bytes of IPv4 peers (6 per peer; a partial entry at the end is ignored). */
  peersLen = 0;
  /** Compact IPv6 peers: 16-byte IP and big-endian port each. */
  peers6: Uint8Array = new Uint8Array(0);
  /** Offset of the IPv6 peers in `peers6`. */
  peers6Off = 0;
  /** Bytes of IPv6 peers (18 per peer); `peers6` is left out of the answer when 0. */
  peers6Len = 0;
  /** Whether to answer compact peers (BEP 23) or a list of dictionaries (BEP 3). */
  compact = true;
  /** 20-byte peer ids for the non-compact list: one per IPv4 peer, then one per IPv6 peer. */
  peerIds: Uint8Array | null = null;
  /** Offset of the first peer id in `peerIds`. */
  peerIdsOff = 0;
  /** Leave `peer id` out of the non-compact list (the client sent `no_peer_id`). */
  noPeerId = false;
}

/**
 * Writes a complete announce response for `r`: the dictionary `complete`, `incomplete`,
 * `interval`, `min interval`, then `peers` (compact bytes, always present) and `peers6` (when
 * there are IPv6 peers), or for `compact` false `peers` as a list of `{ip, peer id, port}`
 * holding both families (`peer id` when ids are given and not `noPeerId`). Returns its length.
 */
export function writeAnnounceResponse(w: ByteSink, r: AnnounceReply, flags: number): number {
  const start = beginResponse(w);
  writeDictStart(w);
  key(w, K_COMPLETE);
  writeInt(w, r.complete);
  key(w, K_INCOMPLETE);
  writeInt(w, r.incomplete);
  key(w, K_INTERVAL);
  writeInt(w, r.interval);
  if (r.minInterval >= 0) {
    key(w, K_MIN_INTERVAL);
    writeInt(w, r.minInterval);
  }
  const n4 = Math.floor(r.peersLen / 6), n6 = Math.floor(r.peers6Len / 18);
  key(w, K_PEERS);
  if (r.compact) {
    writeByteString(w, r.peers, r.peersOff, n4 * 6);
    if (n6 > 0) {
      key(w, K_PEERS6);
      writeByteString(w, r.peers6, r.peers6Off, n6 * 18);
    }
  } else {
    const ids = r.noPeerId ? null : r.peerIds;
    writeListStart(w);
    for (let i = 0; i < n4; i++) {
      writePeerDict(w, r.peers, r.peersOff + 6 * i, 4, ids, r.peerIdsOff + 20 * i);
    }
    for (let i = 0; i < n6; i++) {
      writePeerDict(w, r.peers6, r.peers6Off + 18 * i, 16, ids, r.peerIdsOff + 20 * (n4 + i));
    }
    writeEnd(w);
  }
  writeEnd(w);
  return finishResponse(w, start, 200, flags);
}

const ipText = new Uint8Array(48);

function writePeerDict(
  w: ByteSink,
  b: Uint8Array,
  at: number,
  ipLen: number,
  ids: Uint8Array | null,
  idAt: number,
): void {
  writeDictStart(w);
  key(w, K_IP);
  const n = ipLen === 4 ? formatIPv4Text(b, at, ipText, 0) : formatIPv6Text(b, at, ipText, 0);
  writeByteString(w, ipText, 0, n);
  if (ids !== null) {
    key(w, K_PEER_ID);
    writeByteString(w, ids, idAt, 20);
  }
  key(w, K_PORT);
  writeInt(w, (b[at + ipLen] << 8) | b[at + ipLen + 1]);
  writeEnd(w);
}

let order = new Uint32Array(256);

/**
 * Writes a scrape response: `files`, keyed by each of the `count` 20-byte hashes at
 * `hashes[hashesOff]`, sorted as bytes (a repeated hash once), each `{complete, downloaded,
 * incomplete}` from the scrape entry of the same index at `entries[entriesOff]` (the core's,
 * `core/records.ts`). Returns the response's length.
 */
export function writeScrapeResponse(
  w: ByteSink,
  hashes: Uint8Array,
  hashesOff: number,
  count: number,
  entries: Uint8Array,
  entriesOff: number,
  flags: number,
): number {
  if (order.length < count) order = new Uint32Array(count);
  const idx = order;
  for (let i = 0; i < count; i++) idx[i] = i;
  const cmp = (x: number, y: number) => {
    const a = hashesOff + 20 * x, b = hashesOff + 20 * y;
    for (let k = 0; k < 20; k++) {
      if (hashes[a + k] !== hashes[b + k]) return hashes[a + k] - hashes[b + k];
    }
    return x - y; // equal hashes: the first given first
  };
  if (count <= 16) {
    for (let i = 1; i < count; i++) {
      const v = idx[i];
      let j = i - 1;
      for (; j >= 0 && cmp(idx[j], v) > 0; j--) idx[j + 1] = idx[j];
      idx[j + 1] = v;
    }
  } else {
    idx.subarray(0, count).sort(cmp);
  }
  const start = beginResponse(w);
  writeDictStart(w);
  key(w, K_FILES);
  writeDictStart(w);
  for (let k = 0; k < count; k++) {
    const i = idx[k];
    if (k > 0 && sameHash(hashes, hashesOff, idx[k - 1], i)) continue;
    writeByteString(w, hashes, hashesOff + 20 * i, 20);
    const e = entriesOff + SCRAPE_ENTRY_LEN * i;
    writeDictStart(w);
    key(w, K_COMPLETE);
    writeInt(w, getU32BE(entries, e + E_SEEDERS));
    key(w, K_DOWNLOADED);
    writeInt(w, getU32BE(entries, e + E_COMPLETED));
    key(w, K_INCOMPLETE);
    writeInt(w, getU32BE(entries, e + E_LEECHERS));
    writeEnd(w);
  }
  writeEnd(w);
  writeEnd(w);
  return finishResponse(w, start, 200, flags);
}

function sameHash(h: Uint8Array, off: number, x: number, y: number): boolean {
  for (let k = 0; k < 20; k++) if (h[off + 20 * x + k] !== h[off + 20 * y + k]) return false;
  return true;
}

/**
 * Writes a failure: status 200 (clients read the body) with `{failure reason: reason}`, the
 * reason as bytes (pre-encode it) or a string (written as UTF-8). Returns the length.
 */
export function writeFailureResponse(
  w: ByteSink,
  reason: Uint8Array | string,
  flags: number,
): number {
  const r = typeof reason === "string" ? utf8.encode(reason) : reason;
  const start = beginResponse(w);
  writeDictStart(w);
  key(w, K_FAILURE);
  writeByteString(w, r, 0, r.length);
  writeEnd(w);
  return finishResponse(w, start, 200, flags);
}

const utf8 = new TextEncoder();
