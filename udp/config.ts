/**
 * The `shoal udp` configuration: the seed's aquatic_udp keys plus IPv6 and the I/O backend.
 * (Its `[http]` section, HTTP beside UDP over the same swarms, is added where the two are
 * composed: `main.ts`.)
 *
 * @module
 */

import { type ConfigOf, int, oneOf } from "../shared/config/schema.ts";
import { accessListSection, listenAddresses, logLevel } from "../shared/config/common.ts";
import {
  metricsSection,
  peerAnnounceInterval,
  privilegesSection,
} from "../shared/config/common.ts";
import { stateSection, statisticsSection, swarmCleaning } from "../shared/config/common.ts";
import { swarmLimits, workerCounts } from "../shared/config/common.ts";
import { privateSection } from "../shared/config/private_section.ts";
import { clusterSection } from "../shared/config/cluster_section.ts";

/** Most hashes one scrape can carry in a receive slot of 8192 bytes. */
export const MAX_SCRAPE_HASHES = 400;

/** Most peers that fit one UDP response (65507 bytes) at 18 bytes per IPv6 peer. */
export const MAX_RESPONSE_PEERS = 3000;

/** Largest UDP payload. */
const MAX_UDP_PAYLOAD = 65507;

/** Schema of the `shoal udp` configuration. */
export const udpSchema = {
  ...workerCounts("read, check and answer UDP packets"),
  log_level: logLevel(),
  network: {
    ...listenAddresses(3000),
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
  private: privateSection(),
  cluster: clusterSection(),
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
