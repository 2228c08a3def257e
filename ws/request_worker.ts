/**
 * WebSocket request worker: the shared request host (`shared/runtime/request_host.ts`) around
 * this worker's `WsSwarms`, which route offers and answers to whichever socket worker holds
 * the peer.
 *
 * @module
 */

import { type HostConfig, serveRequests } from "../shared/runtime/request_host.ts";
import type { RequestStats } from "../shared/store/details.ts";
import type { WsConfig } from "./config.ts";
import { BatchOutbox } from "./outbox.ts";
import { WsSwarms } from "./swarms.ts";

/** What a ws request worker is configured with: the tracker's configuration. */
export type WsRequestConfig = WsConfig & HostConfig;

serveRequests<WsRequestConfig, Uint8Array, RequestStats>({
  cleanSlice: 1000,
  make: ({ config }, access) =>
    new WsSwarms(
      {
        interval: config.protocol.peer_announce_interval,
        maxOfferAge: config.cleaning.max_offer_age,
        maxOffers: config.protocol.max_offers,
        // Info hashes spread evenly over the request workers: each keeps its share.
        maxTorrents: Math.ceil(config.limits.max_torrents / config.request_workers),
        maxPeersPerTorrent: config.limits.max_peers_per_torrent,
      },
      new BatchOutbox(),
      access,
    ),
});
