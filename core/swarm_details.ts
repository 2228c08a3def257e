/**
 * What the statistics page shows of one request worker's BitTorrent swarms: the largest ones,
 * and the clients of a sample of peers spread over every torrent.
 *
 * @module
 */

import { clientName, tally } from "../shared/store/clients.ts";
import type { SwarmDetails, TopSwarm } from "../shared/store/details.ts";
import type { InfoHashTable } from "../shared/store/info_hash_table.ts";
import type { PeerLists } from "./peer_list.ts";

/** What the details read of a request worker's swarms (`swarms.ts`). */
export interface DetailSource {
  /** Torrents by info hash. */
  readonly torrents: InfoHashTable;
  /** Peers over all torrents. */
  readonly peers: number;
  /** IPv4 and IPv6 peer lists. */
  readonly v4: PeerLists;
  /** As `v4`. */
  readonly v6: PeerLists;
  /** Seeders of torrent `id`. */
  seedersOf(id: number): number;
  /** Leechers of torrent `id`. */
  leechersOf(id: number): number;
}

/**
 * The `top` largest swarms of `swarms`, and client names counted over about `sample` peers.
 * Walks every torrent: call it rarely (the statistics page caches it).
 */
export function swarmDetails(swarms: DetailSource, top: number, sample: number): SwarmDetails {
  const table = swarms.torrents, hash = new Uint8Array(20);
  const largest: TopSwarm[] = [];
  const clients = new Map<string, number>();
  const stride = Math.max(1, Math.floor(swarms.peers / sample));
  let skip = 0, sampled = 0;
  for (let id = 0; id < table.idLimit; id++) {
    if (!table.isLive(id)) continue;
    const peers = swarms.v4.n[id] + swarms.v6.n[id];
    if (
      largest.length < top ||
      peers > largest[largest.length - 1].seeders + largest[largest.length - 1].leechers
    ) {
      table.keyOf(id, hash, 0);
      largest.push({
        infoHash: [...hash].map((b) => b.toString(16).padStart(2, "0")).join(""),
        seeders: swarms.seedersOf(id),
        leechers: swarms.leechersOf(id),
        completed: table.completed[id],
      });
      largest.sort((a, b) => b.seeders + b.leechers - (a.seeders + a.leechers));
      if (largest.length > top) largest.pop();
    }
    for (const lists of [swarms.v4, swarms.v6]) {
      for (let r = 0; r < lists.n[id]; r++) {
        if (skip-- > 0) continue;
        skip = stride - 1;
        tally(clients, clientName(lists.peerIdPrefix(id, r)));
        sampled++;
      }
    }
  }
  return { top: largest, clients: [...clients], sampled };
}
