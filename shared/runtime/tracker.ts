/**
 * The tracker runtime on the main thread, the same under every protocol: it starts the request
 * workers and each protocol's socket workers joined by the mesh, prints where it listens,
 * supervises (heartbeat, replacement), keeps the state file, reloads the access list (and
 * whatever else the protocol reloads, such as TLS) on SIGUSR1, serves the metrics and the
 * statistics page, drops privileges once every port is bound, prints a summary line every
 * `statistics.interval`, and stops on SIGINT/SIGTERM. A protocol's `server.ts` only says what
 * is its own: its socket workers and how they bind, its request store, its statistics.
 *
 * @module
 */

import { randomWords } from "../base/hash.ts";
import { OperatorError } from "../base/errors.ts";
import type { Logger, LogLevel } from "../base/log.ts";
import type { AccessListData, AccessMode } from "../store/access_list.ts";
import { mergeDetails } from "../store/details.ts";
import { loadAccessList } from "../config/access_file.ts";
import { dropPrivileges, type PrivilegeSettings } from "../config/privileges.ts";
import { loadState, shardEntries, type StateKind, writeState } from "../config/state_file.ts";
import { cached, serveObservability } from "../observe/endpoint.ts";
import { heapMetrics, heapReport } from "../observe/heap.ts";
import type { TrackerObserve } from "../observe/view.ts";
import { faultTarget } from "./fault.ts";
import { Mesh, type SocketGroup } from "./mesh.ts";
import { Pool } from "./pool.ts";
import type { HostConfig, RequestInit } from "./request_host.ts";
import type { PrivateInit } from "./private_init.ts";
import type { ClusterWorkerInit } from "./cluster_init.ts";

/**
 * What runs beside a tracker on the main thread when it is private (`private/`, composed in
 * `main.ts`): the keys every worker starts with, then its own work once the workers serve.
 */
export interface TrackerExtras {
  /** Start-up data for each worker (and each replacement), as it is now; null: none. */
  init(): PrivateInit | null;
  /** A cluster node's start-up data for each socket worker, as it is now. */
  clusterInit?(): ClusterWorkerInit | null;
  /** The workers serve: start refreshing, accounting and serving the admin API. */
  attach(pool: Pool<unknown>, log: Logger, swarms: SwarmAccess): Promise<void>;
  /** On SIGTERM/SIGINT, before the state file: collect and write what is pending. */
  stop(pool: Pool<unknown>): Promise<void>;
  /** Prometheus lines of its own. */
  metrics(): string;
  /** A line for the log once it serves. */
  describe(): string;
  /** What it adds to the statistics page's data (`stats.json`), if anything. */
  page?(): Record<string, unknown>;
}

/** A cluster node's reach into its own swarms (`cluster/node.ts`). */
export interface SwarmAccess {
  /**
   * Takes the swarms of the cluster shards `arg` marks (`store/cluster_shards.ts`'s
   * `handOffArg`) out of every request worker, as state file entries (null when one did not
   * answer in time).
   */
  handOff(arg: Uint8Array): Promise<Uint8Array[] | null>;
  /** Merges state file entries another node handed over into the request workers owning them. */
  merge(body: Uint8Array): void;
}

/**
 * Several extras as one (private tracking and a cluster's membership): the first start-up data
 * given, attached in order, stopped in the reverse order, their metrics and lines together.
 * Null when none is given.
 */
export function combineExtras(...parts: (TrackerExtras | null)[]): TrackerExtras | null {
  const all = parts.filter((p): p is TrackerExtras => p !== null);
  if (all.length <= 1) return all[0] ?? null;
  return {
    init: () => {
      for (const p of all) {
        const i = p.init();
        if (i !== null) return i;
      }
      return null;
    },
    clusterInit: () => {
      for (const p of all) {
        const i = p.clusterInit?.() ?? null;
        if (i !== null) return i;
      }
      return null;
    },
    attach: async (pool, log, swarms) => {
      for (let k = 0; k < all.length; k++) {
        try {
          await all[k].attach(pool, log, swarms);
        } catch (err) {
          for (let j = k - 1; j >= 0; j--) await all[j].stop(pool).catch(() => {});
          throw err;
        }
      }
    },
    stop: async (pool) => {
      for (const p of [...all].reverse()) await p.stop(pool);
    },
    metrics: () => all.map((p) => p.metrics()).join(""),
    page: () => Object.assign({}, ...all.map((p) => p.page?.() ?? {})),
    describe: () => all.map((p) => p.describe()).join("; "),
  };
}

