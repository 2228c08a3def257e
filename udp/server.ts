/**
 * `shoal udp` on the main thread: what is UDP's own (the I/O backend, the IPv4 and IPv6
 * addresses and how socket workers bind them, the connection ID key), handed to the tracker
 * runtime (`shared/runtime/tracker.ts`), which runs the rest.
 *
 * @module
 */

import { formatSocketAddress, parseSocketAddress } from "../shared/net/address.ts";
import { OperatorError } from "../shared/base/errors.ts";
import { randomWords } from "../shared/base/hash.ts";
import type { Logger } from "../shared/base/log.ts";
import type { SocketBase } from "../shared/runtime/mesh.ts";
import { runTracker, type ServedGroup } from "../shared/runtime/tracker.ts";
import { trackerView } from "../shared/observe/view.ts";
import { responsePeers, swarmsConfig, type UdpConfig } from "./config.ts";
import type { Bind, BindResult, UdpSocketInit } from "./socket_init.ts";
import { defaultIo } from "./io.ts";
import { udpView } from "./observe.ts";
import { UDP_STATE } from "./saved_swarms.ts";
import type { SocketStats } from "./stats.ts";
import { httpGroup } from "../http/server.ts";
import { httpView } from "../http/observe.ts";
import type { HttpSocketStats } from "../http/socket_init.ts";

function bindOf(config: UdpConfig, family: 4 | 6): Bind {
  const key = family === 4 ? config.network.address : config.network.address_ipv6;
  const a = parseSocketAddress(key);
  if (typeof a === "string") throw new OperatorError(a); // checked at load time already
  return { family, hostname: a.hostname, port: a.port };
}

/**
 * The UDP socket workers of `config`: the first binds the configured addresses and checks no
 * other process holds them; the others, and every replacement, join its `SO_REUSEPORT` group
 * on the ports it bound (port 0 resolved).
 */
export function udpGroup(
  config: UdpConfig,
  log: Logger,
): ServedGroup<UdpSocketInit, BindResult[]> & { io: "ffi" | "deno" } {
  const io = config.network.io === "auto" ? defaultIo() : config.network.io;
  if (io === "ffi" && Deno.build.os !== "linux") {
    throw new OperatorError(`network.io = "ffi" needs Linux; use "deno" or "auto"`);
  }
  let count = config.socket_workers || navigator.hardwareConcurrency || 1;
  if (io === "deno" && count > 1) {
    log.warn(
      `network.io = "deno" cannot share a port between workers (no SO_REUSEPORT): ` +
        `using 1 socket worker instead of ${count}`,
    );
    count = 1;
  }
  const wanted: Bind[] = [];
  if (config.network.use_ipv4) wanted.push(bindOf(config, 4));
  if (config.network.use_ipv6) wanted.push(bindOf(config, 6));
  if (wanted.length === 0) {
    throw new OperatorError(
      "network.use_ipv4 and network.use_ipv6 are both false: nothing to serve",
    );
  }
  let binds: Bind[] | null = null; // resolved once the first one has bound
  const connectionKey = randomWords(4);
  return {
    kind: "udp",
    io,
    url: new URL("./socket_worker.ts", import.meta.url),
    count,
    init: (base: SocketBase): UdpSocketInit => ({
      ...base,
      config,
      io,
      binds: binds ?? wanted,
      checkFree: binds === null,
      connectionKey,
    }),
    bound(results) {
      const resolved: Bind[] = [];
      for (const r of results) {
        const want = wanted.find((w) => w.family === r.family)!;
        const key = r.family === 4 ? "network.address" : "network.address_ipv6";
        if ("port" in r) {
          resolved.push({ ...want, port: r.port });
        } else if (r.family === 6 && r.code === "EAFNOSUPPORT" && wanted.length === 2) {
          log.warn(`IPv6 is not available on this host (${r.message}); serving IPv4 only`);
        } else {
          const why = r.code === "EADDRINUSE" ? "address already in use" : r.message;
          throw new OperatorError(`${key}: cannot listen on ${formatSocketAddress(want)}: ${why}`);
        }
      }
      if (resolved.length === 0) throw new OperatorError("no address could be bound");
      binds = resolved;
      return resolved.map((b) => `listening on udp://${formatSocketAddress(b)}`);
    },
    joined(k, results) {
      const bad = results.find((r) => "code" in r);
      if (bad && "code" in bad) {
        throw new Error(`socket worker ${k} could not bind: ${bad.message}`);
      }
    },
  };
}

/**
 * Starts `shoal udp` with `config`, with HTTP socket workers beside the UDP ones over the same
 * swarms when `[http]` is enabled; resolves once it is serving.
 */
export async function runUdp(config: UdpConfig, log: Logger): Promise<void> {
  const group = udpGroup(config, log);
  const h = config.http;
  const http = h.enabled
    ? await httpGroup(
      { ...h, log_level: config.log_level, request_workers: config.request_workers },
      "http",
      h.socket_workers || navigator.hardwareConcurrency || 1,
      group.count + config.request_workers,
      log,
    )
    : null;
  const describe =
    `${group.count} socket worker(s), ${config.request_workers} request worker(s), io ${group.io}`;
  await runTracker({
    name: http ? "shoal udp+http" : "shoal udp",
    config,
    requestConfig: swarmsConfig(config, responsePeers(config.protocol)),
    state: UDP_STATE,
    requestUrl: new URL("./request_worker.ts", import.meta.url),
    groups: http ? [group, http] : [group],
    observe: http
      ? trackerView<SocketStats | HttpSocketStats>("udp+http", [udpView, httpView])
      : trackerView("udp", [udpView]),
    describe: http
      ? `${describe}; ${http.count} HTTP socket worker(s), io ${http.io}${http.tls ? ", TLS" : ""}`
      : describe,
    started: (l) => http?.started(l),
    reload: async (pool, l) => await http?.reload(pool, l),
  }, log);
}
