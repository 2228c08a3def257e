/**
 * UDP socket worker: on the socket host (`shared/runtime/socket_host.ts`), one socket per
 * address family, each receive batch through the `Router` (BEP 15 into the core's records),
 * one batch per request worker after it, and the request workers' answers sent back.
 *
 * @module
 */

import { monotonicSeconds } from "../shared/base/clock.ts";
import { serveSockets } from "../shared/runtime/socket_host.ts";
import type { UdpSocketInit } from "./socket_init.ts";
import { type DatagramSocket, openSocket } from "./io.ts";
import { Router } from "./router.ts";
import type { SocketStats } from "./stats.ts";
import { responsePeers } from "./config.ts";
import { UdpPrivate } from "./private.ts";
import { ClusterSide } from "../core/cluster_side.ts";

serveSockets<UdpSocketInit, SocketStats>((init, { log, links }) => {
  const { config, index } = init;
  const router = new Router({
    requestWorkers: config.request_workers,
    maxScrapeTorrents: config.protocol.max_scrape_torrents,
    maxConnectionAge: config.cleaning.max_connection_age,
    responsePeers: responsePeers(config.protocol),
    connectionKey: init.connectionKey,
    cluster: init.clusterIds,
    shardKey: init.shardKey,
  });
  if (init.private) {
    router.private = new UdpPrivate(
      init.private.keys,
      init.private.clients,
      config.cleaning.max_peer_age,
    );
  }
  const socks: (DatagramSocket | null)[] = [null, null];
  const answers = (batch: Uint8Array) => {
    try {
      router.handleResponses(batch, socks);
    } finally {
      socks[0]?.flush();
      socks[1]?.flush();
    }
  };
  const cluster = init.cluster
    ? new ClusterSide(init.cluster, index, router.forward, answers, log)
    : null;
  cluster?.useKeys(router.private?.gate.keys ?? null);
  setInterval(() => router.forward.pending.expire(monotonicSeconds()), 1000);

  return {
    listen(b) {
      const sock = openSocket(init.io, {
        hostname: b.hostname,
        port: b.port,
        family: b.family,
        reusePort: init.io === "ffi",
        recvBufferSize: config.network.socket_recv_buffer_size,
        checkFree: init.checkFree,
        batchSize: config.network.recv_batch_size,
      });
      socks[b.family === 4 ? 0 : 1] = sock;
      sock.serve((batch) => {
        try {
          router.handleBatch(batch, b.family, sock, monotonicSeconds());
        } catch (err) {
          // A bug must not take the worker down with it; log and carry on with the next batch.
          log.error(`receive batch failed: ${err instanceof Error ? err.stack : err}`);
        }
        sock.flush();
        router.forward.flush(links);
        cluster?.flush();
      }).catch((err) => {
        log.error(`socket failed: ${err instanceof Error ? err.stack : err}`);
        throw err;
      });
      return sock;
    },
    answers: (batch) => answers(batch as Uint8Array),
    owners: (o) => cluster?.owners(o),
    keys: (u) => router.private?.gate.keys.apply(u),
    stats: () => ({
      role: "socket",
      protocol: "udp",
      index,
      counters: router.counters,
      sendDrops: (socks[0]?.sendDrops ?? 0) + (socks[1]?.sendDrops ?? 0),
      keyRefusals: router.private ? Array.from(router.private.gate.refused) : undefined,
      cluster: cluster?.stats(),
    }),
  };
});
