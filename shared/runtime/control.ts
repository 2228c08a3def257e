/**
 * The control protocol between the main thread and every worker, in one place: what the main
 * thread sends (`ToWorker`), what a worker answers (`FromWorker`). Request/response traffic
 * between socket and request workers does not pass here; it has its own batched channels.
 *
 * A collection (`collect`) carries an id; each worker answers with that id, and the main thread
 * keys replies by (id, worker), so collections can overlap and a reply that comes after its
 * collection gave up is dropped, never counted in another.
 *
 * @module
 */

import type { AccessListData } from "../store/access_list.ts";
import type { SwarmDetails } from "../store/details.ts";
import type { HeapReport } from "../observe/heap.ts";
import type { KeyUpdate } from "../store/key_table.ts";
import type { ShardOwners } from "./cluster_init.ts";

/** What a collection asks every targeted worker for. */
export type Collect = "stats" | "details" | "save" | "heap" | "torrent" | "handoff";

/** Main thread → worker. `I` is the worker's start-up data. */
export type ToWorker<I> =
  /** The counters of the worker's mailbox (`mailbox.ts`): the first message, not counted. */
  | { type: "mailbox"; buffer: SharedArrayBuffer }
  /** The main thread's clock reading, to align the worker's (`base/clock.ts`). */
  | { type: "clock"; ms: number }
  /** Heartbeat, with a clock reading; answered with `pong`. */
  | { type: "ping"; ms: number }
  /** Start-up: the worker's data, and a fault to inject ("" normally; tests only). */
  | { type: "init"; init: I; fault: string }
  /** The worker `index` on the other side was replaced; `port` is the channel to it. */
  | { type: "port"; index: number; port: MessagePort }
  /**
   * A collection `id`: answer with a `reply` of that id (`arg`: the info hash of `torrent`,
   * the shard mask of `handoff`).
   */
  | { type: "collect"; id: number; what: Collect; arg?: Uint8Array }
  /** A new access list (request workers). */
  | { type: "access"; list: AccessListData }
  /** New TLS material (socket workers serving TLS). */
  | { type: "tls"; cert: string; key: string }
  /** New or changed passkeys (every worker of a private tracker). */
  | { type: "keys"; update: KeyUpdate }
  /** The registered torrents, 20 bytes each (request workers, `registered_torrents_only`). */
  | { type: "registered"; hashes: Uint8Array }
  /** Send the accounting now, as the last before a stop (request workers). */
  | { type: "drain" }
  /** A cluster's new assignment of shards to nodes (socket workers of a cluster node). */
  | { type: "owners"; owners: ShardOwners }
  /** Swarms another node handed over, as state file entries, to merge (request workers). */
  | { type: "merge"; body: Uint8Array };

/** Worker → main thread. `S` is the worker's statistics, `R` its start-up reply. */
export type FromWorker<S, R> =
  | { type: "started"; reply: R }
  | { type: "pong" }
  /** Accounting records (`store/peer_accounts.ts`); `last` answers a `drain`. */
  | { type: "accounting"; body: Uint8Array<ArrayBuffer>; last: boolean }
  | { type: "reply"; id: number; what: "stats"; body: S }
  | { type: "reply"; id: number; what: "details"; body: SwarmDetails }
  | { type: "reply"; id: number; what: "save"; body: Uint8Array<ArrayBuffer> }
  /** The swarms of the shards asked for, taken out of the worker (a cluster's handoff). */
  | { type: "reply"; id: number; what: "handoff"; body: Uint8Array<ArrayBuffer> }
  | { type: "reply"; id: number; what: "heap"; body: HeapReport }
  /** One torrent's seeders, leechers and completed count (zeros when not here). */
  | { type: "reply"; id: number; what: "torrent"; body: [number, number, number] }
  /** The worker has nothing of that kind (a socket worker asked for swarm details). */
  | { type: "reply"; id: number; what: "none" };

/** A reply of a collection. */
export type Reply<S> = Extract<FromWorker<S, unknown>, { type: "reply" }>;
