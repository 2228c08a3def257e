/**
 * A private UDP tracker's checks, beside the router: the key of an announce, from its BEP 41
 * URL data (`url_data.ts`) read as a path (`/KEY/announce`: `shared/net/key_path.ts`), through
 * the socket worker's `PrivateGate`; and scrapes, which cannot carry a key, answered only for
 * an IP that announced with a valid key within `max_peer_age`.
 *
 * @module
 */

import { getU32BE } from "../shared/base/bytes.ts";
import { KeyPath } from "../shared/net/key_path.ts";
import { Gate, GATE_TEXT, PrivateGate } from "../shared/store/private_gate.ts";
import type { KeyUpdate } from "../shared/store/key_table.ts";
import { RecentAddresses } from "../shared/store/recent_addresses.ts";
import { ANNOUNCE_LEN, OFF_PEER_ID } from "./codec.ts";
import { MALFORMED, MAX_URL_DATA, readUrlData } from "./url_data.ts";

const enc = new TextEncoder();

/** What each `Gate` refusal says over UDP (action 3), and the scrape refusal. */
export const UDP_GATE_BYTES: readonly Uint8Array[] = GATE_TEXT.map((t, i) =>
  enc.encode(
    i === Gate.Missing
      ? "this tracker is private: put your passkey in the announce URL " +
        "(udp://host:port/KEY/announce); a client that sends no URL data (BEP 41) needs the " +
        "HTTP URL"
      : t,
  )
);

/** Why a scrape was refused. */
export const UDP_SCRAPE_REFUSED = enc.encode(
  "this tracker is private: scrapes are answered after an announce with your passkey",
);

/** BEP 15 announce offsets of `downloaded` and `uploaded` (i64, big-endian). */
const OFF_DOWNLOADED = 56, OFF_UPLOADED = 72;

/** A big-endian i64 at `b[off]` as a number (exact to 2^53); negative is 0. */
function i64(b: Uint8Array, off: number): number {
  const hi = getU32BE(b, off);
  if (hi & 0x80000000) return 0;
  return hi * 0x100000000 + getU32BE(b, off + 4);
}

/** The private checks of one UDP socket worker. */
export class UdpPrivate {
  /** The keys and allowed clients. */
  readonly gate: PrivateGate;
  /** The announcing client's uploaded and downloaded totals, after a passing `announce`. */
  uploaded = 0;
  /** As `uploaded`. */
  downloaded = 0;
  #url = new Uint8Array(MAX_URL_DATA);
  #path = new KeyPath();
  #recent = new RecentAddresses();
  #maxPeerAge: number;

  /** Checks over `keys`, allowing `clients`; scrapes for `maxPeerAge` seconds after an announce. */
  constructor(keys: KeyUpdate, clients: string[], maxPeerAge: number) {
    this.gate = new PrivateGate(keys, clients);
    this.#maxPeerAge = maxPeerAge;
  }

  /**
   * Checks the announce of `len` bytes at `data[off]` from the client at `addrs[a]` at `now`:
   * 0 (the key's index is in `gate.key`) or a `Gate` reason.
   */
  announce(
    data: Uint8Array,
    off: number,
    len: number,
    addrs: Uint8Array,
    a: number,
    now: number,
  ): number {
    const o = off + ANNOUNCE_LEN, end = off + len, p = this.#path;
    let src = data;
    if (end - o >= 2 && data[o] === 2 && o + 2 + data[o + 1] === end) {
      p.parse(data, o + 2, end); // libtorrent's form, one option to the end: read in place
    } else {
      const n = readUrlData(data, o, end, this.#url);
      if (n === MALFORMED) return this.gate.refuse(Gate.Malformed);
      src = this.#url;
      p.parse(src, 0, n);
    }
    const why = this.gate.check(src, p.keyStart, p.keyEnd, data, off + OFF_PEER_ID);
    if (why !== 0) return why;
    this.uploaded = i64(data, off + OFF_UPLOADED);
    this.downloaded = i64(data, off + OFF_DOWNLOADED);
    this.#recent.mark(addrs, a, now);
    return 0;
  }

  /** True when the client at `addrs[a]` may scrape at `now`. */
  scrape(addrs: Uint8Array, a: number, now: number): boolean {
    return this.#recent.seenSince(addrs, a, now - this.#maxPeerAge);
  }
}
