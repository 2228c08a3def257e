/**
 * `shoal ws` on the main thread: what is the WebTorrent tracker's own (its address and how
 * socket workers bind it, TLS and its reload, room for connections under the open-file
 * limit), handed to the tracker runtime (`shared/runtime/tracker.ts`), which runs the rest.
 *
 * @module
 */

import { formatSocketAddress, ipv6Available, parseSocketAddress } from "../shared/net/address.ts";
import { OperatorError } from "../shared/base/errors.ts";
import type { Logger } from "../shared/base/log.ts";
import { connectionsThatFit } from "../shared/config/open_files.ts";
import { readTls, type TlsFiles } from "../shared/config/tls.ts";
import { trackerView } from "../shared/observe/view.ts";
import type { SocketBase } from "../shared/runtime/mesh.ts";
import { runTracker, type ServedGroup } from "../shared/runtime/tracker.ts";
import type { WsConfig } from "./config.ts";
import type { WsBound, WsSocketInit } from "./socket_init.ts";
import { wsView } from "./observe.ts";
import { WS_STATE } from "./swarms.ts";

/** Starts `shoal ws` with `config`; resolves once it is serving. */
export async function runWs(config: WsConfig, log: Logger): Promise<void> {
  const count = config.socket_workers || navigator.hardwareConcurrency || 1;
  const files = connectionsThatFit(config.limits.max_connections, count + config.request_workers);
  const parsed = parseSocketAddress(config.network.address);
  if (typeof parsed === "string") throw new OperatorError(`network.address: ${parsed}`);
  let bind = { hostname: parsed.hostname, port: parsed.port };
  if (parsed.family === 6 && parsed.hostname === "::" && !ipv6Available()) {
    log.warn("IPv6 is not available on this host; serving IPv4 only (0.0.0.0)");
    bind = { hostname: "0.0.0.0", port: parsed.port };
  }
  const tls: TlsFiles | null = config.network.use_tls ? await readTls(config.network) : null;
  if (config.network.io === "ffi" && (tls || Deno.build.os !== "linux")) {
    throw new OperatorError(
      `network.io = "ffi" serves plain TCP on Linux only; use "auto" or "deno"` +
        (tls ? " with use_tls" : ""),
    );
  }
  const io = config.network.io === "auto"
    ? (tls || Deno.build.os !== "linux" ? "deno" : "ffi")
    : config.network.io;
  // The first socket worker binds the configured port and checks that no other process holds
  // it; the others, and every replacement, join its SO_REUSEPORT group on the resolved port.
  let resolved: number | null = null;
  const group: ServedGroup<WsSocketInit, WsBound> = {
    kind: "ws",
    url: new URL("./socket_worker.ts", import.meta.url),
    count,
    init: (base: SocketBase): WsSocketInit => ({
      ...base,
      config,
      hostname: bind.hostname,
      port: resolved ?? bind.port,
      io,
      checkFree: resolved === null,
      tls,
      // reusePort spreads connections evenly over the socket workers: each takes its share.
      maxConnections: Math.ceil((files?.fit ?? config.limits.max_connections) / count),
      connectionsFitFiles: files !== null,
    }),
    bound(r) {
      if ("code" in r) {
        const why = r.code === "EADDRINUSE" ? "address already in use" : r.message;
        throw new OperatorError(
          `network.address: cannot listen on ${formatSocketAddress(bind)}: ${why}`,
        );
      }
      resolved = r.port;
      bind = { hostname: bind.hostname, port: r.port };
      return [`listening on ${tls ? "wss" : "ws"}://${formatSocketAddress(bind)}`];
    },
    joined(k, r) {
      if ("code" in r) throw new Error(`socket worker ${k} could not bind: ${r.message}`);
    },
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
      if (files !== null) l.warn(files.warning);
    },
    // The certificate, kept as it was if the new files cannot be read.
    reload: async (pool, l) => {
      if (!tls) return;
      try {
        const fresh = await readTls(config.network);
        pool.broadcast({ type: "tls", ...fresh }, "socket");
        l.info("SIGUSR1: reloading the TLS certificate");
      } catch (err) {
        l.error(`SIGUSR1: ${(err as Error).message}; keeping the old certificate`);
      }
    },
  }, log);
}
