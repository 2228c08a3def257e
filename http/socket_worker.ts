/**
 * HTTP socket worker: listeners on the IPv4 and IPv6 addresses (each in the `SO_REUSEPORT`
 * group of its port), one `HttpConnection` engine per connection (`front.ts`), one batch per
 * request worker per turn, and the request workers' answers back to their connections.
 *
 * @module
 */

import { type Link, openLinks, replaceLink } from "../shared/runtime/link.ts";
import { Logger } from "../shared/base/log.ts";
import { monotonicSeconds } from "../shared/base/clock.ts";
import { socketErrorCode } from "../shared/base/errors.ts";
import { onceAfterTurn } from "../shared/base/yield.ts";
import { parseIPv4, parseIPv6 } from "../shared/net/address.ts";
import { openFileLimit, trackFds } from "../shared/net/libc.ts";
import { REFUSED, type TcpHandlers } from "../shared/net/tcp.ts";
import { TcpListener } from "../shared/net/tcp_listen.ts";
import { LimitLog } from "../shared/observe/limit_log.ts";
import { serveWorker, type WorkerRole } from "../shared/runtime/worker.ts";
import type { Refusals } from "../shared/store/details.ts";
import { splitList } from "./config.ts";
import { HttpFront } from "./front.ts";
import type { BindResult, HttpSocketInit, HttpSocketStats } from "./socket_init.ts";

/** The trusted proxies' IPs as 16-byte (v4-mapped) addresses. */
function proxyAddresses(list: string): Uint8Array[] {
  return splitList(list).map((ip) => {
    const b = new Uint8Array(18);
    if (parseIPv4(ip, b, 12)) b[10] = b[11] = 0xff;
    else parseIPv6(ip, b, 0);
    return b;
  });
}

serveWorker((init: HttpSocketInit): { reply: BindResult[]; role: WorkerRole<HttpSocketStats> } => {
  const { http, index } = init;
  trackFds(init.fds);
  const log = new Logger(http.log_level, `http socket worker ${index}: `);
  const ports = openLinks(init.ports);
  const front = new HttpFront(
    http,
    init.shardKey,
    { maxConnections: init.maxConnections, maxConnectionsPerIp: http.max_connections_per_ip },
    proxyAddresses(http.reverse_proxy_addresses),
    // Flushed once the current turn's requests are all in (after this read batch).
    onceAfterTurn(() => front.forward.flush(ports)),
  );
  front.now = monotonicSeconds();
  const attach = (link: Link) => {
    link.onmessage = (data: unknown) => {
      front.now = monotonicSeconds();
      try {
        front.responses(data as Uint8Array);
      } catch (err) {
        log.error(`response batch failed: ${err instanceof Error ? err.stack : err}`);
      }
    };
  };
  ports.forEach(attach);

  let outOfFiles = 0; // connections refused for want of descriptors
  const refusals = (): Refusals => front.admission.refusals(outOfFiles, init.connectionsFitFiles);
  const stats = (): HttpSocketStats => ({
    role: "socket",
    protocol: "http",
    index,
    connections: front.size,
    counters: front.counters,
    refused: refusals(),
  });
  const tcp: TcpHandlers = {
    accept: (t, ip, addr) => {
      const c = front.open(t, ip, addr);
      return c ?? REFUSED;
    },
    outOfFiles: () => outOfFiles++,
  };

  const listeners: TcpListener[] = [];
  const results: BindResult[] = [];
  for (const b of init.binds) {
    try {
      const l = new TcpListener(
        {
          hostname: b.hostname,
          port: b.port,
          v6only: true,
          io: init.io,
          tls: init.tls,
          checkFree: init.checkFree,
        },
        tcp,
        log,
      );
      listeners.push(l);
      results.push({ family: b.family, port: l.port });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      results.push({ family: b.family, code: socketErrorCode(err), message });
    }
  }

  const fileLimit = openFileLimit();
  new LimitLog(log, {}, refusals, 10_000, {
    max_connections:
      `${init.section}.max_connections = ${init.maxConnections} (this worker's share)`,
    max_connections_per_ip:
      `${init.section}.max_connections_per_ip = ${http.max_connections_per_ip}`,
    open_files: `out of file descriptors: the open-file limit (ulimit -n ${fileLimit ?? "?"})`,
  });
  setInterval(() => {
    const now = front.now = monotonicSeconds();
    front.sweep(now);
    front.expire(now);
  }, 1000);
  setInterval(() => (front.now = monotonicSeconds()), 250);

  return {
    reply: results,
    role: {
      stats,
      // Request worker `j` was replaced: requests to it go to its successor from now on
      // (those waiting on the old one are answered with a failure when they time out).
      port: (j: number, port: MessagePort) => {
        replaceLink(ports, j, port, attach);
      },
      tls: (cert: string, key: string) => {
        for (const l of listeners) l.reloadTls({ cert, key });
      },
    },
  };
});
