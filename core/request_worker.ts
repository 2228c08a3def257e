/**
 * The BitTorrent request worker: the shared request host (`shared/runtime/request_host.ts`)
 * around this worker's `Swarms`, the torrents whose info hashes shard to it. The socket workers
 * of every BitTorrent front (UDP, HTTP) feed it the same records.
 *
 * @module
 */

import { randomWords } from "../shared/base/hash.ts";
import type { RequestStats } from "../shared/store/details.ts";
import { serveRequests } from "../shared/runtime/request_host.ts";
import type { SwarmsConfig } from "./config.ts";
import { Swarms } from "./swarms.ts";

serveRequests<SwarmsConfig, Uint8Array, RequestStats>({
  cleanSlice: 2048,
  make: ({ config }, access) => new Swarms(config.swarms, randomWords(4), access),
});
