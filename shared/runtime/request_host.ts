/**
 * The request worker, whatever the protocol: it owns the swarms of the info hashes that shard
 * to it, as a `SwarmStore` (`core/swarms.ts`, `ws/swarms.ts`), and runs what every request worker
 * does around it: load its share of the state file, feed it each socket worker's batches and
 * flush what it answers, clean in small slices, keep the access list, log limit refusals, and
 * answer the main thread's collections.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { monotonicSeconds } from "../base/clock.ts";
import { Logger, type LogLevel } from "../base/log.ts";
import { macrotask } from "../base/yield.ts";
import { AccessList, type AccessListData } from "../store/access_list.ts";
import type { Refusals, RequestStats, SwarmDetails } from "../store/details.ts";
import { LimitLog } from "../observe/limit_log.ts";
import type { RequestBase } from "./mesh.ts";
import { serveWorker } from "./worker.ts";
import type { PrivateInit } from "./private_init.ts";
import type { KeyUpdate } from "../store/key_table.ts";
import { blockingWaits, type Link, openLinks, type Port, replaceLink } from "./link.ts";
import type { ClusterWorkerInit, ShardOwners } from "./cluster_init.ts";
import {
  frame,
  frameTime,
  HEADER_LEN,
  NatsLink,
  natsSubjects,
  pollableNats,
  usePolledLinks,
} from "./nats_link.ts";
import { pollRings } from "./thread_poll.ts";
import { BatchWriter } from "./channel.ts";
import { ORIGIN_HEADER_LEN, RemoteOrigins } from "./remote_origins.ts";

/**
 * How long a node may be missing from the cluster before other nodes' request workers forget its
 * socket workers and their peers: longer than a flap (a heartbeat or two missed).
 */
const DEPARTED_GRACE_MS = 10_000;

/** Largest swarms and sampled peers reported for the statistics page. */
const DETAIL_TOP = 10, DETAIL_SAMPLE = 20000;

/** The swarms of one request worker; `M` is a batch from a socket worker. */
export interface SwarmStore<M, S extends RequestStats> {
  /** Handles the batch `batch` from socket worker `from` at `now` (monotonic seconds). */
  receive(from: number, batch: M, now: number): void;
  /**
   * Sends what `receive` produced, at most one batch per socket worker. The host calls it after
   * each `receive`, while that batch is still valid (a byte batch is a view of the link's
   * ring), so a store may keep positions in the batch until then.
   */
  flush(ports: Port[]): void;
  /**
   * Continues the cleaning pass over up to `budget` torrents: peers last seen before `cutoff`
   * go. Returns true when the pass is complete.
   */
  clean(now: number, cutoff: number, budget: number): boolean;
  /** Every torrent as state file entries (`config/state_file.ts`). */
  save(): Uint8Array<ArrayBuffer>;
  /** Loads state file entries, keeping peers seen at or after `cutoff`. */
  load(body: Uint8Array, cutoff: number, now: number): { torrents: number; peers: number };
  /** The largest swarms and the clients of a sample of peers. */
  details(top: number, sample: number): SwarmDetails;
  /** Announces refused so far, by limit (`limits.*` keys). */
  refusals(): Refusals;
  /** This worker's statistics. */
  stats(index: number): S;
  /** Socket worker `worker` was replaced: drop what belonged to its connections (ws). */
  socketGone?(worker: number): number;
  /** New or changed passkeys (a private tracker): a revoked key's peers leave the swarms. */
  keys?(update: KeyUpdate): void;
  /** The seeders, leechers and completed count of the torrent `infoHash`. */
  torrent?(infoHash: Uint8Array): [number, number, number];
  /** The accounting since the last call (`store/peer_accounts.ts` records), reset. */
  drainAccounts?(): Uint8Array<ArrayBuffer>;
  /**
   * Answers a batch of records from another node of the cluster (`core/records.ts`, with the
   * records only nodes exchange) into `w`, at `now`.
   */
  answerRemote?(batch: Uint8Array, now: number, w: BatchWriter): void;
  /**
   * The torrents of the cluster shards `arg` marks (`store/cluster_shards.ts`'s `handOffArg`),
   * as state file entries, taken out of the store (another node of the cluster owns them now).
   */
  handOff?(arg: Uint8Array): Uint8Array<ArrayBuffer>;
}

/** The part of the configuration the host reads. */
export interface HostConfig {
  /** Log level. */
  log_level: LogLevel;
  /** Cleaning passes. */
  cleaning: { interval: number; max_peer_age: number };
  /** The `[limits]` settings, for the refusal log. */
  limits: Record<string, number>;
}

