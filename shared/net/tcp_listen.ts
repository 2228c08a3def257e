/**
 * A TCP listener on either transport: libc epoll (`tcp_epoll.ts`, plain TCP on Linux) or
 * Deno's listeners (`tcp_deno.ts`, TLS and everywhere), in the `SO_REUSEPORT` group of one
 * port. A TLS certificate is changed by opening a new listener and closing the old one; the
 * connections already open keep their sessions.
 *
 * @module
 */

import type { Logger } from "../base/log.ts";
import type { BindOptions } from "./libc.ts";
import type { TcpHandlers } from "./tcp.ts";
import { acceptLoop } from "./tcp_deno.ts";
import { EpollServer } from "./tcp_epoll.ts";

/** Where and how to listen. */
export interface ListenOptions {
  /** IP address to bind. */
  hostname: string;
  /** Port; 0 picks a free one. */
  port: number;
  /** Refuse IPv4 (v4-mapped) clients on an IPv6 address. */
  v6only: boolean;
  /** The transport. */
  io: "ffi" | "deno";
  /** PEM certificate and key to serve TLS (Deno's listeners), or null. */
  tls: { cert: string; key: string } | null;
  /** First check that no other process holds the port (so none can join our group). */
  checkFree: boolean;
  /** Hand over connections once their first bytes came (`TCP_DEFER_ACCEPT`; the epoll transport). */
  deferAccept?: boolean;
}

/** One listening socket serving `handlers`. */
export class TcpListener {
  /** The port bound. */
  readonly port: number;
  #o: ListenOptions;
  #handlers: TcpHandlers;
  #log: Logger;
  #listener: { close(): void };

  /** Binds and starts accepting; throws what binding throws (`socketErrorCode` reads it). */
  constructor(o: ListenOptions, handlers: TcpHandlers, log: Logger) {
    this.#o = o;
    this.#handlers = handlers;
    this.#log = log;
    if (o.io === "ffi") {
      const bind: BindOptions = {
        hostname: o.hostname,
        port: o.port,
        family: o.hostname.includes(":") ? 6 : 4,
        reusePort: true,
        v6only: o.v6only,
        recvBufferSize: 0,
      };
      // Served by the thread's poller (`poller.ts`) from now on.
      const server = new EpollServer(bind, o.checkFree, handlers, o.deferAccept ?? false);
      this.#listener = server;
      this.port = server.port;
    } else {
      if (o.checkFree && o.port !== 0) {
        // A plain bind fails if anyone holds the port, even a reusePort group we could join.
        Deno.listen({ hostname: o.hostname, port: o.port }).close();
      }
      const l = this.#listenDeno(o.port, o.tls);
      this.#listener = l;
      this.port = (l.addr as Deno.NetAddr).port;
    }
  }

  #listenDeno(port: number, tls: { cert: string; key: string } | null): Deno.Listener {
    const { hostname } = this.#o;
    const l = tls
      ? Deno.listenTls({ hostname, port, reusePort: true, ...tls })
      : Deno.listen({ hostname, port, reusePort: true });
    acceptLoop(l, this.#handlers);
    return l;
  }

  /** Serves new connections with a new certificate; keeps the old one if that fails. */
  reloadTls(tls: { cert: string; key: string }): void {
    try {
      const old = this.#listener;
      this.#listener = this.#listenDeno(this.port, tls);
      old.close(); // new connections now reach the new listener
      this.#log.info("TLS certificate reloaded");
    } catch (err) {
      this.#log.error(`TLS reload failed, keeping the old certificate: ${err}`);
    }
  }

  /** Stops listening. */
  close(): void {
    this.#listener.close();
  }
}
