/**
 * The `shoal udp` configuration: the seed's aquatic_udp keys plus IPv6 and the I/O backend.
 * (Its `[http]` section, HTTP beside UDP over the same swarms, is added where the two are
 * composed: `main.ts`.)
 *
 * @module
 */

import { bool, type ConfigOf, int, oneOf, str } from "../shared/config/schema.ts";
import {
  accessListSection,
  logLevel,
  metricsSection,
  peerAnnounceInterval,
  privilegesSection,
  stateSection,
  statisticsSection,
  swarmCleaning,
  swarmLimits,
} from "../shared/config/common.ts";
import { parseSocketAddress } from "../shared/net/address.ts";

function addressOf(family: 4 | 6) {
  return (v: string): string | null => {
    const a = parseSocketAddress(v);
    if (typeof a === "string") return a;
    return a.family === family ? null : `not an IPv${family} address`;
  };
}

/** Most hashes one scrape can carry in a receive slot of 8192 bytes. */
export const MAX_SCRAPE_HASHES = 400;

/** Most peers that fit one UDP response (65507 bytes) at 18 bytes per IPv6 peer. */
export const MAX_RESPONSE_PEERS = 3000;

/** Largest UDP payload. */
const MAX_UDP_PAYLOAD = 65507;

/** Schema of the `shoal udp` configuration. */
export const udpSchema = {
  socket_workers: int(
    1,
    "Socket workers: threads that read, check and answer UDP packets; 0 means one per CPU.",
    0,
    256,
  ),
  request_workers: int(
    1,
    "Request workers: threads that own the swarms, sharded by info hash.",
    1,
    256,
  ),
  log_level: logLevel(),
  network: {
    address: str(
      "0.0.0.0:3000",
      "IPv4 address and port to listen on (port 0 picks a free one).",
      'an IPv4 address like "0.0.0.0:3000"',
      addressOf(4),
    ),
    address_ipv6: str(
      "[::]:3000",
      "IPv6 address and port to listen on (IPV6_V6ONLY: IPv4 is served by `address`).",
      'an IPv6 address like "[::]:3000"',
      addressOf(6),
    ),
    use_ipv4: bool(true, "Listen on `address` (IPv4)."),
    use_ipv6: bool(true, "Listen on `address_ipv6` (IPv6)."),
    io: oneOf(
      "auto",
      "UDP I/O backend: ffi (libc recvmmsg/sendmmsg, Linux), deno (portable), auto (ffi on Linux).",
      ["auto", "ffi", "deno"] as const,
    ),
    socket_recv_buffer_size: int(
      4194304,
      "Socket receive buffer in bytes (SO_RCVBUF; the kernel caps it at net.core.rmem_max); 0 keeps the system default.",
      0,
      1 << 30,
    ),
    recv_batch_size: int(
      256,
      "Datagrams read per recvmmsg call (ffi backend).",
      1,
      1024,
    ),
  },
  protocol: {
    max_scrape_torrents: int(
      74,
      "Most info hashes answered per scrape request (the first ones; the rest are ignored). 74 keeps the reply (8 + 12 per hash) within 1,220 bytes, as BEP 15 advises.",
      1,
      MAX_SCRAPE_HASHES,
    ),
    max_response_peers: int(
      200,
      "Most peers in one announce response, also when the client asks for numwant <= 0; max_response_size may allow fewer.",
      1,
      MAX_RESPONSE_PEERS,
    ),
    max_response_size: int(
      1220,
      "Largest announce response in bytes of UDP payload: 20 + 6 per IPv4 peer or 18 per IPv6 peer, so 1220 gives at most 200 IPv4 or 66 IPv6 peers and fits one packet at the IPv6 minimum MTU of 1280 (no fragments, which networks often drop). Raise it only where fragments get through.",
      20 + 18,
      MAX_UDP_PAYLOAD,
    ),
    peer_announce_interval: peerAnnounceInterval(),
  },
  statistics: statisticsSection(),
  metrics: metricsSection(),
  access_list: accessListSection(),
  cleaning: {
    ...swarmCleaning(),
    max_connection_age: int(
      300,
      "Seconds a connection ID stays valid (BEP 15 asks for at least 120).",
      1,
      86400,
    ),
  },
  limits: swarmLimits(10_000_000, 250_000),
  privileges: privilegesSection(),
  state: stateSection(),
};

/** A loaded `shoal udp` configuration. */
export type UdpConfig = ConfigOf<typeof udpSchema>;

/**
 * Most peers in one announce response by family: `max_response_peers`, and no more than
 * `max_response_size` holds at 6 bytes per IPv4 and 18 per IPv6 peer.
 */
export function responsePeers(p: UdpConfig["protocol"]): { 4: number; 6: number } {
  const fit = (entry: number) => Math.floor((p.max_response_size - 20) / entry);
  return {
    4: Math.min(p.max_response_peers, fit(6)),
    6: Math.min(p.max_response_peers, fit(18)),
  };
}
