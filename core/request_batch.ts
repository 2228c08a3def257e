/**
 * The request worker's per-batch logic: reads a socket worker's batch of announce and scrape
 * records (`records.ts`), applies them to the swarms and writes the answers into one batch
 * going back.
 *
 * @module
 */

import type { BatchWriter } from "../shared/runtime/channel.ts";
import { getU16LE, getU32LE, setU16LE, setU32LE } from "../shared/base/bytes.ts";
import type { AccessList } from "../shared/store/access_list.ts";
import { A_FLAGS, A_INFO_HASH, A_WANT, ANNOUNCE_LEN, ANNOUNCE_PEER_IDS } from "./records.ts";
import { ANSWER_HEADER, F_COUNT, FULL_SCRAPE_HEADER, FULL_SCRAPE_REQ_LEN } from "./records.ts";
import { MAX_PEERS, REC_FAMILY, REQ_ANNOUNCE, REQ_FULL_SCRAPE } from "./records.ts";
import { REQ_SCRAPE, REQ_SCRAPE_ITEM, RES_FULL_SCRAPE, RES_SCRAPE } from "./records.ts";
import { RES_SCRAPE_ITEM, S_COUNT, S_ID, SCRAPE_HEADER, writeAnswerHeader } from "./records.ts";
import { writeScrapeEntry } from "./records.ts";
import { KEYED_ANNOUNCE_LEN, R_REFUSAL, REQ_ANNOUNCE_KEYED } from "./records.ts";
import { K_KEY, REQ_ANNOUNCE_KEY_TEXT } from "./records.ts";

/** What a batch is applied to (the `Swarms`). */
export interface AnnounceStore {
  /** Answers the announce record at `b[p]` into `out[o]`; returns the answer's length. */
  announce(b: Uint8Array, p: number, now: number, out: Uint8Array, o: number): number;
  /** Appends every torrent (allowed by `access`) as info hash + scrape entry; returns how many. */
  scrapeAll(w: BatchWriter, access: AccessList): number;
  /** Writes the scrape entry of the info hash at `b[off]` into `out[o]`. */
  scrape(b: Uint8Array, off: number, out: Uint8Array, o: number): number;
  /** A private tracker's check of the keyed announce at `b[p]`: a `Refusal`, or 0. */
  keyRefusal(b: Uint8Array, p: number): number;
  /** Accounts the keyed announce at `b[p]`, which was answered (not refused), at `now`. */
  account(b: Uint8Array, p: number, now: number): void;
}

/**
 * Applies the batch `b` to `swarms` at time `now` and appends the answers to `w`. Torrents the access list refuses are refused (announce) or answered
 * with zeros (scrape). Stops at the first malformed record.
 */
export function handleRequestBatch(
  swarms: AnnounceStore,
  access: AccessList,
  b: Uint8Array,
  w: BatchWriter,
  now: number,
): void {
  let p = 0;
  while (p < b.length) {
    const type = b[p];
    const keyed = type === REQ_ANNOUNCE_KEYED;
    if ((type === REQ_ANNOUNCE || keyed) && p + ANNOUNCE_LEN <= b.length) {
      const recLen = keyed ? KEYED_ANNOUNCE_LEN : ANNOUNCE_LEN;
      if (p + recLen > b.length) return;
      // Room for the peers it wants: 18 bytes of address each, and 20 of peer id if asked.
      const want = Math.min(getU16LE(b, p + A_WANT), MAX_PEERS);
      const entry = b[p + A_FLAGS] & ANNOUNCE_PEER_IDS ? 38 : 18;
      const at = w.reserve(ANSWER_HEADER + entry * want);
      let refusal = access.refusal(b, p + A_INFO_HASH);
      if (keyed && refusal === 0) refusal = swarms.keyRefusal(b, p);
      const len = refusal === 0
        ? swarms.announce(b, p, now, w.buf, at)
        : writeAnswerHeader(b, p, w.buf, at, refusal, 0, 0, 0, 0);
      if (keyed && w.buf[at + R_REFUSAL] === 0) swarms.account(b, p, now);
      w.commit(at + len);
      p += recLen;
    } else if (type === REQ_SCRAPE) {
      const n = getU16LE(b, p + S_COUNT);
      if (p + SCRAPE_HEADER + REQ_SCRAPE_ITEM * n > b.length) return;
      let at = w.reserve(SCRAPE_HEADER + RES_SCRAPE_ITEM * n);
      const out = w.buf;
      out[at] = RES_SCRAPE;
      out[at + REC_FAMILY] = b[p + REC_FAMILY];
      setU16LE(out, at + S_COUNT, n);
      setU32LE(out, at + S_ID, getU32LE(b, p + S_ID));
      at += SCRAPE_HEADER;
      p += SCRAPE_HEADER;
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
      setU32LE(w.buf, at + S_ID, getU32LE(b, p + S_ID));
      w.len = at + FULL_SCRAPE_HEADER;
      const n = swarms.scrapeAll(w, access);
      setU32LE(w.buf, at + F_COUNT, n);
      w.commit(w.len);
      p += FULL_SCRAPE_REQ_LEN;
    } else {
      return;
    }
  }
}

/**
 * Copies the records of `b` (another node's batch) into `out`, each keyed announce that carries
 * its key's text (`REQ_ANNOUNCE_KEY_TEXT`) made a keyed announce of this worker's index for that
 * key (`keyIndex`; a key not known here yet gets `unknown`, which passes and counts under no
 * key: the sending node checked it). Stops at a malformed record.
 */
export function localKeys(
  b: Uint8Array,
  out: BatchWriter,
  keyIndex: (b: Uint8Array, start: number, end: number) => number,
  unknown: number,
): void {
  let p = 0;
  while (p < b.length) {
    const type = b[p];
    let len: number;
    if (type === REQ_ANNOUNCE) len = ANNOUNCE_LEN;
    else if (type === REQ_ANNOUNCE_KEYED) len = KEYED_ANNOUNCE_LEN;
    else if (type === REQ_ANNOUNCE_KEY_TEXT) {
      const n = p + KEYED_ANNOUNCE_LEN < b.length ? b[p + KEYED_ANNOUNCE_LEN] : 0;
      const end = p + KEYED_ANNOUNCE_LEN + 1 + n;
      if (n === 0 || end > b.length) return;
      const at = out.reserve(KEYED_ANNOUNCE_LEN), buf = out.buf;
      for (let j = 0; j < KEYED_ANNOUNCE_LEN; j++) buf[at + j] = b[p + j];
      buf[at] = REQ_ANNOUNCE_KEYED;
      const i = keyIndex(b, p + KEYED_ANNOUNCE_LEN + 1, end);
      setU32LE(buf, at + K_KEY, i < 0 ? unknown : i);
      out.commit(at + KEYED_ANNOUNCE_LEN);
      p = end;
      continue;
    } else if (type === REQ_SCRAPE) {
      len = SCRAPE_HEADER + REQ_SCRAPE_ITEM * getU16LE(b, p + S_COUNT);
    } else return;
    if (p + len > b.length) return;
    const at = out.reserve(len), buf = out.buf;
    for (let j = 0; j < len; j++) buf[at + j] = b[p + j];
    out.commit(at + len);
    p += len;
  }
}
