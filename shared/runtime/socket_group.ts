/**
 * The main thread's side of a protocol's socket workers, the same for every protocol: where
 * they bind (the first worker binds the configured addresses and checks that no other process
 * holds them; the others, and every replacement, join its `SO_REUSEPORT` group on the ports it
 * bound), which TCP transport serves them, their share of the connections the open-file limit
 * leaves room for, and the TLS certificate they get again on SIGUSR1. The worker's side is
 * `socket_host.ts`.
 *
 * @module
 */

import type { ClusterWorkerInit } from "./cluster_init.ts";
import { OperatorError } from "../base/errors.ts";
import type { Logger, LogLevel } from "../base/log.ts";
import { formatSocketAddress } from "../net/address.ts";
import { connectionsThatFit } from "../config/open_files.ts";
import { readTls, type TlsFiles } from "../config/tls.ts";
import type { SocketBase } from "./mesh.ts";
import type { Pool } from "./pool.ts";
import type { PrivateInit } from "./private_init.ts";

/** An address a socket worker binds. */
export interface Bind {
  /** Address family. */
  family: 4 | 6;
  /** IP address. */
  hostname: string;
  /** Port (0 only for the first socket worker). */
  port: number;
}

/** What binding one address came to. */
export type BindResult =
  | { family: 4 | 6; port: number }
  | { family: 4 | 6; code: string; message: string };

/** What every socket worker starts with, beyond the mesh's `SocketBase`. */
export interface SocketInit extends SocketBase {
  /** E.g. `http socket worker`, for its log lines. */
  name: string;
  /** Log level. */
  logLevel: LogLevel;
  /** Addresses to bind. */
  binds: Bind[];
  /** Check that no other process holds the ports (the first socket worker at start). */
  checkFree: boolean;
  /** The transport: libc through FFI, or Deno's own. */
  io: "ffi" | "deno";
  /** PEM certificate and key when serving TLS. */
  tls: TlsFiles | null;
  /** The `[limits]`-style settings its limit log names, with their configured values. */
  limits: Record<string, number>;
  /** How its refusals are named in the log, by limit (`limits.x = N` when not given). */
  limitNames: Record<string, string>;
  /** A private tracker's keys (null or absent: an open tracker). */
  private?: PrivateInit | null;
  /** A cluster node's NATS settings and shard owners (null or absent: a lone tracker). */
  cluster?: ClusterWorkerInit | null;
}

/**
 * The addresses one group of socket workers binds: `binds` and `checkFree` for the next
 * worker's start-up data, `bound` to read the first one's results, `joined` the others'.
 */
export class Binding {
  #wanted: Bind[];
  #resolved: Bind[] | null = null;
  #keyOf: (family: 4 | 6) => string;
  #scheme: string;
  #log: Logger;

  /**
   * The group binds `wanted`, configured under the keys `keyOf` names, and serves `scheme`
   * (`udp`, `https`, ...) there.
   */
  constructor(wanted: Bind[], keyOf: (family: 4 | 6) => string, scheme: string, log: Logger) {
    this.#wanted = wanted;
    this.#keyOf = keyOf;
    this.#scheme = scheme;
    this.#log = log;
  }

  /** What the next worker binds: the configured addresses, then the ports the first bound. */
  get binds(): Bind[] {
    return this.#resolved ?? this.#wanted;
  }

  /** Whether the next worker is the first, which checks that nobody else holds the ports. */
  get checkFree(): boolean {
    return this.#resolved === null;
  }

  /**
   * Reads the first worker's results: throws an `OperatorError` naming the key when an address
   * could not be bound (an IPv6 address on a host without IPv6 is only a warning when IPv4 is
   * served too), else notes the ports and returns the `listening on` lines.
   */
  bound(results: BindResult[]): string[] {
    const resolved: Bind[] = [];
    for (const r of results) {
      const want = this.#wanted.find((w) => w.family === r.family)!;
      if ("port" in r) {
        resolved.push({ ...want, port: r.port });
      } else if (r.family === 6 && r.code === "EAFNOSUPPORT" && this.#wanted.length === 2) {
        this.#log.warn(
          `IPv6 is not available on this host (${r.message}); serving ${this.#scheme} on IPv4 only`,
        );
      } else {
        const why = r.code === "EADDRINUSE" ? "address already in use" : r.message;
        throw new OperatorError(
          `${this.#keyOf(r.family)}: cannot listen on ${formatSocketAddress(want)}: ${why}`,
        );
      }
    }
    if (resolved.length === 0) throw new OperatorError("no address could be bound");
    this.#resolved = resolved;
    return resolved.map((b) => `listening on ${this.#scheme}://${formatSocketAddress(b)}`);
  }

  /** Checks the results of a worker that joined the first one's ports. */
  joined(name: string, results: BindResult[]): void {
    const bad = results.find((r) => "code" in r);
    if (bad && "code" in bad) throw new Error(`${name} could not bind: ${bad.message}`);
  }
}

/**
 * The TCP transport for `io` (`auto`, `ffi`, `deno`): libc epoll on Linux for plain TCP, Deno's
 * listeners for TLS and elsewhere. `ffi` where it cannot serve is an operator error on `key`.
 */
export function tcpTransport(
  io: "auto" | "ffi" | "deno",
  tls: boolean,
  key: string,
): "ffi" | "deno" {
  if (io === "ffi" && (tls || Deno.build.os !== "linux")) {
    throw new OperatorError(
      `${key} = "ffi" serves plain TCP on Linux only; use "auto" or "deno"` +
        (tls ? " with use_tls" : ""),
    );
  }
  if (io !== "auto") return io;
  return tls || Deno.build.os !== "linux" ? "deno" : "ffi";
}

/** Each TCP socket worker's share of `maxConnections`, and what the open-file limit allows. */
export interface ConnectionShare {
  /** One worker's share (`SO_REUSEPORT` spreads connections evenly). */
  perWorker: number;
  /** The share is what the open-file limit leaves room for (its refusals are `open_files`). */
  fitFiles: boolean;
  /** The warning to log once serving, or null. */
  warning: string | null;
}

/**
 * The share of `maxConnections` (configured in `section`) each of `count` socket workers
 * takes, in a process of `count + otherWorkers` workers under the open-file limit.
 */
export function connectionShare(
  maxConnections: number,
  count: number,
  otherWorkers: number,
  section = "limits",
): ConnectionShare {
  const files = connectionsThatFit(maxConnections, count + otherWorkers);
  return {
    perWorker: Math.ceil((files?.fit ?? maxConnections) / count),
    fitFiles: files !== null,
    warning: files === null ? null : files.warning.replaceAll("limits.", `${section}.`),
  };
}

/**
 * Reads the TLS files again (SIGUSR1) and hands them to every socket worker; when they cannot
 * be read, logs why and keeps the old certificate.
 */
export async function reloadTls<S>(
  files: { tls_certificate_path: string; tls_private_key_path: string },
  pool: Pool<S>,
  log: Logger,
  what = "TLS certificate",
): Promise<void> {
  try {
    const fresh = await readTls(files);
    pool.broadcast({ type: "tls", ...fresh }, "socket");
    log.info(`SIGUSR1: reloading the ${what}`);
  } catch (err) {
    log.error(`SIGUSR1: ${(err as Error).message}; keeping the old certificate`);
  }
}
