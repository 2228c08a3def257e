/**
 * HTTP requests into the core's records, and the core's answers into HTTP replies
 * (`core/records.ts`): an announce query becomes an announce record, an answer record fills an
 * `AnnounceReply`, and the parts of a full scrape are gathered into one reply. Pure: no
 * sockets, no connections.
 *
 * @module
 */

import { ByteBuffer } from "../shared/base/byte_buffer.ts";
import { getU16LE, getU32LE } from "../shared/base/bytes.ts";
import { isV4Mapped } from "../shared/net/address.ts";
import type { Forwarder } from "../core/forward.ts";
import { A_FLAGS, ANNOUNCE_PEER_IDS, ANNOUNCE_SEEDER, AnnounceEvent } from "../core/records.ts";
import { ANSWER_HEADER, FULL_SCRAPE_ITEM, peerLen, R_COUNT, R_INTERVAL } from "../core/records.ts";
import { R_LEECHERS, R_SEEDERS, REC_FAMILY, SCRAPE_ENTRY_LEN } from "../core/records.ts";
import { type AnnounceQuery, Event } from "./query.ts";
import { type AnnounceReply, writeScrapeResponse } from "./response.ts";

/**
 * Forwards the announce `q` of the peer at `addr` (its 18-byte record, the port announced)
 * to the core, for `want` peers (with their ids when `peerIds`), under `token`.
 */
export function forwardAnnounce(
  forward: Forwarder,
  q: AnnounceQuery,
  addr: Uint8Array,
  want: number,
  peerIds: boolean,
  token: number,
): void {
  // BEP 21's `paused` is a peer still there, as with no event.
  const event = q.event === Event.Paused ? AnnounceEvent.None : q.event;
  const flags = (q.left === 0 ? ANNOUNCE_SEEDER : 0) | (peerIds ? ANNOUNCE_PEER_IDS : 0);
  const family = isV4Mapped(addr, 0) ? 4 : 6;
  forward.announce(family, addr, 0, q.infoHash, 0, q.peerId, 0, q.port, event, flags, want, token);
}

/**
 * Fills `r` with the counts and peers of the core's announce answer at `b[p]` (its peers stay
 * in `b`: write the reply before `b` is reused).
 */
export function readAnswer(b: Uint8Array, p: number, r: AnnounceReply): void {
  const family = b[p + REC_FAMILY] === 6 ? 6 : 4;
  const n = getU16LE(b, p + R_COUNT), at = p + ANSWER_HEADER, bytes = n * peerLen(family);
  r.interval = getU32LE(b, p + R_INTERVAL);
  r.complete = getU32LE(b, p + R_SEEDERS);
  r.incomplete = getU32LE(b, p + R_LEECHERS);
  r.peers = r.peers6 = b;
  r.peersOff = r.peers6Off = at;
  r.peersLen = family === 4 ? bytes : 0;
  r.peers6Len = family === 6 ? bytes : 0;
  r.peerIds = b[p + A_FLAGS] & ANNOUNCE_PEER_IDS ? b : null;
  r.peerIdsOff = at + bytes;
}

/** Full scrapes gathering their parts, one from each request worker. */
export class FullScrapes {
  #open = new Map<number, { parts: number; torrents: ByteBuffer }>();

  /** Starts gathering the full scrape of `token` from `parts` request workers. */
  open(token: number, parts: number): void {
    this.#open.set(token, { parts, torrents: new ByteBuffer() });
  }

  /** Forgets the full scrape of `token` (given up). */
  drop(token: number): void {
    this.#open.delete(token);
  }

  /**
   * Adds one request worker's `count` torrents at `b[off]` (info hash and scrape entry each)
   * to the full scrape of `token`; when that was the last part, writes the whole reply into
   * a new buffer and returns it, else null.
   */
  add(token: number, b: Uint8Array, off: number, count: number, flags: number): ByteBuffer | null {
    const f = this.#open.get(token);
    if (f === undefined) return null;
    f.torrents.append(b.subarray(off, off + FULL_SCRAPE_ITEM * count));
    if (--f.parts > 0) return null;
    this.#open.delete(token);
    // writeScrapeResponse takes hashes and entries apart: split the records.
    const n = f.torrents.len / FULL_SCRAPE_ITEM, all = f.torrents.buf;
    const hashes = new Uint8Array(20 * n), entries = new Uint8Array(SCRAPE_ENTRY_LEN * n);
    for (let k = 0; k < n; k++) {
      const at = FULL_SCRAPE_ITEM * k;
      hashes.set(all.subarray(at, at + 20), 20 * k);
      entries.set(all.subarray(at + 20, at + FULL_SCRAPE_ITEM), SCRAPE_ENTRY_LEN * k);
    }
    const w = new ByteBuffer(64 + 60 * n);
    writeScrapeResponse(w, hashes, 0, n, entries, 0, flags);
    return w;
  }
}