/** A request worker's start-up data. */
export interface RequestInit<C extends HostConfig> extends RequestBase {
  /** The configuration. */
  config: C;
  /** The access list. */
  access: AccessListData;
  /** This worker's share of the state file (its entries), if any. */
  state: Uint8Array | null;
  /** A private tracker's keys and registered torrents (null: open tracker). */
  private?: PrivateInit | null;
  /** A cluster node's NATS settings: other nodes' batches for this worker come that way. */
  cluster?: ClusterWorkerInit | null;
  /**
   * True when this worker shares its thread with the socket worker (`single_thread`):
   * the socket side's poller reads the rings, and the thread must never block for batches.
   */
  sharedThread?: boolean;
}

/** How a protocol's store is made and cleaned. */
export interface StoreMaker<C extends HostConfig, M, S extends RequestStats> {
  /** Makes the store for this worker's start-up data, serving what `access` allows. */
  make(init: RequestInit<C>, access: AccessList, log: Logger): SwarmStore<M, S>;
  /** Torrents visited per cleaning slice, so requests wait at most one slice. */
  cleanSlice: number;
}

/** Runs this worker as a request worker around the store `maker` makes. */
export function serveRequests<C extends HostConfig, M, S extends RequestStats>(
  maker: StoreMaker<C, M, S>,
): void {
  serveWorker((init: RequestInit<C>, context) => {
    const { config, index } = init;
    const links = openLinks(init.ports);
    const log = new Logger(config.log_level, `request worker ${index}: `);
    const access = new AccessList();
    access.update(init.access);
    const store = maker.make(init, access, log);
    if (init.private) {
      store.keys?.(init.private.keys);
      access.updateRegistered(init.private.registered);
    }
    const drainAccounts = store.drainAccounts;
    if (drainAccounts !== undefined) {
      // Accounting goes to the main thread each second, so a crash loses at most that much.
      setInterval(() => {
        const body = drainAccounts.call(store);
        if (body.length > 0) context.postAccounting(body, false);
      }, 1000);
    }
    new LimitLog(log, config.limits, () => store.refusals());
    if (init.state !== null) {
      const now = monotonicSeconds();
      const got = store.load(init.state, now - config.cleaning.max_peer_age, now);
      log.info(`loaded ${got.torrents} torrents, ${got.peers} live peers from the state file`);
    }

    // Where the swarms' answers go: the local links, then (a cluster's WebTorrent swarms)
    // other nodes' socket workers (`remote_origins.ts`).
    const ports: Port[] = links.slice();
    const receive = (from: number, data: unknown) => {
      try {
        store.receive(from, data as M, monotonicSeconds());
      } catch (err) {
        // Keep serving: one bad batch must not drop every swarm this worker owns.
        log.error(`request batch failed: ${err instanceof Error ? err.stack : err}`);
      }
      store.flush(ports);
    };
    const attach = (link: Link, from: number) => {
      link.onmessage = (data: unknown) => receive(from, data);
    };
    links.forEach(attach);
    const cluster = init.cluster ?? null;
    // Nothing on this worker's event loop (timers, control messages) minds waiting a
    // millisecond, while its batches come through the rings: it waits for them blocking. A
    // cluster's batches also come over NATS: through the thread's poller, which then reads the
    // rings too and blocks in `epoll_wait`, or, where NATS needs Deno's connections (TLS), on
    // the event loop, which must not wait.
    const natsPolled = cluster !== null && pollableNats(cluster);
    usePolledLinks(natsPolled);
    if (natsPolled) pollRings(true);
    if (!init.sharedThread) blockingWaits(cluster === null || natsPolled);
    const served = cluster === null
      ? null
      : store.answerRemote
      ? { origins: null, remoteIn: answerOtherNodes(cluster, index, store, log) }
      : store.socketGone
      ? serveOrigins(cluster, index, ports, receive, (v) => store.socketGone!(v), log)
      : null;

    // The latest assignment of shards to nodes (a cluster's; `owners` control messages).
    let latest: ShardOwners = cluster?.owners ??
      { nodes: [], workers: [], owner: new Int16Array(0) };
    /** Nodes gone from the assignment, since when (`Date.now()`). */
    const missing = new Map<string, number>();
    let cleaning = false;
    setInterval(async () => {
      if (cleaning) return;
      cleaning = true;
      const now = monotonicSeconds(), cutoff = now - config.cleaning.max_peer_age;
      while (!store.clean(now, cutoff, maker.cleanSlice)) await macrotask();
      // Other nodes' socket workers silent for longer than a peer lives hold no peer here.
      const quiet = served?.origins?.sweep(cutoff) ?? 0;
      if (quiet > 0) log.debug(`cluster: forgot ${quiet} silent socket worker(s) of other nodes`);
      cleaning = false;
    }, config.cleaning.interval * 1000);

    return {
      reply: null,
      role: {
        stats: () => ({
          ...store.stats(index),
          remoteIn: served?.remoteIn(),
        }),
        details: () => store.details(DETAIL_TOP, DETAIL_SAMPLE),
        save: () => store.save(),
        port: (from: number, port: MessagePort) => {
          // Socket worker `from` was replaced; its successor sends on a new channel.
          if (store.socketGone) {
            log.info(
              `socket worker ${from} replaced: ${store.socketGone(from)} of its peers removed`,
            );
          }
          replaceLink(links, from, port, attach);
          ports[from] = links[from];
        },
        keys: (update: KeyUpdate) => store.keys?.(update),
        torrent: (h: Uint8Array) => store.torrent?.(h) ?? [0, 0, 0],
        registered: (hashes: Uint8Array) => access.updateRegistered(hashes),
        drain: () => store.drainAccounts?.() ?? new Uint8Array(0),
        handOff: (arg: Uint8Array) => store.handOff?.(arg) ?? new Uint8Array(0),
        merge: (body: Uint8Array) => {
          // Peers united (a peer already here stays as it is), completed counts the larger.
          const now = monotonicSeconds();
          try {
            const got = store.load(body, now - config.cleaning.max_peer_age, now);
            log.debug(`merged ${got.torrents} torrents, ${got.peers} peers from another node`);
          } catch (err) {
            log.error(`a handoff from another node could not be merged: ${(err as Error).message}`);
          }
        },
        owners: (o: ShardOwners) => {
          // A node gone from the cluster takes its connections' peers with it once it has been
          // gone for the grace (a missed heartbeat is not a departure).
          const origins = served?.origins, prefix = cluster?.prefix ?? "";
          if (!origins) return;
          const now = Date.now();
          for (const n of latest.nodes) if (!o.nodes.includes(n)) missing.set(n, now);
          for (const n of o.nodes) missing.delete(n);
          latest = o;
          setTimeout(() => {
            const t = Date.now(), keep = [...latest.nodes];
            for (const [n, since] of missing) {
              if (t - since < DEPARTED_GRACE_MS) keep.push(n);
              else missing.delete(n); // forgotten below, for good
            }
            const k = origins.keepNodes(keep, (s) => natsSubjects.nodeOfAnswers(prefix, s));
            if (k > 0) log.info(`cluster: forgot ${k} socket worker(s) of nodes that left`);
          }, DEPARTED_GRACE_MS + 100);
        },
        access: (list: AccessListData) => {
          access.update(list);
          log.info(`access list updated: ${access.size} info hashes`);
        },
      },
    };
  });
}

