/**
 * `shoal ws` on the main thread: what is the WebTorrent tracker's own (its address and how
 * socket workers bind it, TLS and its reload, room for connections under the open-file
 * limit), handed to the tracker runtime (`shared/runtime/tracker.ts`), which runs the rest.
 *
 * @module
 */

import { ipv6Available, parseSocketAddress } from "../shared/net/address.ts";
import { OperatorError } from "../shared/base/errors.ts";
import type { Logger } from "../shared/base/log.ts";
import { readTls, type TlsFiles } from "../shared/config/tls.ts";
import { trackerView } from "../shared/observe/view.ts";
import type { SocketBase } from "../shared/runtime/mesh.ts";
import { type Bind, Binding, type BindResult } from "../shared/runtime/socket_group.ts";
import { connectionShare, reloadTls, tcpTransport } from "../shared/runtime/socket_group.ts";
import { runTracker, type ServedGroup, type TrackerExtras } from "../shared/runtime/tracker.ts";
import type { WsConfig } from "./config.ts";
import type { WsSocketInit } from "./socket_init.ts";
import { wsView } from "./observe.ts";
import { WS_STATE } from "./saved_torrents.ts";

/** Starts `shoal ws` with `config`; resolves once it is serving. */
export async function runWs(
  config: WsConfig,
  log: Logger,
  extras: TrackerExtras | null = null,
): Promise<void> {
  const count = config.socket_workers || navigator.hardwareConcurrency || 1;
  const share = connectionShare(config.limits.max_connections, count, config.request_workers);
  const parsed = parseSocketAddress(config.network.address);
  if (typeof parsed === "string") throw new OperatorError(`network.address: ${parsed}`);
  let bind: Bind = { family: parsed.family, hostname: parsed.hostname, port: parsed.port };
  if (parsed.family === 6 && parsed.hostname === "::" && !ipv6Available()) {
    log.warn("IPv6 is not available on this host; serving IPv4 only (0.0.0.0)");
    bind = { family: 4, hostname: "0.0.0.0", port: parsed.port };
  }
  const tls: TlsFiles | null = config.network.use_tls ? await readTls(config.network) : null;
  const io = tcpTransport(config.network.io, tls !== null, "network.io");
  const binding = new Binding([bind], () => "network.address", tls ? "wss" : "ws", log);
  const group: ServedGroup<WsSocketInit, BindResult[]> = {
    kind: "ws",
    url: new URL("./socket_worker.ts", import.meta.url),
    count,
    init: (base: SocketBase): WsSocketInit => ({
      ...base,
      name: "ws socket worker",
      logLevel: config.log_level,
      binds: binding.binds,
      checkFree: binding.checkFree,
      io,
      tls,
      limits: config.limits,
      limitNames: {},
      config,
      maxConnections: share.perWorker,
      connectionsFitFiles: share.fitFiles,
    }),
    bound: (results) => binding.bound(results),
    joined: (k, results) => binding.joined(`socket worker ${k}`, results),
  };
  await runTracker({
    name: "shoal ws",
    config,
    requestConfig: config,
    state: WS_STATE,
    requestUrl: new URL("./request_worker.ts", import.meta.url),
    groups: [group],
    observe: trackerView("ws", [wsView]),
    describe: `${count} socket worker(s), ${config.request_workers} request worker(s), io ${io}` +
      (tls ? ", TLS" : ""),
    started: (l) => {
      if (share.warning !== null) l.warn(share.warning);
    },
    // The certificate, kept as it was if the new files cannot be read.
    reload: async (pool, l) => {
      if (tls) await reloadTls(config.network, pool, l);
    },
    extras,
  }, log);
}
