/**
 * `shoal udp` on the main thread: resolves the configuration, starts request workers and
 * socket workers joined by one `MessageChannel` per pair, reports the bound addresses,
 * prints statistics, and stops on SIGINT/SIGTERM.
 *
 * @module
 */

import { formatSocketAddress, parseSocketAddress, type SocketAddress } from "../shared/address.ts";
import { OperatorError } from "../shared/errors.ts";
import { randomWords } from "../shared/hash.ts";
import type { Logger } from "../shared/log.ts";
import { faultTarget, Pool } from "../shared/pool.ts";
import { Mesh } from "../shared/mesh.ts";
import { keepState, loadState } from "../shared/state_file.ts";
import { dropPrivileges } from "../shared/privileges.ts";
import { type AccessUpdate, loadAccessList } from "../shared/access_list.ts";
import type { UdpConfig } from "./config.ts";
import type { Bind, BoundMessage, RequestWorkerInit, SocketWorkerInit } from "./control.ts";
import { defaultIo } from "./io.ts";
import { cached, Rates, serveObservability } from "../shared/observe.ts";
import { heapMetrics } from "../shared/heap.ts";
import { mergeDetails, type SwarmDetails } from "../shared/details.ts";
import { udpMetrics, udpPage, udpSample, type UdpStats, udpTotals } from "./observe.ts";
import { formatSummary, type RequestStats, type SocketStats, STAT_COUNT } from "./stats.ts";

function addressOf(config: UdpConfig, family: 4 | 6): SocketAddress {
  const a = parseSocketAddress(family === 4 ? config.network.address : config.network.address_ipv6);
  if (typeof a === "string") throw new OperatorError(a); // checked at load time already
  return a;
}

