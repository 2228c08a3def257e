/**
 * What the TCP transports (`tcp_epoll.ts`: libc epoll, plain TCP on Linux; `tcp_deno.ts`:
 * Deno's listeners, TLS and every platform) give a protocol: each accepted connection is
 * handed to an engine the protocol makes (the WebSocket engine, the HTTP engine), which reads
 * bytes and writes through its `Transport`.
 *
 * @module
 */

/** Where an engine's bytes go. */
export interface Transport {
  /** Writes `len` bytes of `b` from `off`; copies what it cannot write at once. */
  write(b: Uint8Array, off: number, len: number): void;
  /** Bytes accepted by `write` and not yet handed to the kernel. */
  readonly queued: number;
  /** Ends the connection once the queued bytes are written. */
  end(): void;
}

/** One connection's protocol engine. */
export interface Engine {
  /** Feeds `len` bytes read from the socket, from `b[off]` (valid only during the call). */
  receive(b: Uint8Array, off: number, len: number): void;
  /** The connection ended (either side); called once. */
  gone(): void;
  /** True once the engine has ended the connection. */
  readonly done: boolean;
  /** Bytes the engine wants before it can parse further (a hint for read sizes). */
  readonly need: number;
}

/** What a transport tells the protocol. */
export interface TcpHandlers {
  /**
   * A connection was accepted from `ip` (text) whose address is the 18-byte record `addr`
   * (`address.ts`; valid only during the call): the engine that serves it over `t`.
   */
  accept(t: Transport, ip: string, addr: Uint8Array): Engine;
  /** A connection could not be accepted: the process is out of file descriptors. */
  outOfFiles?(): void;
}
