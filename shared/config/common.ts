/**
 * Configuration sections both protocols share: log level, statistics, the metrics endpoint,
 * the access list, privileges, the state file, swarm limits, and the announce interval and
 * cleaning keys of the compact swarm store that UDP and HTTP share.
 *
 * @module
 */

import { bool, int, oneOf, str } from "./schema.ts";
import { parseSocketAddress } from "../net/address.ts";

/** A check that a value is a socket address of either family; null when it is. */
export function socketAddress(v: string): string | null {
  const a = parseSocketAddress(v);
  return typeof a === "string" ? a : null;
}

/** A check that a value is a socket address of `family` (`0.0.0.0:3000`, `[::]:3000`). */
export function addressOf(family: 4 | 6): (v: string) => string | null {
  return (v) => {
    const a = parseSocketAddress(v);
    if (typeof a === "string") return a;
    return a.family === family ? null : `not an IPv${family} address`;
  };
}

/**
 * `socket_workers` (threads that `what`, e.g. "hold WebSocket connections") and
 * `request_workers`.
 */
export function workerCounts(what: string) {
  return {
    socket_workers: int(1, `Socket workers: threads that ${what}; 0 means one per CPU.`, 0, 256),
    request_workers: int(
      1,
      "Request workers: threads that own the swarms, sharded by info hash.",
      1,
      256,
    ),
    single_thread: oneOf(
      "auto",
      "The socket worker and the request worker in one thread, with no hop between threads (the least CPU per request up to one core's worth): on (needs socket_workers = 1, request_workers = 1, one protocol and no cluster), off, or auto (on wherever it can be).",
      ["auto", "on", "off"] as const,
    ),
  };
}

/**
 * `address` (IPv4) and `address_ipv6` on `port`, and whether to use each, for listeners that
 * serve `what` (e.g. " for HTTP"; "" for none said).
 */
export function listenAddresses(port: number, what = "") {
  return {
    address: str(
      `0.0.0.0:${port}`,
      `IPv4 address and port to listen on${what} (port 0 picks a free one).`,
      'an IPv4 address like "0.0.0.0:3000"',
      addressOf(4),
    ),
    address_ipv6: str(
      `[::]:${port}`,
      `IPv6 address and port to listen on${what} (IPV6_V6ONLY: IPv4 is served by \`address\`).`,
      'an IPv6 address like "[::]:3000"',
      addressOf(6),
    ),
    use_ipv4: bool(true, "Listen on `address` (IPv4)."),
    use_ipv6: bool(true, "Listen on `address_ipv6` (IPv6)."),
  };
}

/** A TCP tracker's `io` and TLS keys, serving `scheme` (`https`, `wss`) with TLS. */
export function tcpKeys(scheme: string) {
  return {
    io: oneOf(
      "auto",
      "Connection I/O: ffi (libc epoll, Linux, plain TCP), deno (portable, also TLS), auto (ffi on Linux without TLS).",
      ["auto", "ffi", "deno"] as const,
    ),
    use_tls: bool(false, `Serve ${scheme}:// with the PEM files below (reloaded on SIGUSR1).`),
    tls_certificate_path: str("", "PEM certificate chain (e.g. Let's Encrypt fullchain.pem)."),
    tls_private_key_path: str("", "PEM private key (e.g. Let's Encrypt privkey.pem)."),
  };
}

/** `log_level`. */
export function logLevel() {
  return oneOf(
    "info",
    "Log level: error, warn, info or debug.",
    [
      "error",
      "warn",
      "info",
      "debug",
    ] as const,
  );
}

/** `[statistics]`. */
export function statisticsSection() {
  return {
    interval: int(5, "Seconds between statistics summaries; 0 turns them off.", 0, 86400),
    print_to_stdout: bool(true, "Print the statistics summary to stdout every `interval`."),
  };
}

/** `[metrics]`. */
export function metricsSection() {
  return {
    run_prometheus_endpoint: bool(
      false,
      "Serve Prometheus metrics (/metrics) and the statistics page (/) over HTTP.",
    ),
    prometheus_endpoint_address: str(
      "127.0.0.1:9000",
      "Address of that HTTP endpoint (keep it private: it shows every swarm's size).",
      'an address like "127.0.0.1:9000"',
      socketAddress,
    ),
  };
}

/** `[access_list]`. */
export function accessListSection() {
  return {
    mode: oneOf(
      "off",
      "off: serve every torrent; allow: only those listed; deny: all but those listed.",
      ["off", "allow", "deny"] as const,
    ),
    path: str("", "File of hex info hashes, one per line (# comments); reloaded on SIGUSR1."),
  };
}

/** `[privileges]`. */
export function privilegesSection() {
  return {
    drop_privileges: bool(
      false,
      "After binding sockets, chroot and switch to `user` (Linux, started as root).",
    ),
    chroot_path: str(".", "Directory to chroot into when dropping privileges."),
    user: str("nobody", "User to switch to when dropping privileges."),
    group: str("", "Group to switch to; empty means the user's primary group."),
  };
}

/** `[state]`. */
export function stateSection() {
  return {
    path: str(
      "",
      "File the swarms are saved to on SIGTERM/SIGINT and loaded from at start; empty: off.",
    ),
    save_interval: int(
      300,
      "Seconds between saves while running (a crash loses at most this much); 0: only on stop.",
      0,
      86400,
    ),
  };
}

/** `[limits]` on swarms, shared by both protocols (ws adds connection limits). */
export function swarmLimits(torrents: number, peers: number) {
  return {
    max_torrents: int(
      torrents,
      "Most torrents tracked; announces for new ones beyond it get an error.",
      1,
      1e9,
    ),
    max_peers_per_torrent: int(
      peers,
      "Most peers in one torrent; new peers beyond it get an error.",
      1,
      1e7,
    ),
  };
}

/**
 * `protocol.peer_announce_interval` for the trackers that answer from the compact swarm store
 * (UDP and HTTP), so their defaults cannot drift apart.
 */
export function peerAnnounceInterval() {
  return int(900, "Seconds between announces that the tracker asks clients for.", 1, 86400);
}

/** The `[cleaning]` keys of the compact swarm store (UDP and HTTP; UDP adds connection IDs). */
export function swarmCleaning() {
  return {
    interval: int(30, "Seconds between cleaning passes over the swarms.", 1, 86400),
    max_peer_age: int(
      1200,
      "Seconds after its last announce that a peer is removed.",
      1,
      7 * 86400,
    ),
  };
}
