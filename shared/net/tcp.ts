/**
 * What the TCP transports (`tcp_epoll.ts`: libc epoll, plain TCP on Linux; `tcp_deno.ts`:
 * Deno's listeners, TLS and every platform) give a protocol: each accepted connection is
 * handed to an engine the protocol makes (the WebSocket engine, the HTTP engine), which reads
 * bytes and writes through its `Transport`.
 *
 * The contract, the same on both transports:
 * - The transport closes the socket only when the engine calls `end()` (after what is queued
 *   is written), when a read or write fails, or when the server closes; then it calls the
 *   engine's `gone()`, once.
 * - The client's end of stream (it closed, or half-closed after its last request) is `ended()`:
 *   no more bytes come, but answers still owed may be written. The engine calls `end()` once it
 *   has nothing more to send. A transport never closes a connection only because input ended.
 * - `pause(true)` stops reading until `pause(false)`: how an engine that is owed too many
 *   answers stops a client from sending more without buffering them.
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
  /** Stops (`true`) or resumes (`false`) reading from the connection. */
  pause(paused: boolean): void;
}

/** One connection's protocol engine. */
export interface Engine {
  /** Feeds `len` bytes read from the socket, from `b[off]` (valid only during the call). */
  receive(b: Uint8Array, off: number, len: number): void;
  /** The client ended its stream: no more input. Call `Transport.end()` when done answering. */
  ended(): void;
  /** The connection is closed (either side, or it failed); called once. */
  gone(): void;
  /** True once the engine has ended the connection. */
  readonly done: boolean;
  /** Bytes the engine wants before it can parse further (a hint for read sizes). */
  readonly need: number;
  /**
   * False once the engine will read nothing more from the connection (its last request asked
   * for the connection to close after the answer): a transport need not watch it for input.
   * Absent means true.
   */
  readonly wantsInput?: boolean;
}

/** An engine for a connection refused at accept (its transport was ended at once). */
export const REFUSED: Engine = {
  receive() {},
  ended() {},
  gone() {},
  done: true,
  need: 0,
};

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