/** Starts `shoal udp` with `config`; resolves once it is serving. */
export async function runUdp(config: UdpConfig, log: Logger): Promise<void> {
  const io = config.network.io === "auto" ? defaultIo() : config.network.io;
  if (io === "ffi" && Deno.build.os !== "linux") {
    throw new OperatorError(`network.io = "ffi" needs Linux; use "deno" or "auto"`);
  }
  let socketWorkers = config.socket_workers || navigator.hardwareConcurrency || 1;
  if (io === "deno" && socketWorkers > 1) {
    log.warn(
      `network.io = "deno" cannot share a port between workers (no SO_REUSEPORT): ` +
        `using 1 socket worker instead of ${socketWorkers}`,
    );
    socketWorkers = 1;
  }
  const requestWorkers = config.request_workers;
  const wanted: Bind[] = [];
  if (config.network.use_ipv4) wanted.push({ family: 4, ...hostPort(addressOf(config, 4)) });
  if (config.network.use_ipv6) wanted.push({ family: 6, ...hostPort(addressOf(config, 6)) });
  if (wanted.length === 0) {
    throw new OperatorError(
      "network.use_ipv4 and network.use_ipv6 are both false: nothing to serve",
    );
  }

  let currentAccess = await loadAccessList(config.access_list.mode, config.access_list.path);
  const pool = new Pool(log);
  const connectionKey = randomWords(4);
  const shardKey = randomWords(2);
  // What socket workers bind: the configured addresses for the first one, which also checks
  // that no other process holds them; then the resolved ports (port 0 resolved) for the
  // others and for every replacement, which join the SO_REUSEPORT group.
  let binds: Bind[] = wanted;
  const statePath = config.state.path;
  let state = await loadState(statePath, "udp", shardKey, requestWorkers, log);
  const mesh = new Mesh(pool, {
    sockets: socketWorkers,
    requests: requestWorkers,
    socketUrl: new URL("./socket_worker.ts", import.meta.url),
    requestUrl: new URL("./request_worker.ts", import.meta.url),
    requestInit: (index, ports, fault): RequestWorkerInit => ({
      type: "init",
      index,
      config,
      // A replacement starts with empty swarms, rebuilt from the announces that follow.
      swarmKey: randomWords(4),
      access: currentAccess,
      state: state?.[index] ?? null,
      ports,
      fault,
    }),
    socketInit: (index, ports, fds, fault, restart): SocketWorkerInit => ({
      type: "init",
      index,
      config,
      io,
      binds,
      checkFree: binds === wanted && !restart,
      connectionKey,
      shardKey,
      ports,
      fds,
      fault,
    }),
    checkJoined: (i, reply) => {
      const bad = (reply as BoundMessage).results.find((r) => "code" in r);
      if (bad && "code" in bad) {
        throw new Error(`socket worker ${i} could not bind: ${bad.message}`);
      }
    },
  }, faultTarget());

  try {
    await mesh.startRequests();
    const first = await mesh.startSocket<BoundMessage>(0);
    const resolved: Bind[] = [];
    for (const r of first.results) {
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
    state = null; // loaded by the request workers; replacements start empty
    binds = resolved;
    await Promise.all(
      Array.from({ length: socketWorkers - 1 }, (_, k) => mesh.startSocket(k + 1)),
    );

    // Always printed, whatever the log level: operators and tests need the bound addresses.
    for (const b of binds) console.log(`listening on udp://${formatSocketAddress(b)}`);
    log.info(
      `shoal udp: ${socketWorkers} socket worker(s), ${requestWorkers} request worker(s), io ${io}`,
    );
  } catch (err) {
    pool.terminate();
    throw err;
  }

  keepState(pool, statePath, config.state.save_interval, "udp", requestWorkers, log);
  pool.heartbeat();
  pool.onReload(async () => {
    if (config.access_list.mode === "off") return;
    try {
      const fresh = await loadAccessList(config.access_list.mode, config.access_list.path);
      currentAccess = fresh;
      pool.broadcast({ type: "access", ...fresh } satisfies AccessUpdate, "request");
      log.info(`SIGUSR1: access list reloaded (${fresh.hashes.length / 20} info hashes)`);
    } catch (err) {
      log.error(`SIGUSR1: ${(err as Error).message}; keeping the old access list`);
    }
  });

  const started = performance.now();
  const uptime = () => (performance.now() - started) / 1000;
  const collectStats = async () => (await pool.collect({ type: "stats?" }, "stats")) as UdpStats[];
  if (config.metrics.run_prometheus_endpoint) {
    const rates = new Rates();
    const details = cached(10000, async () =>
      mergeDetails(
        (await pool.collect({ type: "details?" }, "details", "request")) as SwarmDetails[],
        10,
      ));
    serveObservability(config.metrics.prometheus_endpoint_address, {
      metrics: async () => udpMetrics(await collectStats(), uptime()) + await heapMetrics(pool),
      stats: async () => {
        const replies = await collectStats();
        return udpPage(replies, rates.update(udpTotals(replies)), await details(), uptime());
      },
      sample: async () => udpSample(await collectStats()),
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
    let before = new Float64Array(2 * STAT_COUNT);
    let last = performance.now();
    setInterval(async () => {
      const replies = await pool.collect({ type: "stats?" }, "stats") as (
        | SocketStats
        | RequestStats
      )[];
      const sum = new Float64Array(2 * STAT_COUNT);
      let torrents = 0, peers = 0, seeders = 0;
      for (const r of replies) {
        if (r.role === "socket") {
          for (let k = 0; k < sum.length; k++) sum[k] += r.counters[k];
        } else {
          torrents += r.torrents;
          peers += r.peers;
          seeders += r.seeders;
        }
      }
      const t = performance.now();
      console.log(formatSummary(sum, before, (t - last) / 1000, torrents, peers, seeders));
      before = sum;
      last = t;
    }, interval * 1000);
  }
}

function hostPort(a: SocketAddress): { hostname: string; port: number } {
  return { hostname: a.hostname, port: a.port };
}
