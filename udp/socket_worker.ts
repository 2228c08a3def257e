/**
 * UDP socket worker: opens its sockets, runs each receive batch through the `Router`, posts one
 * batch per request worker, and sends back what the request workers answer.
 *
 * @module
 */

import { type Link, openLinks, replaceLink } from "../shared/runtime/link.ts";
import { Logger } from "../shared/base/log.ts";
import { monotonicSeconds } from "../shared/base/clock.ts";
import { trackFds } from "../shared/net/libc.ts";
import { serveWorker } from "../shared/runtime/worker.ts";
import type { BindResult, UdpSocketInit } from "./socket_init.ts";
import { type DatagramSocket, openSocket, SocketOpenError } from "./io.ts";
import { Router } from "./router.ts";
import type { SocketStats } from "./stats.ts";

serveWorker((init: UdpSocketInit) => {
  const { config, index } = init;
  trackFds(init.fds);
  const log = new Logger(config.log_level, `socket worker ${index}: `);
  const router = new Router({
    requestWorkers: config.request_workers,
    maxScrapeTorrents: config.protocol.max_scrape_torrents,
    maxConnectionAge: config.cleaning.max_connection_age,
    connectionKey: init.connectionKey,
    shardKey: init.shardKey,
  });
  const ports = openLinks(init.ports);
  const socks: (DatagramSocket | null)[] = [null, null];
  const results: BindResult[] = [];

  for (const b of init.binds) {
    try {
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
      results.push({ family: b.family, port: sock.port });
    } catch (err) {
      const code = err instanceof SocketOpenError ? err.code : "EUNKNOWN";
      const message = err instanceof Error ? err.message : String(err);
      results.push({ family: b.family, code, message });
    }
  }

  const flushAll = () => router.forward.flush(ports);
  const flushSockets = () => {
    socks[0]?.flush();
    socks[1]?.flush();
  };

  for (let f = 0; f < 2; f++) {
    const sock = socks[f];
    if (sock === null) continue;
    const family = f === 0 ? 4 : 6;
    sock.serve((batch) => {
      try {
        router.handleBatch(batch, family, sock, monotonicSeconds());
      } catch (err) {
        // A bug must not take the worker down with it; log and carry on with the next batch.
        log.error(`receive batch failed: ${err instanceof Error ? err.stack : err}`);
      }
      sock.flush();
      flushAll();
    }).catch((err) => {
      log.error(`socket failed: ${err instanceof Error ? err.stack : err}`);
      throw err;
    });
  }

  const attach = (link: Link) => {
    link.onmessage = (data: unknown) => {
      try {
        router.handleResponses(data as Uint8Array, socks);
      } catch (err) {
        log.error(`response batch failed: ${err instanceof Error ? err.stack : err}`);
      }
      flushSockets();
    };
  };
  ports.forEach(attach);

  setInterval(() => router.forward.pending.expire(monotonicSeconds()), 1000);

  return {
    reply: results,
    role: {
      stats: (): SocketStats => ({
        role: "socket",
        protocol: "udp",
        index,
        counters: router.counters,
        sendDrops: (socks[0]?.sendDrops ?? 0) + (socks[1]?.sendDrops ?? 0),
      }),
      // Request worker `j` was replaced: requests to it go to its successor from now on
      // (scrapes waiting on the old one expire with the pending table).
      port: (j: number, port: MessagePort) => {
        replaceLink(ports, j, port, attach);
      },
    },
  };
});
