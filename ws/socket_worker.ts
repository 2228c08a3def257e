/**
 * WebSocket socket worker: a listener on a port shared with the other socket workers
 * (`SO_REUSEPORT`), the WebSocket engine of `wire.ts` feeding `Connections`, one batch per
 * request worker per turn, and delivery of what request workers send back.
 *
 * Plain TCP goes through libc `epoll` (`transport_ffi.ts`) on Linux unless `network.io` says
 * otherwise; TLS and other platforms use Deno's listeners (`transport_deno.ts`). TLS
 * certificates are swapped by opening a new listener and closing the old one; open
 * connections stay where they are.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { Logger } from "../shared/base/log.ts";
import { monotonicSeconds } from "../shared/base/clock.ts";
import { onceAfterTurn } from "../shared/base/yield.ts";
import { LimitLog } from "../shared/observe/limit_log.ts";
import type { Refusals } from "../shared/store/details.ts";
import { openFileLimit, trackFds } from "../shared/net/libc.ts";
import { serveWorker, type WorkerRole } from "../shared/runtime/worker.ts";
import { type Link, openLinks, replaceLink } from "../shared/runtime/link.ts";
import { Close, Connections } from "./connections.ts";
import { WireConnection, type WireHandlers, type WireOptions } from "./wire.ts";
import type { TcpHandlers } from "../shared/net/tcp.ts";
import { TcpListener } from "../shared/net/tcp_listen.ts";
import { socketErrorCode } from "../shared/base/errors.ts";
import type { Batch } from "./messages.ts";
import { Sharder } from "../shared/store/shard.ts";
import type { WsBound, WsSocketInit, WsSocketStats } from "./socket_init.ts";

/** True for an IPv4 client, also when it reached an IPv6 socket as v4-mapped. */
function isIPv4Client(hostname: string): boolean {
  return hostname.startsWith("::ffff:") || /^\d+\.\d+\.\d+\.\d+$/.test(hostname);
}

serveWorker((init: WsSocketInit): { reply: WsBound; role: WorkerRole<WsSocketStats> } => {
  const { config, index } = init;
  // Requests go as bytes through the links' shared-memory rings, and messages come back the
  // same way; scrape counts come back over their ports.
  const ports = openLinks([...init.ports]);
  trackFds(init.fds);
  const net = config.network;
  const log = new Logger(config.log_level, `ws socket worker ${index}: `);
  const flush = () => {
    for (let j = 0; j < ports.length; j++) {
      const b = conns.batches[j];
      if (b.len === 0) continue;
      ports[j].sendBytes(b.buf, b.len);
      b.len = 0;
    }
  };
  const conns = new Connections(
    new Sharder(init.shardKey, config.request_workers),
    config.request_workers,
    {
      maxOffers: config.protocol.max_offers,
      maxScrapeTorrents: config.protocol.max_scrape_torrents,
      maxOutgoingBuffer: net.max_outgoing_buffer,
      maxIdle: config.cleaning.max_connection_idle,
      maxConnections: init.maxConnections,
      maxConnectionsPerIp: config.limits.max_connections_per_ip,
    },
    // Flushed once the current turn's messages are all in.
    onceAfterTurn(flush),
  );

  const attach = (link: Link) => {
    link.onmessage = (data: unknown) => {
      try {
        conns.deliver(data as Batch | Uint8Array);
      } catch (err) {
        log.error(`delivery failed: ${err instanceof Error ? err.stack : err}`);
      }
    };
  };
  ports.forEach(attach);

  const wsOptions: WireOptions = {
    maxFrameSize: net.websocket_max_frame_size,
    maxMessageSize: net.websocket_max_message_size,
    healthCheck: net.enable_http_health_check,
    ipHeader: net.runs_behind_reverse_proxy ? net.reverse_proxy_ip_header_name : null,
  };
  let outOfFiles = 0; // connections refused for want of descriptors
  // At the share of connections the open-file limit leaves room for, refusals are for want
  // of descriptors, as are failed accepts.
  const refusals = (): Refusals => conns.refusals(outOfFiles, init.connectionsFitFiles);
  const wsStats = (): WsSocketStats => ({
    role: "socket",
    protocol: "ws",
    index,
    connections: conns.size,
    counters: conns.counters,
    refused: refusals(),
  });
  const handlers: WireHandlers = {
    open: (ws, ip) => {
      if (net.ipv6_only && isIPv4Client(ip)) return false;
      ws.id = conns.open(ws, ip, monotonicSeconds());
      if (ws.id === 0) ws.close(Close.TryAgainLater, "too many connections");
      return true;
    },
    message: (ws, b) => conns.message(ws.id, b, monotonicSeconds()),
    text: (ws, text) => conns.text(ws.id, text, monotonicSeconds()),
    closed: (ws, code) => conns.closed(ws.id, code),
  };
  const tcp: TcpHandlers = {
    accept: (t, ip) => new WireConnection(t, wsOptions, handlers, ip),
    outOfFiles: () => outOfFiles++,
  };
  let listener: TcpListener;
  try {
    listener = new TcpListener(
      {
        hostname: init.hostname,
        port: init.port,
        v6only: net.ipv6_only,
        io: init.io,
        tls: init.tls,
        checkFree: init.checkFree,
      },
      tcp,
      log,
    );
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const reply: WsBound = { code: socketErrorCode(err), message };
    return { reply, role: { stats: wsStats, port: () => {} } };
  }

  const fileLimit = openFileLimit();
  new LimitLog(log, config.limits, refusals, 10_000, {
    open_files: `out of file descriptors: the open-file limit (ulimit -n ${fileLimit ?? "?"})`,
  });
  setInterval(
    () => conns.sweep(monotonicSeconds()),
    Math.min(10, config.cleaning.max_connection_idle) * 1000,
  );
  return {
    reply: { port: listener.port } satisfies WsBound,
    role: {
      stats: wsStats,
      // Request worker `j` was replaced (its swarms start empty and refill from the announces
      // that follow); batches for it go to its successor.
      port: (j: number, p: MessagePort) => replaceLink(ports, j, p, attach),
      tls: (cert: string, key: string) => listener.reloadTls({ cert, key }),
    },
  };
});
