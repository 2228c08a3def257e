/**
 * The BitTorrent swarms in the state file: the payload of each entry (`shared/config/state_file.ts`
 * frames it with its info hash), format `SAVED_FORMAT`. Peers are saved with their last
 * announce on the wall clock, so a restart (a new monotonic clock) ages them right.
 *
 * Entry payload, little-endian:
 *
 * | offset | bytes | field |
 * |---|---|---|
 * | `COMPLETED` | 4 | completed downloads |
 * | `N4`, `N6` | 4 + 4 | IPv4 and IPv6 peers that follow, IPv4 first |
 * | `PEERS` | | peer records of `peerRecordLength(4 or 16)` bytes |
 *
 * Peer record (`ip` = 4 or 16): IP at 0, port (big-endian) at `ip`, peer id at
 * `ip + PEER_ID`, flags at `ip + PEER_FLAGS`, a spare byte, last announce (u32 Unix seconds)
 * at `ip + PEER_SEEN`.
 *
 * @module
 */

import { getU32LE, setU32LE } from "../shared/base/bytes.ts";
import { ByteBuffer } from "../shared/base/byte_buffer.ts";
import { fromWallSeconds, toWallSeconds } from "../shared/base/clock.ts";
import type { InfoHashTable } from "../shared/store/info_hash_table.ts";
import type { IdList } from "../shared/store/id_list.ts";
import { beginEntry, endEntry, entries, type StateKind } from "../shared/config/state_file.ts";
import { FLAG_COMPLETED, FLAG_SEEDER, type PeerLists } from "./peer_list.ts";

/** The entry format this file describes. */
export const SAVED_FORMAT = 1;
/**
 * What the state files of `shoal udp` and `shoal http` hold (kind `udp`, as the first of them
 * wrote it, so files written before keep loading).
 */
export const SWARM_STATE: StateKind = { kind: "udp", format: SAVED_FORMAT };

const COMPLETED = 0, N4 = 4, N6 = 8, PEERS = 12;
const PEER_ID = 2, PEER_FLAGS = 22, PEER_SEEN = 24;

/** Bytes of a saved peer with an `ipLen`-byte IP. */
export function peerRecordLength(ipLen: number): number {
  return ipLen + 28;
}

/** What saving and loading reach into. */
export interface SavedStore {
  /** Torrents. */
  readonly torrents: InfoHashTable;
  /** IPv4 peers. */
  readonly v4: PeerLists;
  /** IPv6 peers. */
  readonly v6: PeerLists;
  /** Torrents without peers. */
  readonly empty: IdList;
  /**
   * Adds a saved peer: its address (IP, port) at `rec[at]`, its peer id at `rec[pid]`; false
   * if it is there already or does not fit.
   */
  restorePeer(
    id: number,
    lists: PeerLists,
    rec: Uint8Array,
    at: number,
    pid: number,
    flags: number,
    seen: number,
  ): boolean;
}

/**
 * Every torrent and peer of `s` (only the torrents `only` takes, when given, each then passed
 * to `taken`), as state file entries.
 */
export function saveSwarms(
  s: SavedStore,
  only?: (hash: Uint8Array) => boolean,
  taken?: (id: number) => void,
): Uint8Array<ArrayBuffer> {
  const table = s.torrents, w = new ByteBuffer(1 << 16), hash = new Uint8Array(20);
  for (let id = 0; id < table.idLimit; id++) {
    if (!table.isLive(id)) continue;
    table.keyOf(id, hash, 0);
    if (only !== undefined && !only(hash)) continue;
    const e = beginEntry(w, hash, 0);
    const at = w.take(PEERS);
    setU32LE(w.buf, at + COMPLETED, table.completed[id]);
    setU32LE(w.buf, at + N4, s.v4.n[id]);
    setU32LE(w.buf, at + N6, s.v6.n[id]);
    for (const lists of [s.v4, s.v6]) {
      const ip = lists.ipLen, len = peerRecordLength(ip);
      for (let r = 0; r < lists.n[id]; r++) {
        const p = w.take(len); // may move w.buf: read it after
        lists.copyOut(id, r, w.buf, p); // IP, port, peer id: as at PEER_ID
        w.buf[p + ip + PEER_FLAGS] = lists.flags(id, r);
        setU32LE(w.buf, p + ip + PEER_SEEN, toWallSeconds(lists.seen(id, r)));
      }
    }
    endEntry(w, e);
    taken?.(id);
  }
  return w.bytes();
}

/**
 * Loads state file entries into `s` (already checked for length by the framing), keeping
 * peers seen at or after `cutoff`; `now` is the monotonic second. Throws on an entry whose
 * payload does not match its peer counts.
 */
export function loadSwarms(
  s: SavedStore,
  body: Uint8Array,
  cutoff: number,
  now: number,
): { torrents: number; peers: number } {
  const table = s.torrents;
  let torrents = 0, peers = 0;
  for (const e of entries(body)) {
    const p = e.payload, n4 = getU32LE(body, p + N4), n6 = getU32LE(body, p + N6);
    if (p + PEERS + n4 * peerRecordLength(4) + n6 * peerRecordLength(16) !== e.end) {
      throw new Error("an entry's peers do not match its counts");
    }
    let id = table.find(body, e.hash);
    if (id < 0) id = table.insert(body, e.hash);
    table.completed[id] = Math.max(table.completed[id], getU32LE(body, p + COMPLETED));
    torrents++;
    let at = p + PEERS;
    for (const [lists, n] of [[s.v4, n4], [s.v6, n6]] as const) {
      const ip = lists.ipLen, len = peerRecordLength(ip);
      for (let k = 0; k < n; k++, at += len) {
        // A time in the future (the wall clock went back) counts as now.
        const seen = Math.min(now, fromWallSeconds(getU32LE(body, at + ip + PEER_SEEN)));
        if (seen < cutoff) continue;
        const flags = body[at + ip + PEER_FLAGS] & (FLAG_SEEDER | FLAG_COMPLETED);
        if (s.restorePeer(id, lists, body, at, at + ip + PEER_ID, flags, seen)) peers++;
      }
    }
    if (s.v4.n[id] + s.v6.n[id] === 0 && !s.empty.has(id)) s.empty.push(id);
  }
  return { torrents, peers };
}
