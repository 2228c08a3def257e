/**
 * `shoal ws` on the main thread: starts request workers and socket workers joined by one
 * `MessageChannel` per pair, reports the bound address, reloads TLS on SIGUSR1, prints
 * statistics and stops on SIGINT/SIGTERM.
 *
 * @module
 */

import { formatSocketAddress, parseSocketAddress } from "../shared/address.ts";
import { OperatorError } from "../shared/errors.ts";
import { randomWords } from "../shared/hash.ts";
import type { Logger } from "../shared/log.ts";
import { faultTarget, Pool } from "../shared/pool.ts";
import { Mesh } from "../shared/mesh.ts";
import { keepState, loadState } from "../shared/state_file.ts";
import { dropPrivileges } from "../shared/privileges.ts";
import { openFileLimit } from "../shared/libc.ts";
import { type AccessUpdate, loadAccessList } from "../shared/access_list.ts";
import type { WsConfig } from "./config.ts";
import type { WsBound, WsRequestInit, WsSocketInit, WsTlsUpdate } from "./control.ts";
import { cached, Rates, serveObservability } from "../shared/observe.ts";
import { heapMetrics } from "../shared/heap.ts";
import { mergeDetails, type SwarmDetails } from "../shared/details.ts";
import { wsMetrics, wsPage, wsSample, wsSizes, type WsStats, wsTotals } from "./observe.ts";

/** Reads the PEM files named in the config; unreadable or non-PEM files are operator errors. */
async function readTls(config: WsConfig): Promise<{ cert: string; key: string }> {
  const read = async (key: string, path: string, kind: RegExp): Promise<string> => {
    if (path === "") throw new OperatorError(`network.${key} must be set when use_tls = true`);
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
      throw new OperatorError(`network.${key}: cannot read ${path}: ${why}`);
    }
    if (!kind.test(text)) {
      throw new OperatorError(
        `network.${key}: ${path} is not a PEM file (convert pkcs12 with openssl; see the README)`,
      );
    }
    return text;
  };
  return {
    cert: await read(
      "tls_certificate_path",
      config.network.tls_certificate_path,
      /-----BEGIN CERTIFICATE-----/,
    ),
    key: await read(
      "tls_private_key_path",
      config.network.tls_private_key_path,
      /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
    ),
  };
}

