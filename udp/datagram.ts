/**
 * What a UDP socket is to shoal, whatever moves the bytes (`io.ts` picks the backend).
 *
 * Addresses travel as 18 raw bytes everywhere in shoal (`ADDR_LEN`): a 16-byte IPv6 address
 * (IPv4 as the v4-mapped `::ffff:a.b.c.d`) followed by the port, big-endian. One socket serves
 * one address family, so the family of a packet is the family of the socket it came from.
 *
 * @module
 */

export { ADDR_LEN } from "../shared/net/address.ts";

/** Address family of a socket. */
export type Family = 4 | 6;

/** A batch of received datagrams, valid only during the callback that receives it. */
export interface PacketBatch {
  /** Number of datagrams in this batch. */
  count: number;
  /** Buffer holding the datagrams' bytes. */
  data: Uint8Array;
  /** Start of datagram `i` in `data`. */
  offsets: Int32Array;
  /**
   * Bytes of datagram `i`. A datagram longer than its receive slot (8192 bytes) is cut to
   * the slot: that prefix holds all that shoal answers (an announce's 98 bytes, the first 408
   * hashes of a scrape, more than `max_scrape_torrents` can be).
   */
  lengths: Int32Array;
  /** Source address of datagram `i` at `addrs[i * ADDR_LEN]`, in the 18-byte layout. */
  addrs: Uint8Array;
}

/** Where and how to open a socket. */
export interface SocketOptions {
  /** IP address to bind, e.g. `0.0.0.0` or `::`. */
  hostname: string;
  /** Port to bind; 0 picks a free one. */
  port: number;
  /** Address family of `hostname`. */
  family: Family;
  /** Join a `SO_REUSEPORT` group so several workers share the port (ffi backend only). */
  reusePort: boolean;
  /** `SO_RCVBUF` in bytes; 0 leaves the system default. */
  recvBufferSize: number;
  /**
   * First check that no other process holds the port (a plain bind, without `SO_REUSEPORT`),
   * so that a second tracker cannot silently join this one's `SO_REUSEPORT` group.
   */
  checkFree: boolean;
  /** Datagrams read per receive call (ffi backend); default 64. */
  batchSize?: number;
}

/**
 * Queues one datagram made of `headLen` bytes of `head` and `len` bytes of `body` from `off`
 * (a header the caller wrote, and a run of bytes from elsewhere) to the 18-byte address at
 * `addrs[addrOff]`; the bytes are copied.
 */
export type SendParts = (
  head: Uint8Array,
  headLen: number,
  body: Uint8Array,
  off: number,
  len: number,
  addrs: Uint8Array,
  addrOff: number,
) => void;

/** One bound UDP socket. */
export interface DatagramSocket {
  /** The port actually bound (useful when `port` was 0). */
  readonly port: number;
  /**
   * Starts receiving. `onPackets` is called synchronously for each received batch; the batch
   * is reused after the call returns. Resolves when the socket is closed.
   */
  serve(onPackets: (batch: PacketBatch) => void): Promise<void>;
  /**
   * Queues one datagram: `len` bytes of `payload` from `off`, to the address at
   * `addrs[addrOff]`. The bytes are copied, so the caller may reuse its buffers at once.
   * Sends by itself when its queue is full.
   */
  send(
    payload: Uint8Array,
    off: number,
    len: number,
    addrs: Uint8Array,
    addrOff: number,
  ): void;
  /** Queues one datagram of two parts (see `SendParts`). */
  sendParts: SendParts;
  /** Sends everything queued. */
  flush(): void;
  /** Datagrams dropped because the kernel's send buffer was full. */
  readonly sendDrops: number;
  /** Stops receiving and closes the socket. */
  close(): void;
}