/** The configuration sections every tracker has. */
export interface TrackerConfig {
  /** Log level. */
  log_level: LogLevel;
  /** Request workers. */
  request_workers: number;
  /** The socket worker and the request worker in one thread (`shared_thread.ts`): on, off, auto. */
  single_thread: "auto" | "on" | "off";
  /** Summary lines. */
  statistics: { interval: number; print_to_stdout: boolean };
  /** The observability endpoint. */
  metrics: { run_prometheus_endpoint: boolean; prometheus_endpoint_address: string };
  /** The access list. */
  access_list: { mode: AccessMode; path: string };
  /** Privilege drop. */
  privileges: PrivilegeSettings;
  /** The state file. */
  state: { path: string; save_interval: number };
}

/** Socket workers the runtime starts: the first binds the configured addresses. */
export interface ServedGroup<I, R> extends SocketGroup<I, R> {
  /**
   * Reads the start-up reply of the group's first worker: throws an `OperatorError` when it
   * could not bind, else notes the ports it bound (for the others to join) and returns its
   * `listening on` lines.
   */
  bound(reply: R): string[];
}

/** What a protocol's server hands the runtime. */
export interface TrackerPlan<C extends TrackerConfig, R extends HostConfig, S> {
  /** E.g. `shoal udp`. */
  name: string;
  /** The configuration. */
  config: C;
  /** What the request workers are configured with (their store's settings among it). */
  requestConfig: R;
  /** What its state file holds. */
  state: StateKind;
  /** The request workers' module. */
  requestUrl: URL;
  /** Its socket workers, by protocol. */
  groups: ServedGroup<unknown, unknown>[];
  /** What it shows of itself. */
  observe: TrackerObserve<S>;
  /** A line about how it runs, logged once it serves. */
  describe: string;
  /** Called once it serves (after the `listening on` lines). */
  started?(log: Logger): void;
  /** Reloads what SIGUSR1 reloads beyond the access list (TLS); logs its own outcome. */
  reload?(pool: Pool<S>, log: Logger): Promise<void>;
  /** Private tracking, when it is on. */
  extras?: TrackerExtras | null;
}

