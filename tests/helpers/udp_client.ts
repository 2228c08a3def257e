/**
 * A small BEP 15 client over `Deno.listenDatagram` for integration tests.
 *
 * @module
 */

import {
  type AnnounceRequest,
  decodeResponse,
  encodeAnnounceRequest,
  encodeConnectRequest,
  encodeScrapeRequest,
  type Response,
} from "../../udp/codec.ts";

/** One client socket talking to one tracker address. */
export class UdpClient {
  readonly conn: Deno.DatagramConn;
  readonly tracker: Deno.NetAddr;
  readonly ipv6: boolean;
  #tid = Math.floor(Math.random() * 1e9);

  /** Opens a socket on `hostname` (port 0) aimed at `tracker`. */
  constructor(tracker: { hostname: string; port: number }) {
    this.ipv6 = tracker.hostname.includes(":");
    this.tracker = { transport: "udp", hostname: tracker.hostname, port: tracker.port };
    this.conn = Deno.listenDatagram({
      transport: "udp",
      hostname: this.ipv6 ? "::1" : "127.0.0.1",
      port: 0,
    });
  }

  /** This socket's port. */
  get port(): number {
    return (this.conn.addr as Deno.NetAddr).port;
  }

  /** Next transaction id. */
  nextTid(): number {
    return (this.#tid = (this.#tid + 1) | 0);
  }

  /** Sends raw bytes and resolves to the raw reply, or null after `ms` of silence. */
  async raw(bytes: Uint8Array, ms = 2000): Promise<Uint8Array | null> {
    await this.conn.send(bytes, this.tracker);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<null>((r) => (timer = setTimeout(() => r(null), ms)));
    try {
      const got = await Promise.race([this.conn.receive(), timeout]);
      return got === null ? null : got[0];
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends `bytes` and decodes the reply; throws on silence or a mismatched transaction id. */
  async request(bytes: Uint8Array, tid: number, ms = 3000): Promise<Response> {
    // UDP may drop on a loaded machine: retry a few times, as real clients do.
    for (let attempt = 0; attempt < 3; attempt++) {
      const raw = await this.raw(bytes, ms);
      if (raw === null) continue;
      const r = decodeResponse(raw, this.ipv6);
      if (r.transactionId !== tid) throw new Error(`transaction id ${r.transactionId} != ${tid}`);
      return r;
    }
    throw new Error("no response from the tracker");
  }

  /** Connects and returns the connection ID. */
  async connect(): Promise<Uint8Array> {
    const tid = this.nextTid();
    const r = await this.request(encodeConnectRequest(tid), tid);
    if (r.action !== 0) throw new Error(`connect answered with action ${r.action}`);
    return r.connectionId;
  }

  /** Announces (fields as in `AnnounceRequest`, with defaults) and returns the response. */
  async announce(
    cid: Uint8Array,
    fields: Partial<AnnounceRequest> & { infoHash: Uint8Array; peerId: Uint8Array },
  ): Promise<Response> {
    const tid = this.nextTid();
    const bytes = encodeAnnounceRequest({
      connectionId: cid,
      transactionId: tid,
      left: 0n,
      port: this.port,
      ...fields,
    });
    return await this.request(bytes, tid);
  }

  /** Scrapes `hashes` and returns the response. */
  async scrape(cid: Uint8Array, hashes: Uint8Array[]): Promise<Response> {
    const tid = this.nextTid();
    return await this.request(encodeScrapeRequest(cid, tid, hashes), tid);
  }

  /** Closes the socket. */
  close(): void {
    this.conn.close();
  }
}

/** A random 20-byte id. */
export function randomId(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(20));
}
