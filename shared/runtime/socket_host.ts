/**
 * The socket worker, whatever the protocol: the counterpart of `request_host.ts`. It opens the
 * links to the request workers and hands their batches to the protocol, wires the link to a
 * replaced request worker's successor, binds the addresses it was given (reporting each
 * result), records its libc descriptors (closed by the main thread if it dies), swaps TLS
 * certificates on every listener, logs limit refusals, and answers the main thread. A
 * protocol's `socket_worker.ts` says only what is its own: how it listens on one address, what
 * it does with the request workers' batches, its statistics.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import type { ShardOwners } from "./cluster_init.ts";
import { Logger } from "../base/log.ts";
import { socketErrorCode } from "../base/errors.ts";
import { openFileLimit, trackFds } from "../net/libc.ts";
import type { TcpHandlers } from "../net/tcp.ts";
import { TcpListener } from "../net/tcp_listen.ts";
import { LimitLog } from "../observe/limit_log.ts";
import type { Refusals } from "../store/details.ts";
import { type Link, openLinks, replaceLink } from "./link.ts";
import { pollableNats, usePolledLinks } from "./nats_link.ts";
import { pollRings } from "./thread_poll.ts";
import type { Bind, BindResult, SocketInit } from "./socket_group.ts";
import { serveWorker } from "./worker.ts";
import type { KeyUpdate } from "../store/key_table.ts";

/** A bound listener: a socket, or a TCP listener. */
export interface Listener {
  /** The port bound. */
  readonly port: number;
  /** Serves new connections with a new certificate (TLS listeners). */
  reloadTls?(tls: { cert: string; key: string }): void;
}

/** What a protocol's socket worker is, given its host. */
export interface SocketSide<S> {
  /** Opens a listener on `b` and starts serving it; throws what binding throws. */
  listen(b: Bind): Listener;
  /** A batch from request worker `from` (valid during the call). */
  answers(batch: unknown, from: number): void;
  /** Its statistics. */
  stats(): S;
  /** Its refusals so far, by limit, for the limit log; none when absent. */
  refusals?(): Refusals;
  /** New or changed passkeys (a private tracker's socket workers check each request's). */
  keys?(update: KeyUpdate): void;
  /** A cluster's new assignment of shards to nodes. */
  owners?(owners: ShardOwners): void;
}

/** What the host gives a protocol's socket side. */
export interface SocketHost {
  /** Its logger (`<name> <index>: `). */
  readonly log: Logger;
  /** One link per request worker (the host swaps in a replaced one's successor). */
  readonly links: Link[];
  /** Connections refused for want of descriptors so far (TCP). */
  readonly outOfFiles: number;
  /**
   * Listens for TCP on `b` (IPv6 only when `v6only`) with the worker's transport and TLS,
   * counting refusals for want of descriptors into `outOfFiles`.
   */
  listenTcp(
    b: Bind,
    v6only: boolean,
    accept: TcpHandlers["accept"],
    deferAccept?: boolean,
  ): TcpListener;
}

/**
 * Runs a socket worker: `make(init, host)` builds the protocol's side once the host is set
 * up; the host then binds `init.binds` through it and serves.
 */
export function serveSockets<I extends SocketInit, S>(
  make: (init: I, host: SocketHost) => SocketSide<S>,
): void {
  serveWorker((init: I) => {
    trackFds(init.fds);
    // With plain TCP through epoll only, and a cluster's NATS through the poller too, nothing
    // but timers and control messages needs this thread's event loop: its poller may wait on
    // the thread itself.
    const polled = init.io === "ffi" && init.tls === null;
    const natsPolled = polled && init.cluster != null && pollableNats(init.cluster);
    usePolledLinks(natsPolled);
    pollRings(polled && (!init.cluster || natsPolled));
    const log = new Logger(init.logLevel, `${init.name} ${init.index}: `);
    const links = openLinks(init.ports);
    let outOfFiles = 0;
    const host: SocketHost = {
      log,
      links,
      get outOfFiles() {
        return outOfFiles;
      },
      listenTcp: (b, v6only, accept, deferAccept) =>
        new TcpListener(
          { ...b, v6only, io: init.io, tls: init.tls, checkFree: init.checkFree, deferAccept },
          { accept, outOfFiles: () => outOfFiles++ },
          log,
        ),
    };
    const side = make(init, host);
    const attach = (link: Link, j: number) => {
      link.onmessage = (data: unknown) => {
        try {
          side.answers(data, j);
        } catch (err) {
          // A bug must not take the worker down with it; log it and go on with the next batch.
          log.error(`response batch failed: ${err instanceof Error ? err.stack : err}`);
        }
      };
    };
    links.forEach(attach);

    const listeners: Listener[] = [];
    const reply: BindResult[] = [];
    for (const b of init.binds) {
      try {
        const l = side.listen(b);
        listeners.push(l);
        reply.push({ family: b.family, port: l.port });
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        reply.push({ family: b.family, code: socketErrorCode(err), message });
      }
    }

    const refusals = side.refusals;
    if (refusals !== undefined && listeners.length > 0) {
      const fileLimit = openFileLimit();
      new LimitLog(log, init.limits, () => refusals.call(side), 10_000, {
        ...init.limitNames,
        open_files: `out of file descriptors: the open-file limit (ulimit -n ${fileLimit ?? "?"})`,
      });
    }
    return {
      reply,
      role: {
        stats: () => side.stats(),
        // Request worker `j` was replaced: batches to it go to its successor from now on.
        port: (j: number, port: MessagePort) => replaceLink(links, j, port, attach),
        keys: (update: KeyUpdate) => side.keys?.(update),
        owners: (owners: ShardOwners) => side.owners?.(owners),
        tls: (cert: string, key: string) => {
          for (const l of listeners) l.reloadTls?.({ cert, key });
        },
      },
    };
  });
}