/** Starts the tracker `plan` describes; resolves once it serves. */
export async function runTracker<C extends TrackerConfig, R extends HostConfig, S>(
  plan: TrackerPlan<C, R, S>,
  log: Logger,
): Promise<void> {
  const { config } = plan;
  const pool = new Pool<S>(log);
  // A cluster's nodes shard by the key they share, so a node names another's request worker
  // for an info hash (`core/forward.ts`); a lone tracker by a key of its own.
  const shardKey = plan.extras?.clusterInit?.()?.shardKey ?? randomWords(2);
  let access: AccessListData = await loadAccessList(
    config.access_list.mode,
    config.access_list.path,
  );
  const requests = config.request_workers;
  // One thread for the socket worker and the request worker where the configuration allows it
  // (`single_thread`): up to one core's worth of load it needs less CPU per request than two
  // threads that wake each other, half at light load (bench/results/2026-12-08.md).
  const sockets = plan.groups.reduce((n, g) => n + g.count, 0);
  const why = requests !== 1
    ? `request_workers = ${requests}`
    : plan.groups.length !== 1
    ? `${plan.groups.map((g) => g.kind).join(" and ")} in one process`
    : sockets !== 1
    ? `${sockets} socket workers`
    : plan.extras?.clusterInit?.()
    ? "a cluster"
    : "";
  if (config.single_thread === "on" && why !== "") {
    throw new OperatorError(
      `single_thread = "on" needs socket_workers = 1, request_workers = 1, one protocol and no cluster; this configuration has ${why}`,
    );
  }
  const single = config.single_thread !== "off" && why === "";
  let state = await loadState(config.state.path, plan.state, shardKey, requests, log);
  const mesh = new Mesh(
    pool,
    plan.groups,
    {
      url: plan.requestUrl,
      count: requests,
      // A replacement starts empty; its swarms refill from the announces that follow.
      init: (base): RequestInit<R> => ({
        ...base,
        config: plan.requestConfig,
        access,
        state: base.restart ? null : state?.[base.index] ?? null,
      }),
    },
    faultTarget(),
    shardKey,
    () => plan.extras?.init() ?? null,
    () => plan.extras?.clusterInit?.() ?? null,
    single,
  );
  const lines: string[] = [];
  try {
    await mesh.startRequests();
    state = null; // loaded by the request workers
    for (const g of plan.groups) {
      lines.push(...g.bound(await mesh.startSocket(g, 0)));
      await Promise.all(Array.from({ length: g.count - 1 }, (_, k) => mesh.startSocket(g, k + 1)));
    }
  } catch (err) {
    pool.terminate();
    throw err;
  }

  // Before the `listening on` lines: whoever reads them (a supervisor, a test) may signal at
  // once, and a signal with no listener yet takes its default action (exit, no state saved).
  // Not earlier: every request worker must be up, or a save on stop would be partial.
  const extras = plan.extras ?? null;
  if (extras !== null) {
    try {
      await extras.attach(pool as Pool<unknown>, log, {
        handOff: (shards) => pool.handOff(shards, 10_000),
        merge: (body) => {
          // Each part to the request worker that owns its hashes in this process.
          shardEntries(body, shardKey, requests).forEach((part, j) => {
            if (part.length > 0) pool.post(`request worker ${j}`, { type: "merge", body: part });
          });
        },
      });
    } catch (err) {
      pool.terminate();
      throw err;
    }
  }
  keepState(pool, config.state, plan.state, log, async () => {
    await extras?.stop(pool as Pool<unknown>);
  });
  pool.onReload(async () => {
    await plan.reload?.(pool, log);
    if (config.access_list.mode === "off") return;
    try {
      access = await loadAccessList(config.access_list.mode, config.access_list.path);
      pool.broadcast({ type: "access", list: access }, "request");
      log.info(`SIGUSR1: access list reloaded (${access.hashes.length / 20} info hashes)`);
    } catch (err) {
      log.error(`SIGUSR1: ${(err as Error).message}; keeping the old access list`);
    }
  });
  // Always printed, whatever the log level: operators and tests need the bound addresses.
  for (const l of lines) console.log(l);
  log.info(`${plan.name}: ${plan.describe}${single ? ", both in one thread (single_thread)" : ""}`);
  if (extras !== null) log.info(extras.describe());
  plan.started?.(log);
  pool.heartbeat();

  const started = performance.now();
  const uptime = () => (performance.now() - started) / 1000;
  if (config.metrics.run_prometheus_endpoint) {
    const details = cached(10000, async () => mergeDetails(await pool.details(), 10));
    serveObservability(config.metrics.prometheus_endpoint_address, {
      metrics: async () =>
        plan.observe.metrics(await pool.stats(), uptime()) + (extras?.metrics() ?? "") +
        heapMetrics([heapReport("main"), ...await pool.heaps()]),
      stats: async () => {
        const stats = await pool.stats();
        return { ...plan.observe.page(stats, await details(), uptime()), ...extras?.page?.() };
      },
      sample: async () => plan.observe.sample(await pool.stats()),
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
    plan.observe.summary(await pool.stats()); // the baseline for the first rates
    setInterval(async () => console.log(plan.observe.summary(await pool.stats())), interval * 1000);
  }
}

/**
 * Saves the request workers' swarms to `state.path` on SIGTERM/SIGINT and every
 * `save_interval` seconds (0: only on stop); nothing when the path is empty. A save keeps the
 * previous file if any worker does not answer within 10 s, and saves run one at a time (a
 * periodic save and the one on stop must not share the temp file).
 */
function keepState<S>(
  pool: Pool<S>,
  state: { path: string; save_interval: number },
  kind: StateKind,
  log: Logger,
  first: () => Promise<void>,
): void {
  const { path } = state;
  if (path === "") return pool.stopOnSignals(first);
  let saving = Promise.resolve();
  const save = (): Promise<void> => {
    const run = saving.then(async () => {
      const parts = await pool.saves(10000);
      if (parts === null) {
        // A partial snapshot would silently lose swarms.
        log.error(`state.path: not every request worker answered in time; not saved`);
        return;
      }
      const bytes = await writeState(path, kind, parts);
      log.info(`state saved to ${path} (${bytes} bytes)`);
    });
    saving = run.catch(() => {});
    return run;
  };
  pool.stopOnSignals(async () => {
    try {
      await first();
    } finally {
      await save();
    }
  });
  if (state.save_interval === 0) return;
  setInterval(() => {
    save().catch((err) => log.error(`state.path: periodic save failed: ${(err as Error).message}`));
  }, state.save_interval * 1000);
}
