/**
 * A private WebTorrent tracker's check: the key comes with the WebSocket upgrade's path
 * (`ws://host:port/KEY` or `/KEY/announce`, read by `shared/net/key_path.ts`) and is checked
 * again at each message, so a key revoked or expired while its connection is open is refused
 * from then on (and the connection is closed when the revocation arrives: its peers leave the
 * swarms with it). A refusal is the protocol's own `failure reason`, with the info hash, which
 * WebTorrent clients need to match it to their torrent.
 *
 * @module
 */

import { KeyPath } from "../shared/net/key_path.ts";
import { KeyCheck } from "../shared/store/key_table.ts";
import { Gate, GATE_TEXT, PrivateGate } from "../shared/store/private_gate.ts";
import type { KeyUpdate } from "../shared/store/key_table.ts";
import { failureMessage } from "./protocol.ts";

const enc = new TextEncoder();

/** The private checks of one ws socket worker. */
export class WsPrivate {
  /** The keys. */
  readonly gate: PrivateGate;
  #path = new KeyPath();

  /** Checks over `keys`. (Peer ids of WebTorrent clients are not checked against prefixes.) */
  constructor(keys: KeyUpdate) {
    this.gate = new PrivateGate(keys, []);
  }

  /**
   * The key of an upgrade to `path`: its index (0 or more), or minus the `Gate` reason it
   * will be refused with (no key, a key not known).
   */
  keyOf(path: string): number {
    const b = enc.encode(path.length > 512 ? path.slice(0, 512) : path);
    this.#path.parse(b, 0, b.length);
    const p = this.#path;
    if (p.keyEnd <= p.keyStart) return -Gate.Missing;
    const i = this.gate.keys.find(b, p.keyStart, p.keyEnd);
    return i < 0 ? -Gate.Unknown : i;
  }

  /** 0 when a connection with `key` (from `keyOf`) may be served now, else the reason, counted. */
  refusal(key: number): number {
    const why = key < 0 ? -key : this.gate.keys.check(key);
    if (why !== KeyCheck.Valid) this.gate.refused[why]++;
    return why;
  }

  /** True when `key` (from `keyOf`) is now revoked or deleted. */
  revoked(key: number): boolean {
    if (key < 0) return false;
    const why = this.gate.keys.check(key);
    return why === KeyCheck.Revoked || why === KeyCheck.Unknown;
  }

  /**
   * Refuses a message (`action`, for `infoHash`) of a connection with `key` when the key does
   * not pass now: `send`s the failure reason and returns true.
   */
  refuses(
    key: number,
    action: string,
    infoHash: string | undefined,
    send: (t: string) => void,
  ): boolean {
    const why = this.refusal(key);
    if (why === 0) return false;
    send(failureMessage(GATE_TEXT[why], action, infoHash));
    return true;
  }
}
