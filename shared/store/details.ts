/**
 * What a store reports about its swarms: the counts every request worker's statistics hold,
 * and the heavier details computed on demand for the statistics page (the largest swarms and
 * the clients seen in a sample of peers).
 *
 * @module
 */

/** Refusals so far by limit key (e.g. `max_torrents`). */
export type Refusals = Record<string, number>;

/** What every request worker's statistics hold. */
export interface RequestStats {
  /** Discriminator. */
  role: "request";
  /** Worker index. */
  index: number;
  /** Torrents held (also those kept only for their completed count). */
  torrents: number;
  /** Peers held. */
  peers: number;
  /** Seeders among them. */
  seeders: number;
  /** Announces refused so far, by limit. */
  refused: Refusals;
  /** The protocol's own cumulative counters (ws: offers and answers forwarded), by name. */
  counters?: Record<string, number>;
  /** A cluster node's batches and requests from other nodes, answered here. */
  remoteIn?: { batches: number; requests: number; linked?: boolean };
  /**
   * A private tracker's accounting here: new peers not accounted (its table was full), and
   * peers taken out of swarms because their key was revoked.
   */
  accounting?: { unaccounted: number; revokedDropped: number };
}

/** One of the largest swarms. */
export interface TopSwarm {
  /** Info hash, hex. */
  infoHash: string;
  /** Seeders. */
  seeders: number;
  /** Leechers. */
  leechers: number;
  /** Completed downloads. */
  completed: number;
}

/** What one request worker reports. */
export interface SwarmDetails {
  /** Its largest swarms, largest first. */
  top: TopSwarm[];
  /** Client name → peers in the sample. */
  clients: [string, number][];
  /** Peers sampled. */
  sampled: number;
}

/** Merges the reports of several request workers. */
export function mergeDetails(parts: SwarmDetails[], top: number): SwarmDetails {
  const clients = new Map<string, number>();
  let sampled = 0;
  for (const p of parts) {
    sampled += p.sampled;
    for (const [name, n] of p.clients) clients.set(name, (clients.get(name) ?? 0) + n);
  }
  return {
    top: parts.flatMap((p) => p.top)
      .sort((a, b) => b.seeders + b.leechers - (a.seeders + a.leechers))
      .slice(0, top),
    clients: [...clients].sort((a, b) => b[1] - a[1]),
    sampled,
  };
}