/**
 * Request worker `index` of a cluster node takes the batches other nodes' socket workers send
 * it over NATS and answers each straight back to the worker that sent it, echoing its time.
 */
function answerOtherNodes<M, S extends RequestStats>(
  init: ClusterWorkerInit,
  index: number,
  store: SwarmStore<M, S>,
  log: Logger,
): RemoteIn {
  const link = new NatsLink(init, `shoal ${init.node} request worker ${index}`);
  const w = new BatchWriter();
  const counts = { batches: 0, requests: 0 };
  void link.open([{
    subject: natsSubjects.requests(init.prefix, init.node, index),
    on: (m, reply) => {
      const sent = frameTime(m);
      if (reply === "" || Number.isNaN(sent)) return; // not ours to answer
      w.clear();
      try {
        store.answerRemote!(m.subarray(HEADER_LEN), monotonicSeconds(), w);
      } catch (err) {
        w.clear(); // its scrapes time out at the sender; nothing half-written goes back
        log.error(`a batch from another node failed: ${err instanceof Error ? err.message : err}`);
      }
      counts.batches++;
      counts.requests += w.count;
      link.publish(reply, frame(w, sent));
    },
  }], log);
  return () => ({ ...counts, linked: link.linked });
}

/** A request worker's traffic from other nodes, and whether its NATS link is up. */
type RemoteIn = () => { batches: number; requests: number; linked: boolean };

/**
 * Request worker `index` of a cluster node whose swarms answer connections takes the batches of
 * other nodes' socket workers over NATS, each as from a socket worker of its own (`receive`),
 * and what its swarms send them goes back through `ports` (`remote_origins.ts`).
 */
function serveOrigins(
  init: ClusterWorkerInit,
  index: number,
  ports: Port[],
  receive: (from: number, batch: Uint8Array) => void,
  gone: (from: number) => number,
  log: Logger,
): { origins: RemoteOrigins; remoteIn: RemoteIn } {
  const link = new NatsLink(init, `shoal ${init.node} request worker ${index}`);
  const origins = new RemoteOrigins(ports, (s, m) => link.publish(s, m), gone);
  // Without NATS, peers on other nodes cannot be reached: offers must not go to them. Their
  // socket workers make them rejoin once NATS is back.
  link.onLinked = (up) => {
    const n = up ? 0 : origins.clear();
    if (n > 0) log.debug(`cluster: NATS link down; forgot ${n} socket worker(s) of other nodes`);
  };
  void link.open([{
    subject: natsSubjects.requests(init.prefix, init.node, index),
    on: (m, reply) => {
      const from = origins.take(m, reply, monotonicSeconds());
      if (from >= 0) receive(from, m.subarray(ORIGIN_HEADER_LEN));
    },
  }], log);
  return { origins, remoteIn: () => ({ ...origins.counts, linked: link.linked }) };
}
