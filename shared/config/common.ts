/**
 * Configuration sections both protocols share: log level, statistics, the metrics endpoint,
 * the access list, privileges, the state file, swarm limits, and the announce interval and
 * cleaning keys of the compact swarm store that UDP and HTTP share.
 *
 * @module
 */

import { bool, int, oneOf, str } from "./schema.ts";
import { parseSocketAddress } from "../net/address.ts";

function address(v: string): string | null {
  const a = parseSocketAddress(v);
  return typeof a === "string" ? a : null;
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
      address,
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
