/**
 * What a cluster's WebTorrent socket worker remembers so that its connections' peers follow
 * their swarms: the peer each connection has in each torrent, as its last announce left it.
 * When a swarm's owner changes (a node joins, stops or dies, NATS comes or goes), the socket
 * worker tells the new owner of these peers at once (`connections.ts`'s `rejoin`), instead of
 * waiting for each client's next announce.
 *
 * @module
 */

import { WsEvent } from "./protocol.ts";
import type { Scanned } from "./scan.ts";

/** Torrents per connection whose peers are remembered. */
export const MAX_JOINED = 256;

/** A connection's peer in one torrent. */
interface Joined {
  peer: string;
  seeder: boolean;
}

/** The peers of one socket worker's connections, by connection and info hash. */
export class Rejoins {
  #byConn = new Map<number, Map<string, Joined>>();

  /** Connection `conn` announced `m`. */
  remember(conn: number, m: Scanned): void {
    const h = String.fromCharCode(...m.hash);
    if (m.event === WsEvent.Stopped) {
      this.#byConn.get(conn)?.delete(h);
      return;
    }
    let j = this.#byConn.get(conn);
    if (j === undefined) this.#byConn.set(conn, j = new Map());
    const seen = j.get(h);
    if (seen !== undefined) seen.seeder = m.seeder;
    else if (j.size < MAX_JOINED) {
      j.set(h, { peer: String.fromCharCode(...m.peer), seeder: m.seeder });
    }
  }

  /** Connection `conn` closed. */
  forget(conn: number): void {
    this.#byConn.delete(conn);
  }

  /** Calls `f` with each remembered peer: its connection, info hash, peer id, and whether it seeds. */
  each(f: (conn: number, infoHash: string, peer: string, seeder: boolean) => void): void {
    for (const [conn, j] of this.#byConn) for (const [h, p] of j) f(conn, h, p.peer, p.seeder);
  }
}
