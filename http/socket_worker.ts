/**
 * HTTP socket worker: on the socket host (`shared/runtime/socket_host.ts`), TCP listeners on
 * the IPv4 and IPv6 addresses, one `HttpConnection` per connection through the front
 * (`front.ts`), one batch per request worker per turn, and the request workers' answers back
 * to their connections.
 *
 * @module
 */

import { ClusterSide } from "../core/cluster_side.ts";
import { PrivateGate } from "../shared/store/private_gate.ts";
import { monotonicSeconds } from "../shared/base/clock.ts";
import { onceAfterTurn } from "../shared/base/yield.ts";
import { parseIPv4, parseIPv6 } from "../shared/net/address.ts";
import { REFUSED } from "../shared/net/tcp.ts";
import { serveSockets } from "../shared/runtime/socket_host.ts";
import type { Refusals } from "../shared/store/details.ts";
import { splitList } from "./config.ts";
import { HttpFront } from "./front.ts";
import type { HttpSocketInit, HttpSocketStats } from "./socket_init.ts";

/** The trusted proxies' IPs as 16-byte (v4-mapped) addresses. */
function proxyAddresses(list: string): Uint8Array[] {
  return splitList(list).map((ip) => {
    const b = new Uint8Array(18);
    if (parseIPv4(ip, b, 12)) b[10] = b[11] = 0xff;
    else parseIPv6(ip, b, 0);
    return b;
  });
}

serveSockets<HttpSocketInit, HttpSocketStats>((init, host) => {
  const { http, index } = init;
  const front: HttpFront = new HttpFront(
    http,
    init.shardKey,
    { maxConnections: init.maxConnections, maxConnectionsPerIp: http.max_connections_per_ip },
    proxyAddresses(http.reverse_proxy_addresses),
    // Flushed once the current turn's requests are all in (after this read batch).
    onceAfterTurn(() => {
      front.forward.flush(host.links);
      cluster?.flush();
    }),
  );
  const cluster = init.cluster
    ? new ClusterSide(init.cluster, index, front.forward, (b) => {
      front.now = monotonicSeconds();
      front.responses(b);
    }, host.log)
    : null;
  front.now = monotonicSeconds();
  const refusals = (): Refusals =>
    front.admission.refusals(host.outOfFiles, init.connectionsFitFiles);
  setInterval(() => {
    const now = front.now = monotonicSeconds();
    front.sweep(now);
    front.expire(now);
  }, 1000);
  setInterval(() => (front.now = monotonicSeconds()), 250);

  if (init.private) front.private(new PrivateGate(init.private.keys, init.private.clients));
  cluster?.useKeys(front.gate?.keys ?? null);
  return {
    keys: (u) => front.gate?.keys.apply(u),
    // Every HTTP client speaks first: its connection comes with its request (deferred accept).
    listen: (b) =>
      host.listenTcp(b, true, (t, ip, addr) => front.open(t, ip, addr) ?? REFUSED, true),
    answers(batch) {
      front.now = monotonicSeconds();
      front.responses(batch as Uint8Array);
    },
    owners: (o) => cluster?.owners(o),
    stats: () => ({
      role: "socket",
      protocol: "http",
      index,
      connections: front.size,
      keyRefusals: front.gate ? Array.from(front.gate.refused) : undefined,
      cluster: cluster?.stats(),
      counters: front.counters,
      refused: refusals(),
    }),
    refusals,
  };
});
