/**
 * The request worker's per-batch logic: reads a socket worker's batch of announces and scrape
 * parts, applies them to the swarms and writes the answers into one batch going back.
 *
 * @module
 */

import type { BatchWriter } from "../shared/runtime/channel.ts";
import { getU16LE, getU32LE, setU16LE, setU32LE } from "../shared/base/bytes.ts";
import type { AccessList } from "../shared/store/access_list.ts";
import {
  ANNOUNCE_RESPONSE_HEADER_LEN,
  OFF_INFO_HASH,
  Problem,
  PROBLEM_TEXT,
  readI32,
  writeErrorResponse,
  writeScrapeEntry,
} from "./codec.ts";
import { ADDR_LEN } from "./io.ts";
import {
  ANNOUNCE_HTTP,
  FULL_SCRAPE_HEADER,
  FULL_SCRAPE_REQ_LEN,
  MAX_HTTP_PEERS,
  REC_ADDR,
  REC_BODY,
  REC_FLAGS,
  REQ_ANNOUNCE,
  REQ_ANNOUNCE_LEN,
  REQ_FULL_SCRAPE,
  REQ_SCRAPE,
  REQ_SCRAPE_ITEM,
  RES_FULL_SCRAPE,
  RES_SCRAPE,
  RES_SCRAPE_ITEM,
  RES_SEND,
  SCRAPE_REC_HEADER,
} from "./messages.ts";

/** What a batch is applied to (the `Swarms`). */
export interface AnnounceStore {
  /** Answers the announce at `pkt[off]` from the address at `addrs[a]` into `out[o]`. */
  announce(
    pkt: Uint8Array,
    off: number,
    addrs: Uint8Array,
    a: number,
    family: 4 | 6,
    now: number,
    out: Uint8Array,
    o: number,
    flags: number,
  ): number;
  /** Appends every torrent (allowed by `access`) as info hash + scrape entry; returns how many. */
  scrapeAll(w: BatchWriter, access: AccessList): number;
  /** Writes the scrape entry of the info hash at `b[off]` into `out[o]`. */
  scrape(b: Uint8Array, off: number, out: Uint8Array, o: number): number;
}

/**
 * Applies the batch `b` to `swarms` at time `now` and appends the answers to `w`;
 * `responsePeers` (by family) bounds the size of one UDP announce response. Torrents the
 * access list refuses get an error response (announce) or zeros (scrape). Stops at the first
 * malformed record.
 */
export function handleRequestBatch(
  swarms: AnnounceStore,
  access: AccessList,
  b: Uint8Array,
  w: BatchWriter,
  now: number,
  responsePeers: { 4: number; 6: number },
): void {
  const maxAnnounce = REC_BODY + ANNOUNCE_RESPONSE_HEADER_LEN +
    Math.max(6 * responsePeers[4], 18 * responsePeers[6]);
  const maxHttpAnnounce = REC_BODY + ANNOUNCE_RESPONSE_HEADER_LEN + (18 + 20) * MAX_HTTP_PEERS;
  let p = 0;
  while (p < b.length) {
    const type = b[p], family = b[p + 1] === 6 ? 6 : 4;
    if (type === REQ_ANNOUNCE && p + REQ_ANNOUNCE_LEN <= b.length) {
      const flags = b[p + REC_FLAGS];
      const at = w.reserve(flags & ANNOUNCE_HTTP ? maxHttpAnnounce : maxAnnounce);
      const out = w.buf;
      const len = access.allows(b, p + REC_BODY + OFF_INFO_HASH)
        ? swarms.announce(b, p + REC_BODY, b, p + REC_ADDR, family, now, out, at + REC_BODY, flags)
        : writeErrorResponse(
          out,
          at + REC_BODY,
          readI32(b, p + REC_BODY + 12),
          PROBLEM_TEXT[Problem.NotAllowed],
        );
      out[at] = RES_SEND;
      out[at + 1] = family;
      setU16LE(out, at + 2, len);
      for (let j = 0; j < ADDR_LEN; j++) out[at + REC_ADDR + j] = b[p + REC_ADDR + j];
      w.commit(at + REC_BODY + len);
      p += REQ_ANNOUNCE_LEN;
    } else if (type === REQ_SCRAPE) {
      const n = getU16LE(b, p + 2);
      if (p + SCRAPE_REC_HEADER + REQ_SCRAPE_ITEM * n > b.length) return;
      let at = w.reserve(SCRAPE_REC_HEADER + RES_SCRAPE_ITEM * n);
      const out = w.buf;
      out[at] = RES_SCRAPE;
      out[at + 1] = family;
      setU16LE(out, at + 2, n);
      setU32LE(out, at + 4, getU32LE(b, p + 4));
      at += SCRAPE_REC_HEADER;
      p += SCRAPE_REC_HEADER;
      for (let k = 0; k < n; k++, p += REQ_SCRAPE_ITEM, at += RES_SCRAPE_ITEM) {
        out[at] = b[p];
        out[at + 1] = b[p + 1];
        if (access.allows(b, p + 2)) swarms.scrape(b, p + 2, out, at + 2);
        else writeScrapeEntry(out, at + 2, 0, 0, 0); // as if unknown
      }
      w.commit(at);
    } else if (type === REQ_FULL_SCRAPE && p + FULL_SCRAPE_REQ_LEN <= b.length) {
      const at = w.reserve(FULL_SCRAPE_HEADER);
      w.buf[at] = RES_FULL_SCRAPE;
      setU32LE(w.buf, at + 4, getU32LE(b, p + 4));
      w.len = at + FULL_SCRAPE_HEADER;
      const n = swarms.scrapeAll(w, access);
      setU32LE(w.buf, at + 8, n);
      w.commit(w.len);
      p += FULL_SCRAPE_REQ_LEN;
    } else {
      return;
    }
  }
}
