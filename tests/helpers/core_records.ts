/**
 * The core's announce records for tests (`core/records.ts`): one written the way a socket
 * worker writes it (`Forwarder.announce`), and an answer read back into plain values.
 *
 * @module
 */

import { Forwarder } from "../../core/forward.ts";
import {
  A_FLAGS,
  ANNOUNCE_PEER_IDS,
  ANNOUNCE_SEEDER,
  ANSWER_HEADER,
  peerLen,
  R_COUNT,
  R_INTERVAL,
  R_LEECHERS,
  R_REFUSAL,
  R_SEEDERS,
  REC_FAMILY,
} from "../../core/records.ts";
import { getU16LE, getU32LE } from "../../shared/base/bytes.ts";
import { encodeAddr } from "../../shared/net/address.ts";

/** An announce, as its fields. */
export interface AnnounceFields {
  /** 20-byte info hash. */
  infoHash: Uint8Array;
  /** 20-byte peer id. */
  peerId: Uint8Array;
  /** The client's IP. */
  host: string;
  /** The port it listens on (also its source port). */
  port: number;
  /** Nothing left to download. */
  seeder: boolean;
  /** `AnnounceEvent`. */
  event: number;
  /** Peers wanted. */
  want: number;
  /** List peer ids too. */
  peerIds?: boolean;
  /** The front's token. */
  token?: number;
}

/** A decoded announce answer. */
export interface Answer {
  /** `Refusal`, 0 for none. */
  refusal: number;
  /** Interval. */
  interval: number;
  /** Seeders. */
  seeders: number;
  /** Leechers. */
  leechers: number;
  /** Peers as `ip:port` (IPv6 bracketed, every group in hex, as `udp/codec.ts` decodes them). */
  peers: string[];
  /** Their peer ids, with `peerIds`. */
  peerIds: Uint8Array[];
}

const forward = new Forwarder(new Uint32Array([1, 2]), 1, 1);

/** The announce record of `f`, as a socket worker writes it. */
export function announceRecord(f: AnnounceFields): Uint8Array {
  const addr = new Uint8Array(18);
  if (!encodeAddr(f.host, f.port, addr, 0)) throw new Error(`bad host ${f.host}`);
  const family = f.host.includes(":") ? 6 : 4;
  const flags = (f.seeder ? ANNOUNCE_SEEDER : 0) | (f.peerIds ? ANNOUNCE_PEER_IDS : 0);
  const w = forward.writers[0];
  forward.announce(
    family,
    addr,
    0,
    f.infoHash,
    0,
    f.peerId,
    0,
    f.port,
    f.event,
    flags,
    f.want,
    f.token ?? 0,
  );
  const rec = w.buf.slice(0, w.len);
  w.clear();
  return rec;
}

/** Reads the announce answer at `b[p]`. */
export function readAnswer(b: Uint8Array, p = 0): Answer {
  const family = b[p + REC_FAMILY] === 6 ? 6 : 4, len = peerLen(family);
  const n = getU16LE(b, p + R_COUNT), ids = (b[p + A_FLAGS] & ANNOUNCE_PEER_IDS) !== 0;
  const peers: string[] = [], peerIds: Uint8Array[] = [];
  for (let k = 0; k < n; k++) {
    const at = p + ANSWER_HEADER + k * len;
    const port = (b[at + len - 2] << 8) | b[at + len - 1];
    if (family === 4) {
      peers.push(`${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}:${port}`);
    } else {
      const words: string[] = [];
      for (let j = 0; j < 16; j += 2) words.push(((b[at + j] << 8) | b[at + j + 1]).toString(16));
      peers.push(`[${words.join(":")}]:${port}`);
    }
    if (ids) {
      const id = p + ANSWER_HEADER + n * len + 20 * k;
      peerIds.push(b.slice(id, id + 20));
    }
  }
  return {
    refusal: b[p + R_REFUSAL],
    interval: getU32LE(b, p + R_INTERVAL),
    seeders: getU32LE(b, p + R_SEEDERS),
    leechers: getU32LE(b, p + R_LEECHERS),
    peers,
    peerIds,
  };
}
