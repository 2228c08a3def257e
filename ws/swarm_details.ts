/**
 * The WebTorrent swarms as the statistics page shows them: the largest, and the clients of a
 * sample of peers.
 *
 * @module
 */

import { clientName, tally } from "../shared/store/clients.ts";
import type { SwarmDetails, TopSwarm } from "../shared/store/details.ts";
import type { WsTorrent } from "./torrent.ts";

/**
 * The `top` largest of `torrents` (holding `peers` peers), and client names counted over about
 * `sample` peers spread over all torrents. Walks every torrent: call it rarely (the statistics
 * page caches it).
 */
export function wsDetails(
  torrents: Map<string, WsTorrent>,
  peers: number,
  top: number,
  sample: number,
): SwarmDetails {
  const largest: TopSwarm[] = [];
  const clients = new Map<string, number>();
  const stride = Math.max(1, Math.floor(peers / sample));
  let skip = 0, sampled = 0;
  for (const [h, t] of torrents) {
    const size = t.ids.length;
    const last = largest[largest.length - 1];
    if (largest.length < top || size > last.seeders + last.leechers) {
      largest.push({
        infoHash: [...h].map((c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join(""),
        seeders: t.seeders,
        leechers: t.leechers,
        completed: t.completed,
      });
      largest.sort((a, b) => b.seeders + b.leechers - (a.seeders + a.leechers));
      if (largest.length > top) largest.pop();
    }
    for (const id of t.ids) {
      if (skip-- > 0) continue;
      skip = stride - 1;
      tally(clients, clientName(id.slice(0, 8)));
      sampled++;
    }
  }
  return { top: largest, clients: [...clients], sampled };
}
