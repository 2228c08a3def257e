/**
 * The HTTP tracker's configuration: `shoal http` on its own (`httpSchema`), or the `[http]`
 * section (`httpSection`) another tracker of the same swarms adds to serve HTTP beside its own
 * protocol in one process (`shoal udp`, composed in `main.ts`). The listener and protocol keys
 * are the same in both (`httpKeys`); `HttpSettings` is what HTTP socket workers get from either.
 *
 * @module
 */

import { bool, type ConfigOf, int, str } from "../shared/config/schema.ts";
import { accessListSection, listenAddresses, logLevel } from "../shared/config/common.ts";
import {
  metricsSection,
  peerAnnounceInterval,
  privilegesSection,
} from "../shared/config/common.ts";
import { stateSection, statisticsSection, swarmCleaning } from "../shared/config/common.ts";
import { swarmLimits, tcpKeys, workerCounts } from "../shared/config/common.ts";
import { parseIPv4, parseIPv6 } from "../shared/net/address.ts";
import { MAX_PEERS } from "../core/records.ts";
import { privateSection } from "../shared/config/private_section.ts";
import { clusterSection } from "../shared/config/cluster_section.ts";

/** The proxy addresses, or why the list is not one. */
function proxyList(v: string): string | null {
  for (const ip of splitList(v)) {
    const b = new Uint8Array(16);
    if (!parseIPv4(ip, b, 0) && !parseIPv6(ip, b, 0)) return `"${ip}" is not an IP address`;
  }
  return null;
}

/**
 * Bytes of request head a scrape of `hashes` fully percent-encoded info hashes needs:
 * `info_hash=` and 60 characters each, joined by `&`, with 512 bytes for the rest of the
 * request line and the usual headers.
 */
export function scrapeHeadBytes(hashes: number): number {
  return 71 * hashes + 512;
}

/**
 * Why `max_request_size` cannot hold a scrape of `max_scrape_torrents` hashes (named by the
 * keys `sizeKey` and `scrapeKey`), or null when it can.
 */
export function scrapeFitProblem(
  s: { max_request_size: number; max_scrape_torrents: number },
  sizeKey: string,
  scrapeKey: string,
): string | null {
  const need = scrapeHeadBytes(s.max_scrape_torrents);
  if (s.max_request_size >= need) return null;
  return `${sizeKey} = ${s.max_request_size} cannot hold a scrape of ${scrapeKey} = ` +
    `${s.max_scrape_torrents} percent-encoded info hashes (${need} bytes): raise it or lower ` +
    `${scrapeKey} to ${Math.floor((s.max_request_size - 512) / 71)}`;
}

