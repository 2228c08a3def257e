/**
 * UDP request worker: the shared request host (`shared/runtime/request_host.ts`) around this
 * worker's `Swarms`, the torrents whose info hashes shard to it.
 *
 * @module
 */

import { randomWords } from "../shared/base/hash.ts";
import { serveRequests } from "../shared/runtime/request_host.ts";
import { responsePeers, type UdpConfig } from "./config.ts";
import { Swarms } from "./swarms.ts";

serveRequests<UdpConfig, ArrayBuffer, ReturnType<Swarms["stats"]>>({
  cleanSlice: 2048,
  make: ({ config }, access) =>
    new Swarms(
      {
        interval: config.protocol.peer_announce_interval,
        responsePeers: responsePeers(config.protocol),
        // Info hashes spread evenly over the request workers: each keeps its share.
        maxTorrents: Math.ceil(config.limits.max_torrents / config.request_workers),
        maxPeersPerTorrent: config.limits.max_peers_per_torrent,
      },
      randomWords(4),
      access,
    ),
});
