/**
 * WebSocket socket worker: on the socket host (`shared/runtime/socket_host.ts`), a TCP listener
 * on a port shared with the other socket workers (`SO_REUSEPORT`), the WebSocket engine of
 * `wire.ts` feeding `Connections`, one batch per request worker per turn, and delivery of what
 * request workers send back.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { monotonicSeconds } from "../shared/base/clock.ts";
import { onceAfterTurn } from "../shared/base/yield.ts";
import type { Refusals } from "../shared/store/details.ts";
import { serveSockets } from "../shared/runtime/socket_host.ts";
import { Connections } from "./connections.ts";
import { CloseCode, WireConnection, type WireHandlers, type WireOptions } from "./wire.ts";
import type { Batch } from "./messages.ts";
import { Sharder } from "../shared/store/shard.ts";
import type { WsSocketInit, WsSocketStats } from "./socket_init.ts";
import { WsPrivate } from "./private.ts";
import { WsClusterSide } from "./cluster_side.ts";

/** True for an IPv4 client, also when it reached an IPv6 socket as v4-mapped. */
function isIPv4Client(hostname: string): boolean {
  return hostname.startsWith("::ffff:") || /^\d+\.\d+\.\d+\.\d+$/.test(hostname);
}

serveSockets<WsSocketInit, WsSocketStats>((init, host) => {
  const { config, index } = init;
  const net = config.network;
  // Requests go as bytes through the links' shared-memory rings, and messages come back the
  // same way; scrape counts come back over their ports.
  const flush = () => {
    const links = host.links;
    for (let j = 0; j < links.length; j++) {
      const b = conns.batches[j];
      if (b.len === 0) continue;
      links[j].sendBytes(b.buf, b.len);
      b.len = 0;
    }
    cluster?.flush();
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
  const cluster = init.cluster
    ? new WsClusterSide(init.cluster, index, conns, config.request_workers, host.log)
    : null;
  const wsOptions: WireOptions = {
    maxFrameSize: net.websocket_max_frame_size,
    maxMessageSize: net.websocket_max_message_size,
    healthCheck: net.enable_http_health_check,
    ipHeader: net.runs_behind_reverse_proxy ? net.reverse_proxy_ip_header_name : null,
  };
  // At the share of connections the open-file limit leaves room for, refusals are for want
  // of descriptors, as are failed accepts.
  const refusals = (): Refusals => conns.refusals(host.outOfFiles, init.connectionsFitFiles);
  const handlers: WireHandlers = {
    open: (ws, ip, path) => {
      if (net.ipv6_only && isIPv4Client(ip)) return false;
      const key = conns.private?.keyOf(path) ?? 0;
      ws.id = conns.open(ws, ip, monotonicSeconds(), key);
      if (ws.id === 0) ws.close(CloseCode.TryAgainLater, "too many connections");
      return true;
    },
    message: (ws, b) => conns.message(ws.id, b, monotonicSeconds()),
    text: (ws, text) => conns.text(ws.id, text, monotonicSeconds()),
    closed: (ws, code) => conns.closed(ws.id, code),
  };
  setInterval(
    () => conns.sweep(monotonicSeconds()),
    Math.min(10, config.cleaning.max_connection_idle) * 1000,
  );

  if (init.private) conns.private = new WsPrivate(init.private.keys);
  return {
    keys: (u) => {
      conns.private?.gate.keys.apply(u);
      const n = conns.closeRevoked();
      if (n > 0) host.log.info(`closed ${n} connection(s) of revoked passkeys`);
    },
    listen: (b) =>
      host.listenTcp(b, net.ipv6_only, (t, ip) => new WireConnection(t, wsOptions, handlers, ip)),
    answers: (batch) => conns.deliver(batch as Batch | Uint8Array),
    owners: (o) => cluster?.owners(o),
    stats: () => ({
      role: "socket",
      protocol: "ws",
      index,
      connections: conns.size,
      keyRefusals: conns.private ? Array.from(conns.private.gate.refused) : undefined,
      counters: conns.counters,
      refused: refusals(),
      cluster: cluster?.stats(),
    }),
    refusals,
  };
});
