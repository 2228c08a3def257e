/**
 * The `shoal ws` configuration: the seed's aquatic_ws keys, with PEM files for TLS instead of
 * pkcs12 (Deno reads PEM), and the limits that keep connections bounded.
 *
 * @module
 */

import { bool, type ConfigOf, int, str } from "../shared/config/schema.ts";
import { accessListSection, logLevel, metricsSection } from "../shared/config/common.ts";
import { privilegesSection, socketAddress, stateSection } from "../shared/config/common.ts";
import { statisticsSection, swarmLimits, tcpKeys, workerCounts } from "../shared/config/common.ts";
import { privateSection } from "../shared/config/private_section.ts";
import { clusterSection } from "../shared/config/cluster_section.ts";

/** Schema of the `shoal ws` configuration. */
export const wsSchema = {
  ...workerCounts("hold WebSocket connections"),
  log_level: logLevel(),
  network: {
    address: str(
      "[::]:3000",
      "Address and port to listen on; [::] also serves IPv4 unless ipv6_only (port 0 picks one).",
      'an address like "[::]:3000" or "0.0.0.0:3000"',
      socketAddress,
    ),
    ipv6_only: bool(false, "With an IPv6 address, refuse IPv4 clients (IPV6_V6ONLY)."),
    ...tcpKeys("wss"),
    websocket_max_message_size: int(
      65536,
      "Largest incoming message in bytes; a larger one closes the connection.",
      1024,
      1 << 24,
    ),
    websocket_max_frame_size: int(
      16384,
      "Largest incoming frame in bytes (Deno reassembles frames; see the README).",
      1024,
      1 << 24,
    ),
    max_outgoing_buffer: int(
      1048576,
      "Bytes queued to one connection before it is closed as too slow.",
      65536,
      1 << 30,
    ),
    enable_http_health_check: bool(false, "Answer GET /health with 200 OK."),
    runs_behind_reverse_proxy: bool(
      false,
      "Take the client IP from reverse_proxy_ip_header_name (only behind a trusted proxy).",
    ),
    reverse_proxy_ip_header_name: str(
      "X-Forwarded-For",
      "Header with the client IP when runs_behind_reverse_proxy (first address is used).",
    ),
  },
  protocol: {
    max_scrape_torrents: int(255, "Most info hashes answered per scrape.", 1, 10000),
    max_offers: int(10, "Most offers forwarded per announce; more are ignored.", 1, 100),
    peer_announce_interval: int(
      120,
      "Seconds between announces that the tracker asks clients for.",
      1,
      86400,
    ),
  },
  statistics: statisticsSection(),
  metrics: metricsSection(),
  access_list: accessListSection(),
  cleaning: {
    interval: int(30, "Seconds between cleaning passes.", 1, 86400),
    max_peer_age: int(180, "Seconds after its last announce that a peer is removed.", 1, 86400),
    max_offer_age: int(120, "Seconds an offer can be answered.", 1, 3600),
    max_connection_idle: int(
      180,
      "Seconds without a message after which a connection is closed.",
      1,
      86400,
    ),
  },
  limits: {
    ...swarmLimits(1_000_000, 20_000),
    max_connections: int(
      100_000,
      "Most open WebSocket connections; more are closed at once (1013, try again later).",
      1,
      1e8,
    ),
    max_connections_per_ip: int(
      256,
      "Most open connections from one IP address, per socket worker (NATs share addresses).",
      1,
      1e8,
    ),
  },
  privileges: privilegesSection(),
  state: stateSection(),
  private: privateSection(),
  cluster: clusterSection(),
};

/** A loaded `shoal ws` configuration. */
export type WsConfig = ConfigOf<typeof wsSchema>;