/** True when this host can open an IPv6 socket. */
function ipv6Available(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

/** Descriptors a process needs besides its connections: the runtime's, each worker's, listeners. */
function baseDescriptors(workers: number): number {
  return 64 + 8 * workers;
}

/**
 * How many connections the open-file limit leaves room for, or null when it holds all of
 * `max_connections`, with the one-line warning to log once serving. The socket workers stop
 * accepting at that many (refusals counted as `open_files`), so descriptors stay free for the
 * rest of the process (the metrics endpoint, the state file, a replacement worker).
 */
function connectionsThatFit(
  config: WsConfig,
  workers: number,
): { fit: number; warning: string } | null {
  const limit = openFileLimit();
  const need = config.limits.max_connections + baseDescriptors(workers);
  if (limit === null || limit >= need) return null;
  const fit = Math.max(0, limit - baseDescriptors(workers));
  const warning = `the open-file limit is ${limit} (ulimit -n), below the ${need} that ` +
    `limits.max_connections = ${config.limits.max_connections} needs: about ${fit} ` +
    `connections fit; raise it (ulimit -n, or LimitNOFILE= in the systemd unit) or lower ` +
    `limits.max_connections`;
  return { fit, warning };
}

/** Starts `shoal ws` with `config`; resolves once it is serving. */
export async function runWs(config: WsConfig, log: Logger): Promise<void> {
  const socketWorkers = config.socket_workers || navigator.hardwareConcurrency || 1;
  const requestWorkers = config.request_workers;
  const files = connectionsThatFit(config, socketWorkers + requestWorkers);
  const parsed = parseSocketAddress(config.network.address);
  if (typeof parsed === "string") throw new OperatorError(`network.address: ${parsed}`);
  let bind = { hostname: parsed.hostname, port: parsed.port };
  if (parsed.family === 6 && parsed.hostname === "::" && !ipv6Available()) {
    log.warn("IPv6 is not available on this host; serving IPv4 only (0.0.0.0)");
    bind = { hostname: "0.0.0.0", port: parsed.port };
  }
  const tls = config.network.use_tls ? await readTls(config) : null;
  if (config.network.io === "ffi" && (tls || Deno.build.os !== "linux")) {
    throw new OperatorError(
      `network.io = "ffi" serves plain TCP on Linux only; use "auto" or "deno"` +
        (tls ? " with use_tls" : ""),
    );
  }
  const io = config.network.io === "auto"
    ? (tls || Deno.build.os !== "linux" ? "deno" : "ffi")
    : config.network.io;
  let currentAccess = await loadAccessList(config.access_list.mode, config.access_list.path);
  const pool = new Pool(log);
  const shardKey = randomWords(2);
  const scheme = tls ? "wss" : "ws";
  // The first socket worker binds the configured port and checks that no other process holds
  // it; the others, and every replacement, join its SO_REUSEPORT group on the resolved port.
  let resolved: number | null = null;
  const statePath = config.state.path;
  let state = await loadState(statePath, "ws", shardKey, requestWorkers, log);
  const mesh = new Mesh(pool, {
    sockets: socketWorkers,
    requests: requestWorkers,
    socketUrl: new URL("./socket_worker.ts", import.meta.url),
    requestUrl: new URL("./request_worker.ts", import.meta.url),
    requestInit: (index, ports, fault): WsRequestInit => ({
      type: "init",
      index,
      config,
      access: currentAccess,
      state: state?.[index] ?? null,
      ports,
      fault,
    }),
    socketInit: (index, ports, fds, fault): WsSocketInit => ({
      type: "init",
      index,
      config,
      hostname: bind.hostname,
      port: resolved ?? bind.port,
      io,
      checkFree: resolved === null,
      tls,
      // reusePort spreads connections evenly over the socket workers: each takes its share.
      maxConnections: Math.ceil((files?.fit ?? config.limits.max_connections) / socketWorkers),
      connectionsFitFiles: files !== null,
      shardKey,
      ports,
      fds,
      fault,
    }),
    checkJoined: (i, reply) => {
      const r = reply as WsBound;
      if ("code" in r) throw new Error(`socket worker ${i} could not bind: ${r.message}`);
    },
  }, faultTarget());

  try {
    await mesh.startRequests();
    const first = await mesh.startSocket<WsBound>(0);
    if ("code" in first) {
      const why = first.code === "EADDRINUSE" ? "address already in use" : first.message;
      throw new OperatorError(
        `network.address: cannot listen on ${formatSocketAddress(bind)}: ${why}`,
      );
    }
    resolved = first.port;
    state = null; // loaded by the request workers; replacements start empty
    bind = { hostname: bind.hostname, port: first.port };
    await Promise.all(
      Array.from({ length: socketWorkers - 1 }, (_, k) => mesh.startSocket(k + 1)),
    );
    // Always printed, whatever the log level: operators and tests need the bound address.
    console.log(`listening on ${scheme}://${formatSocketAddress(bind)}`);
    if (files !== null) log.warn(files.warning);
    log.info(
      `shoal ws: ${socketWorkers} socket worker(s), ${requestWorkers} request worker(s), io ${io}` +
        (tls ? ", TLS" : ""),
    );
  } catch (err) {
    pool.terminate();
    throw err;
  }

  keepState(pool, statePath, config.state.save_interval, "ws", requestWorkers, log);
  pool.heartbeat();
  // SIGUSR1 reloads the TLS certificate and the access list, each kept as it was on error.
  pool.onReload(async () => {
    if (tls) {
      try {
        const fresh = await readTls(config);
        pool.broadcast({ type: "tls", ...fresh } satisfies WsTlsUpdate, "socket");
        log.info("SIGUSR1: reloading the TLS certificate");
      } catch (err) {
        log.error(`SIGUSR1: ${(err as Error).message}; keeping the old certificate`);
      }
    }
    if (config.access_list.mode !== "off") {
      try {
        const fresh = await loadAccessList(config.access_list.mode, config.access_list.path);
        currentAccess = fresh;
        pool.broadcast({ type: "access", ...fresh } satisfies AccessUpdate, "request");
        log.info(`SIGUSR1: access list reloaded (${fresh.hashes.length / 20} info hashes)`);
      } catch (err) {
        log.error(`SIGUSR1: ${(err as Error).message}; keeping the old access list`);
      }
    }
  });

  const started = performance.now();
  const uptime = () => (performance.now() - started) / 1000;
  const collectStats = async () => (await pool.collect({ type: "stats?" }, "stats")) as WsStats[];
  if (config.metrics.run_prometheus_endpoint) {
    const rates = new Rates();
    const details = cached(10000, async () =>
      mergeDetails(
        (await pool.collect({ type: "details?" }, "details", "request")) as SwarmDetails[],
        10,
      ));
    serveObservability(config.metrics.prometheus_endpoint_address, {
      metrics: async () => wsMetrics(await collectStats(), uptime()) + await heapMetrics(pool),
      stats: async () => {
        const replies = await collectStats();
        return wsPage(replies, rates.update(wsTotals(replies)), await details(), uptime());
      },
      sample: async () => wsSample(await collectStats()),
    }, log);
  }

  // Last, once every port is bound: chroot and switch user.
  try {
    const who = dropPrivileges(config.privileges);
    if (who) {
      log.info(
        `dropped privileges: chroot ${config.privileges.chroot_path}, uid ${who.uid}, gid ${who.gid}`,
      );
    }
  } catch (err) {
    pool.terminate();
    throw err;
  }

  const interval = config.statistics.interval;
  if (interval > 0 && config.statistics.print_to_stdout) {
    const rates = new Rates();
    rates.update({});
    setInterval(async () => {
      const replies = await collectStats();
      const r = rates.update(wsTotals(replies));
      const s = wsSizes(replies);
      const n = (k: string) => Math.round(r[k] ?? 0);
      console.log(
        `stats: ${s.connections} connections; ${n("messagesIn")} messages/s in, ${
          n("messagesOut")
        } out (offers ${n("offers")}, answers ${
          n("answers")
        }); torrents ${s.torrents}, peers ${s.peers} (seeders ${s.seeders}, leechers ${
          s.peers - s.seeders
        })`,
      );
    }, interval * 1000);
  }
}
