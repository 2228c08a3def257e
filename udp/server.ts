/**
 * `shoal udp` on the main thread: what is UDP's own (the I/O backend, the IPv4 and IPv6
 * addresses, the connection ID key): its socket workers, which `main.ts` runs over the core's
 * swarms (beside HTTP's when `[http]` is enabled).
 *
 * @module
 */

import { clusterIds } from "../shared/config/cluster_section.ts";
import { parseSocketAddress } from "../shared/net/address.ts";
import { OperatorError } from "../shared/base/errors.ts";
import { randomWords } from "../shared/base/hash.ts";
import type { Logger } from "../shared/base/log.ts";
import type { SocketBase } from "../shared/runtime/mesh.ts";
import { type Bind, Binding, type BindResult } from "../shared/runtime/socket_group.ts";
import type { ServedGroup } from "../shared/runtime/tracker.ts";
import type { UdpConfig } from "./config.ts";
import type { UdpSocketInit } from "./socket_init.ts";
import { defaultIo } from "./io.ts";

function bindOf(config: UdpConfig, family: 4 | 6): Bind {
  const key = family === 4 ? config.network.address : config.network.address_ipv6;
  const a = parseSocketAddress(key);
  if (typeof a === "string") throw new OperatorError(a); // checked at load time already
  return { family, hostname: a.hostname, port: a.port };
}

/**
 * The UDP socket workers of `config`: the first binds the configured addresses; the others,
 * and every replacement, join its `SO_REUSEPORT` group (`Binding`).
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
  const binding = new Binding(
    wanted,
    (f) => f === 4 ? "network.address" : "network.address_ipv6",
    "udp",
    log,
  );
  const cluster = clusterIds(config.cluster);
  const connectionKey = cluster?.key ?? randomWords(4);
  return {
    kind: "udp",
    io,
    url: new URL("./socket_worker.ts", import.meta.url),
    count,
    init: (base: SocketBase): UdpSocketInit => ({
      ...base,
      name: "socket worker",
      logLevel: config.log_level,
      binds: binding.binds,
      checkFree: binding.checkFree,
      io,
      tls: null,
      limits: {},
      limitNames: {},
      config,
      connectionKey,
      clusterIds: cluster === null
        ? null
        : { previousKey: cluster.previousKey, skew: cluster.skew },
    }),
    bound: (results) => binding.bound(results),
    joined: (k, results) => binding.joined(`socket worker ${k}`, results),
  };
}
