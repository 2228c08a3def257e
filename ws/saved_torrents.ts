/**
 * What of the WebTorrent swarms outlives a process or moves to another node: each torrent's
 * completed count, as state file entries (`shared/config/state_file.ts`). Peers are not saved:
 * their connections end with the process (in a cluster they rejoin a swarm's new owner
 * themselves, `connections.ts`'s `rejoin`).
 *
 * @module
 */

import { ByteBuffer } from "../shared/base/byte_buffer.ts";
import { getU32LE, setU32LE } from "../shared/base/bytes.ts";
import { beginEntry, endEntry, entries, type StateKind } from "../shared/config/state_file.ts";
import type { WsTorrent } from "./torrent.ts";

/** What `shoal ws` state files hold: entries whose payload is the completed count (u32). */
export const WS_STATE: StateKind = { kind: "ws", format: 1 };
const SAVED_COMPLETED = 0, SAVED_LENGTH = 4;

/**
 * The completed counts of the torrents of `torrents` (by info hash, a 20-character binary
 * string) that `take` accepts (all when not given), as state file entries; `taken` is called
 * with each one written.
 */
export function savedTorrents(
  torrents: Map<string, WsTorrent>,
  take: ((hash: Uint8Array) => boolean) | null = null,
  taken: (h: string, t: WsTorrent) => void = () => {},
): Uint8Array<ArrayBuffer> {
  const w = new ByteBuffer(1 << 12), hash = new Uint8Array(20);
  for (const [h, t] of torrents) {
    for (let i = 0; i < 20; i++) hash[i] = h.charCodeAt(i);
    if (take !== null && !take(hash)) continue;
    const e = beginEntry(w, hash, 0);
    const at = w.take(SAVED_LENGTH); // may move w.buf: read it after
    setU32LE(w.buf, at + SAVED_COMPLETED, t.completed);
    endEntry(w, e);
    taken(h, t);
  }
  return w.bytes();
}

/** Calls `each` with the info hash and completed count of each entry of `body`; their number. */
export function loadTorrents(
  body: Uint8Array,
  each: (h: string, completed: number) => void,
): number {
  let n = 0;
  for (const e of entries(body)) {
    if (e.end - e.payload !== SAVED_LENGTH) throw new Error("a ws entry of the wrong length");
    each(
      String.fromCharCode(...body.subarray(e.hash, e.hash + 20)),
      getU32LE(body, e.payload + SAVED_COMPLETED),
    );
    n++;
  }
  return n;
}
