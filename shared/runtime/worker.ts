/**
 * The worker side of `pool.ts`: the message loop every worker runs. It starts the worker on
 * `init`, keeps its clock aligned with the main thread's (`base/clock.ts`), answers the
 * heartbeat and every collection, and hands the rest to the worker's `WorkerRole`. Every
 * control message is handled in the one `switch` below.
 *
 * One thread may hold several workers (`single_thread`: the socket worker and the request
 * worker in one thread, `shared_thread.ts`). Each is a role, named as the pool names it: the
 * thread starts with one module, a `load` message imports another, and each message from the
 * main thread names its role (messages to a role whose module is still loading wait for it).
 * What a role sends back carries its name.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import type { ShardOwners } from "./cluster_init.ts";
import { syncClock } from "../base/clock.ts";
import type { AccessListData } from "../store/access_list.ts";
import type { KeyUpdate } from "../store/key_table.ts";
import type { SwarmDetails } from "../store/details.ts";
import { heapReport } from "../observe/heap.ts";
import type { Collect, FromWorker, ToWorker } from "./control.ts";
import { injectFault } from "./fault.ts";
import { taken, useMailbox } from "./mailbox.ts";

/** What a worker does with the control messages meant for it; `S` is its statistics. */
export interface WorkerRole<S> {
  /** Its statistics now. */
  stats(): S;
  /** The worker `index` on the other side was replaced: `port` is the channel to its successor. */
  port(index: number, port: MessagePort): void;
  /** Its swarms' largest torrents and clients (request workers). */
  details?(): SwarmDetails;
  /** Its swarms as state file entries (request workers). */
  save?(): Uint8Array<ArrayBuffer>;
  /** A new access list (request workers). */
  access?(list: AccessListData): void;
  /** New TLS material (socket workers serving TLS). */
  tls?(cert: string, key: string): void;
  /** One torrent's seeders, leechers and completed count (request workers). */
  torrent?(infoHash: Uint8Array): [number, number, number];
  /** New or changed passkeys (private trackers). */
  keys?(update: KeyUpdate): void;
  /** The registered torrents (request workers of a private tracker). */
  registered?(hashes: Uint8Array): void;
  /** The accounting now, for the last time before a stop (request workers). */
  drain?(): Uint8Array<ArrayBuffer>;
  /** A cluster's new assignment of shards to nodes (socket workers). */
  owners?(owners: ShardOwners): void;
  /**
   * The swarms of the shards `arg` marks (`store/cluster_shards.ts`'s `handOffArg`), taken out:
   * another node owns them (request workers).
   */
  handOff?(arg: Uint8Array): Uint8Array<ArrayBuffer>;
  /** Merges swarms another node handed over (request workers). */
  merge?(body: Uint8Array): void;
}

/** What a worker's start is given besides its start-up data. */
export interface WorkerContext {
  /** Posts accounting records to the main thread (`last`: the answer to a `drain`). */
  postAccounting(body: Uint8Array<ArrayBuffer>, last: boolean): void;
}

/** A message from the main thread, with the role it is for when the thread holds several. */
type Tagged<I> = ToWorker<I> & { role?: string };

/** The thread's roles by name, each with its message handler. */
const roles = new Map<string, (msg: Tagged<unknown>) => void>();
/** Messages for roles whose module is still loading. */
const waiting = new Map<string, Tagged<unknown>[]>();
/** The name the next `serveWorker` call registers under (the thread's own name first). */
let registering: string | null = null;

function dispatch(msg: Tagged<unknown> & { url?: string }): void {
  if ((msg as { type: string }).type === "load" && msg.role !== undefined) {
    // Another worker's module, into this thread: it registers under `msg.role`.
    const name = msg.role;
    registering = name;
    import(msg.url!).catch((err) => {
      throw new Error(`${name}: its module did not load: ${(err as Error).message}`);
    });
    return;
  }
  const name = msg.role ?? (roles.size === 1 ? roles.keys().next().value! : self.name);
  const handle = roles.get(name);
  if (handle !== undefined) return handle(msg);
  const queue = waiting.get(name);
  if (queue !== undefined) queue.push(msg);
  else waiting.set(name, [msg]);
}

/**
 * Runs the worker: `start(init, context)` once, on the start-up message; it returns the
 * start-up reply `R` (e.g. the ports bound) and the role that handles later control messages.
 */
export function serveWorker<I, S, R>(
  start: (init: I, context: WorkerContext) => { reply: R; role: WorkerRole<S> },
): void {
  const name = registering ?? self.name;
  registering = null;
  const send = (msg: FromWorker<S, R>, transfer: Transferable[] = []) =>
    self.postMessage({ ...msg, role: name }, transfer);
  const context: WorkerContext = {
    postAccounting: (body, last) => send({ type: "accounting", body, last }, [body.buffer]),
  };
  let box = -1;
  let role: WorkerRole<S> | null = null;
  const answer = (id: number, what: Collect, arg?: Uint8Array) => {
    switch (what) {
      case "torrent":
        if (role?.torrent && arg) return send({ type: "reply", id, what, body: role.torrent(arg) });
        break;
      case "stats":
        if (role !== null) return send({ type: "reply", id, what, body: role.stats() });
        break;
      case "details":
        if (role?.details) return send({ type: "reply", id, what, body: role.details() });
        break;
      case "save":
        if (role?.save) {
          const body = role.save();
          return send({ type: "reply", id, what, body }, [body.buffer]);
        }
        break;
      case "heap":
        // A heap is the thread's: one report per thread, from the role it was started with.
        if (name === self.name) return send({ type: "reply", id, what, body: heapReport(name) });
        break;
      case "handoff":
        if (role?.handOff && arg) {
          const body = role.handOff(arg);
          return send({ type: "reply", id, what, body }, [body.buffer]);
        }
        break;
    }
    send({ type: "reply", id, what: "none" });
  };
  const handle = (msg: ToWorker<I>) => {
    if (msg.type === "mailbox") {
      box = useMailbox(msg.buffer);
      return;
    }
    taken(box);
    switch (msg.type) {
      case "clock":
        syncClock(msg.ms);
        break;
      case "ping":
        syncClock(msg.ms);
        send({ type: "pong" });
        break;
      case "init": {
        const started = start(msg.init, context);
        role = started.role;
        send({ type: "started", reply: started.reply });
        injectFault(msg.fault);
        break;
      }
      case "port":
        role?.port(msg.index, msg.port);
        break;
      case "collect":
        answer(msg.id, msg.what, msg.arg);
        break;
      case "access":
        role?.access?.(msg.list);
        break;
      case "tls":
        role?.tls?.(msg.cert, msg.key);
        break;
      case "keys":
        role?.keys?.(msg.update);
        break;
      case "registered":
        role?.registered?.(msg.hashes);
        break;
      case "drain":
        if (role?.drain) context.postAccounting(role.drain(), true);
        break;
      case "owners":
        role?.owners?.(msg.owners);
        break;
      case "merge":
        role?.merge?.(msg.body);
        break;
    }
  };
  roles.set(name, handle as (msg: Tagged<unknown>) => void);
  self.onmessage = (e: MessageEvent<Tagged<unknown> & { url?: string }>) => dispatch(e.data);
  const queued = waiting.get(name) ?? [];
  waiting.delete(name);
  for (const m of queued) handle(m as ToWorker<I>);
}
