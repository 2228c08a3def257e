/**
 * The HTTP tracker on the main thread: its socket workers (`httpGroup`), which `shoal http`
 * runs over the core's request workers (`runHttp`), and which `main.ts` adds beside UDP's when
 * `shoal udp` enables its `[http]` section, so both protocols share the swarms.
 *
 * @module
 */

import { parseSocketAddress } from "../shared/net/address.ts";
import { OperatorError } from "../shared/base/errors.ts";
import type { Logger } from "../shared/base/log.ts";
import { readTls, type TlsFiles } from "../shared/config/tls.ts";
import { trackerView } from "../shared/observe/view.ts";
import type { SocketBase } from "../shared/runtime/mesh.ts";
import type { Pool } from "../shared/runtime/pool.ts";
import { type Bind, Binding, type BindResult } from "../shared/runtime/socket_group.ts";
import { connectionShare, reloadTls, tcpTransport } from "../shared/runtime/socket_group.ts";
import type { ServedGroup, TrackerExtras } from "../shared/runtime/tracker.ts";
import { runSwarms } from "../core/tracker.ts";
import { type HttpConfig, type HttpKeys, type HttpSettings, scrapeFitProblem } from "./config.ts";
import { httpView } from "./observe.ts";
import type { HttpSocketInit } from "./socket_init.ts";

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
  const io = tcpTransport(settings.io, tls !== null, `${section}.io`);
  const wanted: Bind[] = [];
  if (settings.use_ipv4) wanted.push(bindOf(settings, 4));
  if (settings.use_ipv6) wanted.push(bindOf(settings, 6));
  if (wanted.length === 0) {
    throw new OperatorError(`${section}.use_ipv4 and use_ipv6 are both false: nothing to serve`);
  }
  const share = connectionShare(settings.max_connections, count, otherWorkers, section);
  const binding = new Binding(
    wanted,
    (f) => `${section}.${f === 4 ? "address" : "address_ipv6"}`,
    tls ? "https" : "http",
    log,
  );
  return {
    kind: "http",
    url: new URL("./socket_worker.ts", import.meta.url),
    count,
    io,
    tls: tls !== null,
    init: (base: SocketBase): HttpSocketInit => ({
      ...base,
      name: "http socket worker",
      logLevel: settings.log_level,
      binds: binding.binds,
      checkFree: binding.checkFree,
      io,
      tls,
      limits: {},
      limitNames: {
        max_connections: `${section}.max_connections = ${share.perWorker} (this worker's share)`,
        max_connections_per_ip:
          `${section}.max_connections_per_ip = ${settings.max_connections_per_ip}`,
      },
      http: settings,
      maxConnections: share.perWorker,
      connectionsFitFiles: share.fitFiles,
    }),
    bound: (results) => binding.bound(results),
    joined: (k, results) => binding.joined(`http socket worker ${k}`, results),
    started(l) {
      if (share.warning !== null) l.warn(share.warning);
    },
    reload: async (pool, l) => {
      if (tls) await reloadTls(settings, pool, l, "HTTP TLS certificate");
    },
  };
}

/** Starts `shoal http` with `config` (private when `extras` is given); resolves once it serves. */
export async function runHttp(
  config: HttpConfig,
  log: Logger,
  extras: TrackerExtras | null = null,
): Promise<void> {
  const count = config.socket_workers || navigator.hardwareConcurrency || 1;
  const settings: HttpSettings = {
    ...config.network,
    max_scrape_torrents: config.protocol.max_scrape_torrents,
    log_level: config.log_level,
    request_workers: config.request_workers,
  };
  const group = await httpGroup(settings, "network", count, config.request_workers, log);
  await runSwarms({
    name: "shoal http",
    config,
    groups: [group],
    observe: trackerView("http", [httpView]),
    describe:
      `${count} socket worker(s), ${config.request_workers} request worker(s), io ${group.io}` +
      (group.tls ? ", TLS" : ""),
    started: (l) => group.started(l),
    reload: (pool, l) => group.reload(pool, l),
    extras,
  }, log);
}
