/**
 * The portable `deno` UDP backend on `Deno.listenDatagram` (needs `--unstable-net`).
 *
 * Several receive loops keep datagrams flowing; what they collect until the next macrotask is
 * handed over as one batch, so the socket worker still posts one message per batch. Deno's
 * sockets cannot join a `SO_REUSEPORT` group, so this backend runs in one socket worker.
 *
 * Deno does not set `IPV6_V6ONLY`, so an IPv6 socket on `::` would also take the IPv4 port;
 * both sockets are bound with `SO_REUSEADDR` (the kernel still delivers IPv4 to the IPv4
 * socket) and IPv4-mapped sources on the IPv6 socket are dropped, keeping families apart.
 *
 * @module
 */

import { ADDR_LEN, type DatagramSocket, type PacketBatch, type SendParts } from "./datagram.ts";
import { type SocketOptions } from "./datagram.ts";
import { socketErrorCode, SocketOpenError } from "../shared/base/errors.ts";
import { encodeAddr, formatAddrIp, isV4Mapped, parseIPv6 } from "../shared/net/address.ts";
import { macrotask } from "../shared/base/yield.ts";

/** Concurrent `receive()` calls: the measured best case needs several in flight. */
const RECEIVERS = 16;
const MAX_BATCH = 64;
const SLOT = 8192;

const WHY: Record<string, string> = {
  EADDRINUSE: "address already in use",
  EADDRNOTAVAIL: "address not available",
  EACCES: "permission denied",
};

function openError(err: unknown, opts: SocketOptions): SocketOpenError {
  const where = opts.family === 6
    ? `[${opts.hostname}]:${opts.port}`
    : `${opts.hostname}:${opts.port}`;
  const code = socketErrorCode(err);
  const why = WHY[code] ?? (err instanceof Error ? err.message : String(err));
  return new SocketOpenError(code, `cannot bind ${where}: ${why}`);
}

class DenoSocket implements DatagramSocket {
  readonly port: number;
  sendDrops = 0;
  #conn: Deno.DatagramConn;
  #family: 4 | 6;
  #closed = false;
  #batch: PacketBatch;
  #onPackets: ((b: PacketBatch) => void) | null = null;
  #flushScheduled = false;
  #queue: { bytes: Uint8Array; addr: Deno.NetAddr }[] = [];

  constructor(conn: Deno.DatagramConn, family: 4 | 6) {
    this.#conn = conn;
    this.#family = family;
    this.port = (conn.addr as Deno.NetAddr).port;
    const offsets = new Int32Array(MAX_BATCH);
    for (let i = 0; i < MAX_BATCH; i++) offsets[i] = i * SLOT;
    this.#batch = {
      count: 0,
      data: new Uint8Array(MAX_BATCH * SLOT),
      offsets,
      lengths: new Int32Array(MAX_BATCH),
      addrs: new Uint8Array(MAX_BATCH * ADDR_LEN),
    };
  }

  #deliver = (): void => {
    this.#flushScheduled = false;
    if (this.#batch.count > 0 && this.#onPackets !== null) this.#onPackets(this.#batch);
    this.#batch.count = 0;
  };

  #add(data: Uint8Array, addr: Deno.NetAddr): void {
    const b = this.#batch, i = b.count;
    const a = i * ADDR_LEN;
    if (!encodeAddr(addr.hostname, addr.port, b.addrs, a)) return;
    // An IPv6 socket on "::" also sees IPv4 as v4-mapped; the IPv4 socket serves those.
    if (this.#family === 6 && isV4Mapped(b.addrs, a)) return;
    // A longer datagram keeps its first SLOT bytes (the receive buffer is one byte longer
    // only to tell): all that shoal answers is there.
    const len = Math.min(data.length, SLOT);
    b.data.set(len === data.length ? data : data.subarray(0, len), i * SLOT);
    b.lengths[i] = len;
    b.count++;
    if (b.count === MAX_BATCH) this.#deliver();
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      macrotask().then(this.#deliver);
    }
  }

  async #receiveLoop(): Promise<void> {
    const buf = new Uint8Array(SLOT + 1);
    while (!this.#closed) {
      let got: [Uint8Array, Deno.Addr];
      try {
        got = await this.#conn.receive(buf);
      } catch (err) {
        if (this.#closed) return;
        if (err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted) {
          return;
        }
        continue; // e.g. ICMP errors surfacing as ConnectionRefused: keep receiving
      }
      this.#add(got[0], got[1] as Deno.NetAddr);
    }
  }

  async serve(onPackets: (batch: PacketBatch) => void): Promise<void> {
    this.#onPackets = onPackets;
    await Promise.all(Array.from({ length: RECEIVERS }, () => this.#receiveLoop()));
  }

  send(payload: Uint8Array, off: number, len: number, addrs: Uint8Array, addrOff: number): void {
    this.#push(payload.slice(off, off + len), addrs, addrOff);
  }

  sendParts: SendParts = (head, headLen, body, off, len, addrs, addrOff) => {
    const b = new Uint8Array(headLen + len);
    b.set(head.subarray(0, headLen));
    b.set(body.subarray(off, off + len), headLen);
    this.#push(b, addrs, addrOff);
  };

  /** Queues `bytes` (the caller's no longer) to the address at `addrs[addrOff]`. */
  #push(bytes: Uint8Array, addrs: Uint8Array, addrOff: number): void {
    if (this.#closed) return;
    const port = (addrs[addrOff + 16] << 8) | addrs[addrOff + 17];
    this.#queue.push({
      bytes,
      addr: { transport: "udp", hostname: formatAddrIp(addrs, addrOff), port },
    });
  }

  flush(): void {
    const q = this.#queue;
    if (q.length === 0) return;
    this.#queue = [];
    for (const { bytes, addr } of q) {
      this.#conn.send(bytes, addr).catch(() => this.sendDrops++);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }
}

/** True for `::`, whose dual-stack socket would also take the port on `0.0.0.0`. */
function isUnspecifiedV6(hostname: string): boolean {
  const b = new Uint8Array(16);
  return parseIPv6(hostname, b, 0) && b.every((x) => x === 0);
}

/** Opens a UDP socket on `Deno.listenDatagram`; throws `SocketOpenError` when it cannot. */
export function openDenoSocket(opts: SocketOptions): DatagramSocket {
  try {
    // On `::` the probe would collide with this worker's own IPv4 socket on 0.0.0.0 (Deno does
    // not set IPV6_V6ONLY), so the dual-stack case goes unchecked.
    const probe = opts.family === 4 || !isUnspecifiedV6(opts.hostname);
    if (opts.checkFree && opts.port !== 0 && probe) {
      // Without SO_REUSEADDR this fails if anyone holds the port, even with SO_REUSEADDR.
      Deno.listenDatagram({ transport: "udp", hostname: opts.hostname, port: opts.port }).close();
    }
    const conn = Deno.listenDatagram({
      transport: "udp",
      hostname: opts.hostname,
      port: opts.port,
      reuseAddress: true,
    });
    return new DenoSocket(conn, opts.family);
  } catch (err) {
    throw openError(err, opts);
  }
}
