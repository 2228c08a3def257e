/**
 * The heavier statistics that request workers compute on demand for the statistics page:
 * the largest swarms and the clients seen in a sample of peers.
 *
 * @module
 */

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
