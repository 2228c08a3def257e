/**
 * The HTTP tracker on the main thread: its socket workers (`httpGroup`), which `shoal http`
 * runs over the UDP tracker's request workers (`runHttp`) and `shoal udp` adds beside its UDP
 * socket workers when its `[http]` section is enabled, so both protocols share the swarms.
 *
 * @module
 */

import { formatSocketAddress, parseSocketAddress } from "../shared/net/address.ts";
import { OperatorError } from "../shared/base/errors.ts";
import type { Logger } from "../shared/base/log.ts";
import { connectionsThatFit } from "../shared/config/open_files.ts";
import { readTls, type TlsFiles } from "../shared/config/tls.ts";
import { trackerView } from "../shared/observe/view.ts";
import type { SocketBase } from "../shared/runtime/mesh.ts";
import type { Pool } from "../shared/runtime/pool.ts";
import { runTracker, type ServedGroup } from "../shared/runtime/tracker.ts";
import { swarmsConfig } from "../udp/config.ts";
import { UDP_STATE } from "../udp/saved_swarms.ts";
import { type HttpConfig, type HttpKeys, type HttpSettings, scrapeFitProblem } from "./config.ts";
import { httpView } from "./observe.ts";
import type { Bind, BindResult, HttpSocketInit } from "./socket_init.ts";

/** HTTP socket workers, and what the runtime does for them beyond starting them. */
export interface HttpGroup extends ServedGroup<HttpSocketInit, BindResult[]> {
  /** The transport they use. */
  io: "ffi" | "deno";
  /** Whether they serve HTTPS. */
  tls: boolean;
  /** Logs the open-file warning, if any (once serving). */
  started(log: Logger): void;
  /** Reloads the TLS certificate (SIGUSR1). */
  reload<S>(pool: Pool<S>, log: Logger): Promise<void>;
}

function bindOf(keys: HttpKeys, family: 4 | 6): Bind {
  const a = parseSocketAddress(family === 4 ? keys.address : keys.address_ipv6);
  if (typeof a === "string") throw new OperatorError(a); // checked at load time already
  return { family, hostname: a.hostname, port: a.port };
}

/**
 * The HTTP socket workers for `settings` (from section `section` of the configuration), `count`
 * of them; `otherWorkers` are the rest of the process's workers (for the open-file budget).
 */
export async function httpGroup(
  settings: HttpSettings,
  section: string,
  count: number,
  otherWorkers: number,
  log: Logger,
): Promise<HttpGroup> {
  const scrapeKey = section === "network"
    ? "protocol.max_scrape_torrents"
    : `${section}.max_scrape_torrents`;
  const misfit = scrapeFitProblem(settings, `${section}.max_request_size`, scrapeKey);
  if (misfit !== null) throw new OperatorError(misfit);
  const tls: TlsFiles | null = settings.use_tls ? await readTls(settings) : null;
  if (settings.io === "ffi" && (tls || Deno.build.os !== "linux")) {
    throw new OperatorError(
      `${section}.io = "ffi" serves plain TCP on Linux only; use "auto" or "deno"` +
        (tls ? " with use_tls" : ""),
    );
  }
  const io = settings.io === "auto"
    ? (tls || Deno.build.os !== "linux" ? "deno" : "ffi")
    : settings.io;
  const wanted: Bind[] = [];
  if (settings.use_ipv4) wanted.push(bindOf(settings, 4));
  if (settings.use_ipv6) wanted.push(bindOf(settings, 6));
  if (wanted.length === 0) {
    throw new OperatorError(`${section}.use_ipv4 and use_ipv6 are both false: nothing to serve`);
  }
  const files = connectionsThatFit(settings.max_connections, count + otherWorkers);
  let binds: Bind[] | null = null; // resolved once the first one has bound
  const scheme = tls ? "https" : "http";
  return {
    kind: "http",
    url: new URL("./socket_worker.ts", import.meta.url),
    count,
    io,
    tls: tls !== null,
    init: (base: SocketBase): HttpSocketInit => ({
      ...base,
      http: settings,
      section,
      io,
      binds: binds ?? wanted,
      checkFree: binds === null,
      tls,
      // reusePort spreads connections evenly over the socket workers: each takes its share.
      maxConnections: Math.ceil((files?.fit ?? settings.max_connections) / count),
      connectionsFitFiles: files !== null,
    }),
    bound(results) {
      const resolved: Bind[] = [];
      for (const r of results) {
        const want = wanted.find((w) => w.family === r.family)!;
        const key = `${section}.${r.family === 4 ? "address" : "address_ipv6"}`;
        if ("port" in r) {
          resolved.push({ ...want, port: r.port });
        } else if (r.family === 6 && r.code === "EAFNOSUPPORT" && wanted.length === 2) {
          log.warn(`IPv6 is not available on this host (${r.message}); serving HTTP on IPv4 only`);
        } else {
          const why = r.code === "EADDRINUSE" ? "address already in use" : r.message;
          throw new OperatorError(`${key}: cannot listen on ${formatSocketAddress(want)}: ${why}`);
        }
      }
      if (resolved.length === 0) throw new OperatorError("no HTTP address could be bound");
      binds = resolved;
      return resolved.map((b) => `listening on ${scheme}://${formatSocketAddress(b)}`);
    },
    joined(k, results) {
      const bad = results.find((r) => "code" in r);
      if (bad && "code" in bad) {
        throw new Error(`http socket worker ${k} could not bind: ${bad.message}`);
      }
    },
    started(l) {
      if (files !== null) l.warn(files.warning.replaceAll("limits.", `${section}.`));
    },
    async reload(pool, l) {
      if (!tls) return;
      try {
        const fresh = await readTls(settings);
        pool.broadcast({ type: "tls", ...fresh }, "socket");
        l.info("SIGUSR1: reloading the HTTP TLS certificate");
      } catch (err) {
        l.error(`SIGUSR1: ${(err as Error).message}; keeping the old certificate`);
      }
    },
  };
}

/** Starts `shoal http` with `config`; resolves once it is serving. */
export async function runHttp(config: HttpConfig, log: Logger): Promise<void> {
  const count = config.socket_workers || navigator.hardwareConcurrency || 1;
  const settings: HttpSettings = {
    ...config.network,
    max_scrape_torrents: config.protocol.max_scrape_torrents,
    log_level: config.log_level,
    request_workers: config.request_workers,
  };
  const group = await httpGroup(settings, "network", count, config.request_workers, log);
  const peers = config.network.max_response_peers;
  await runTracker({
    name: "shoal http",
    config,
    // The UDP tracker's swarms: the HTTP front end sends them BEP 15 announces.
    requestConfig: swarmsConfig(config, { 4: peers, 6: peers }),
    state: UDP_STATE,
    requestUrl: new URL("../udp/request_worker.ts", import.meta.url),
    groups: [group],
    observe: trackerView("http", [httpView]),
    describe:
      `${count} socket worker(s), ${config.request_workers} request worker(s), io ${group.io}` +
      (group.tls ? ", TLS" : ""),
    started: (l) => group.started(l),
    reload: (pool, l) => group.reload(pool, l),
  }, log);
}