/** The entries of a comma-separated list, trimmed. */
export function splitList(v: string): string[] {
  return v.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

/** Default most info hashes per HTTP scrape: what the default `max_request_size` holds. */
export const DEFAULT_HTTP_SCRAPE_TORRENTS = 100;
/** Most info hashes an HTTP scrape may be configured to answer. */
const MAX_SCRAPE_TORRENTS = 400;

/** The keys of an HTTP tracker's listeners and protocol, in `[network]` or `[http]`. */
export function httpKeys(port: number) {
  return {
    ...listenAddresses(port, " for HTTP"),
    ...tcpKeys("https"),
    keep_alive: bool(true, "Keep connections open between requests (HTTP/1.1 keep-alive)."),
    request_timeout: int(
      10,
      "Seconds a client has to send a whole request head once it began one (slow clients are closed).",
      1,
      3600,
    ),
    keep_alive_timeout: int(
      60,
      "Seconds a kept-alive connection may stay idle between requests.",
      1,
      86400,
    ),
    max_request_size: int(
      8192,
      "Largest request head in bytes (request line and headers); larger is refused (414, 431). Must hold a scrape of max_scrape_torrents hashes: 71 bytes each, and 512.",
      512,
      65536,
    ),
    max_outgoing_buffer: int(
      1048576,
      "Bytes queued to one connection before it is closed as too slow to read.",
      65536,
      1 << 30,
    ),
    runs_behind_reverse_proxy: bool(
      false,
      "Take the client IP from reverse_proxy_ip_header_name, on connections from reverse_proxy_addresses only.",
    ),
    reverse_proxy_ip_header_name: str(
      "X-Forwarded-For",
      "Header with the client IP when runs_behind_reverse_proxy (for X-Forwarded-For, the last entry: the one the proxy added).",
    ),
    reverse_proxy_addresses: str(
      "127.0.0.1, ::1",
      "Comma-separated IPs of the trusted proxies; connections from elsewhere use their own address.",
      "IP addresses separated by commas",
      proxyList,
    ),
    trust_ip_parameter: bool(
      false,
      "Use the announce's ip, ipv4 and ipv6 parameters as the peer's address (anyone could then announce someone else).",
    ),
    min_announce_interval: int(
      300,
      "`min interval` sent with each announce: clients re-announce no sooner; 0 leaves it out.",
      0,
      86400,
    ),
    default_numwant: int(
      50,
      "Peers sent when an announce has no numwant or a negative one (BEP 3 says 50); at most max_response_peers.",
      0,
      1000,
    ),
    max_response_peers: int(
      200,
      "Most peers in one HTTP announce reply, whatever numwant asks.",
      1,
      MAX_PEERS,
    ),
    allow_full_scrape: bool(
      false,
      "Answer /scrape without info_hash with every torrent (large: each is ~50 bytes of reply).",
    ),
    max_connections: int(
      100_000,
      "Most open HTTP connections; a newcomer over it is closed at once.",
      1,
      1e8,
    ),
    max_connections_per_ip: int(
      256,
      "Most open HTTP connections from one IP address, per socket worker.",
      1,
      1e8,
    ),
  };
}

/** Schema of the `shoal http` configuration. */
export const httpSchema = {
  ...workerCounts("hold HTTP connections"),
  log_level: logLevel(),
  network: httpKeys(3000),
  protocol: {
    max_scrape_torrents: int(
      DEFAULT_HTTP_SCRAPE_TORRENTS,
      "Most info hashes answered per scrape (the first ones; the rest are ignored). network.max_request_size must hold them: 71 bytes each, and 512.",
      1,
      MAX_SCRAPE_TORRENTS,
    ),
    peer_announce_interval: peerAnnounceInterval(),
  },
  statistics: statisticsSection(),
  metrics: metricsSection(),
  access_list: accessListSection(),
  cleaning: swarmCleaning(),
  limits: swarmLimits(10_000_000, 250_000),
  privileges: privilegesSection(),
  state: stateSection(),
  private: privateSection(),
  cluster: clusterSection(),
};

/**
 * The `[http]` section a tracker of the same swarms adds to serve HTTP beside its own protocol
 * (off unless `enabled`).
 */
export function httpSection() {
  return {
    enabled: bool(
      false,
      "Also serve the HTTP tracker protocol from this process, over the same swarms: a peer announcing over UDP is handed to peers announcing over HTTP and the other way round.",
    ),
    socket_workers: int(
      1,
      "HTTP socket workers: threads that hold HTTP connections; 0 means one per CPU.",
      0,
      256,
    ),
    max_scrape_torrents: int(
      DEFAULT_HTTP_SCRAPE_TORRENTS,
      "Most info hashes answered per HTTP scrape (the first ones; the rest are ignored). http.max_request_size must hold them: 71 bytes each, and 512.",
      1,
      MAX_SCRAPE_TORRENTS,
    ),
    ...httpKeys(3000),
  };
}

/** A loaded `shoal http` configuration. */
export type HttpConfig = ConfigOf<typeof httpSchema>;

/** The listener and protocol keys, as loaded. */
export type HttpKeys = ConfigOf<ReturnType<typeof httpKeys>>;

/** What an HTTP socket worker is configured with. */
export interface HttpSettings extends HttpKeys {
  /** Most info hashes answered per scrape. */
  max_scrape_torrents: number;
  /** Log level. */
  log_level: "error" | "warn" | "info" | "debug";
  /** Request workers (the batches' destinations). */
  request_workers: number;
}
