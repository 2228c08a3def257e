/**
 * What the BitTorrent request workers are configured with, from whichever tracker runs them
 * (`shoal udp`, `shoal http`).
 *
 * @module
 */

import type { LogLevel } from "../shared/base/log.ts";
import type { HostConfig } from "../shared/runtime/request_host.ts";
import type { SwarmSettings } from "./swarms.ts";

/** What a BitTorrent request worker is configured with. */
export interface SwarmsConfig extends HostConfig {
  /** The store's settings (limits already split over the request workers). */
  swarms: SwarmSettings;
}

/** The sections of a tracker's configuration the swarms read. */
export interface SwarmsSource {
  /** Log level. */
  log_level: LogLevel;
  /** Request workers. */
  request_workers: number;
  /** Cleaning passes. */
  cleaning: { interval: number; max_peer_age: number };
  /** Torrent and peer limits. */
  limits: { max_torrents: number; max_peers_per_torrent: number };
  /** The announce interval. */
  protocol: { peer_announce_interval: number };
}

/** The request workers' configuration, from the tracker's. */
export function swarmsConfig(c: SwarmsSource): SwarmsConfig {
  return {
    log_level: c.log_level,
    cleaning: c.cleaning,
    limits: c.limits,
    swarms: {
      interval: c.protocol.peer_announce_interval,
      // Info hashes spread evenly over the request workers: each keeps its share.
      maxTorrents: Math.ceil(c.limits.max_torrents / c.request_workers),
      maxPeersPerTorrent: c.limits.max_peers_per_torrent,
    },
  };
}
