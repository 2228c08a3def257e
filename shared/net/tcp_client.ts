/**
 * An outgoing TCP connection on a nonblocking socket through libc, served by the thread's
 * poller (`poller.ts`) beside the thread's other sockets and rings. A cluster worker's NATS
 * link (`runtime/nats_link.ts`) runs on it, so bytes from NATS wake a thread that waits in
 * `epoll_wait` as a datagram or a ring's bell does, and neither reading nor writing them
 * takes a task on the event loop. Plain TCP only: TLS stays on Deno's own connections.
 *
 * @module
 */

import { parseIPv4, parseIPv6 } from "./address.ts";
import {
  AF_INET,
  AF_INET6,
  closeFd,
  EAGAIN,
  EINTR,
  errno,
  errnoName,
  lib,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  noteOpen,
  readFd,
  sendFd,
  setInt,
  SOCK_STREAM,
  sockaddr,
} from "./libc.ts";
import { type Polled, threadPoller } from "./poller.ts";

const SOCK_NONBLOCK = 0o4000, SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1, SO_ERROR = 4, IPPROTO_TCP = 6, TCP_NODELAY = 1;
const EINPROGRESS = 115, POLLOUT = 0x4;
/** Reads per poll at most, so one busy stream does not starve the thread's other sockets. */
const MAX_READS = 8;
/** How often a connect in progress is looked at. */
const CONNECT_CHECK_MS = 2;
/** Most bytes queued and not taken by the peer: past it the stream ends (a stuck peer). */
export const MAX_UNSENT = 32 << 20;

/** A connected stream, read and written in the thread's poller passes. */
export class PolledTcp implements Polled {
  /** The socket. */
  readonly waitFd: number;
  #onData: (chunk: Uint8Array) => void = () => {};
  /** Resolves with why the stream ended (closed by either side, or an error). */
  readonly ended: Promise<Error>;
  #end!: (why: Error) => void;
  #done = false;
  #in = new Uint8Array(64 * 1024);
  #out = new Uint8Array(64 * 1024);
  #outAt = 0;
  #outLen = 0;
  #watching = false;
  #flushQueued = false;
  #flushNow = () => {
    this.#flushQueued = false;
    this.#flush();
  };

  /** The connected socket `fd`, not served yet (`serve`). */
  constructor(fd: number) {
    this.waitFd = fd;
    this.ended = new Promise((resolve) => (this.#end = resolve));
  }

  /**
   * Serves the stream in the thread's poller from now on, handing each chunk read to `onData`
   * (valid during the call). A poller not running yet makes its first pass at once.
   */
  serve(onData: (chunk: Uint8Array) => void): void {
    this.#onData = onData;
    if (!this.#done) threadPoller().add(this);
  }

  /** True once the stream ended. */
  get closed(): boolean {
    return this.#done;
  }

  /** Queues the `len` bytes at the start of `b` (copied); they leave at the end of this turn. */
  write(b: Uint8Array, len = b.length): void {
    if (this.#done) return;
    if (this.#outLen - this.#outAt + len > MAX_UNSENT) {
      this.fail(`the peer has not taken ${MAX_UNSENT >> 20} MiB sent to it`);
      return;
    }
    if (this.#outLen + len > this.#out.length) {
      // Keep what is not sent yet at the front, then grow if it still does not fit.
      this.#out.copyWithin(0, this.#outAt, this.#outLen);
      this.#outLen -= this.#outAt;
      this.#outAt = 0;
      if (this.#outLen + len > this.#out.length) {
        const grown = new Uint8Array(Math.max(2 * this.#out.length, this.#outLen + len));
        grown.set(this.#out.subarray(0, this.#outLen));
        this.#out = grown;
      }
    }
    this.#out.set(len === b.length ? b : b.subarray(0, len), this.#outLen);
    this.#outLen += len;
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flushNow);
    }
  }

  /** Bytes queued and not yet taken by the kernel. */
  get unsent(): number {
    return this.#outLen - this.#outAt;
  }

  /** Sends what is queued, as far as the socket takes it; watches for room for the rest. */
  #flush(): boolean {
    let sent = false;
    while (!this.#done && this.#outAt < this.#outLen) {
      const n = sendFd(
        this.waitFd,
        this.#out.subarray(this.#outAt),
        this.#outLen - this.#outAt,
        MSG_NOSIGNAL | MSG_DONTWAIT,
      );
      if (n >= 0) {
        this.#outAt += n;
        sent = true;
        continue;
      }
      const e = errno();
      if (e === EINTR) continue;
      if (e !== EAGAIN) return this.fail(`send: ${errnoName(e)}`);
      break;
    }
    if (this.#outAt === this.#outLen) this.#outAt = this.#outLen = 0;
    const waiting = this.#outLen > 0;
    if (waiting !== this.#watching && !this.#done) {
      this.#watching = waiting;
      threadPoller().watchWrites(this, waiting);
    }
    return sent;
  }

  /** Sends what waits for room and reads what came; how much moved (0: nothing). */
  poll(): number {
    if (this.#done) return 0;
    let moved = this.#outLen > this.#outAt && this.#flush() ? 1 : 0;
    for (let k = 0; k < MAX_READS && !this.#done; k++) {
      const n = readFd(this.waitFd, this.#in, this.#in.length);
      if (n > 0) {
        moved += n;
        this.#onData(this.#in.subarray(0, n));
        if (n < this.#in.length) break;
        continue;
      }
      if (n === 0) {
        this.fail("connection closed");
        break;
      }
      const e = errno();
      if (e === EINTR) continue;
      if (e !== EAGAIN) this.fail(`read: ${errnoName(e)}`);
      break;
    }
    return moved;
  }

  /** Ends the stream with `why` (the first reason given wins). */
  fail(why: string): false {
    this.#end(new Error(why));
    this.close();
    return false;
  }

  /** Closes the socket (the stream ends). */
  close(): void {
    if (this.#done) return;
    this.#done = true;
    threadPoller().remove(this); // nothing when not served yet
    closeFd(this.waitFd);
    this.#end(new Error("connection closed"));
  }
}

/** The IP addresses to try for `hostname` (an IP literal, `localhost`, or a name to resolve). */
async function addressesOf(hostname: string): Promise<{ ip: string; family: 4 | 6 }[]> {
  const scratch = new Uint8Array(16);
  if (parseIPv4(hostname, scratch, 0)) return [{ ip: hostname, family: 4 }];
  if (parseIPv6(hostname, scratch, 0)) return [{ ip: hostname, family: 6 }];
  if (hostname === "localhost") return [{ ip: "127.0.0.1", family: 4 }, { ip: "::1", family: 6 }];
  const found: { ip: string; family: 4 | 6 }[] = [];
  for (const [type, family] of [["A", 4], ["AAAA", 6]] as const) {
    try {
      for (const ip of await Deno.resolveDns(hostname, type)) found.push({ ip, family });
    } catch { /* no such records */ }
  }
  if (found.length === 0) throw new Error(`cannot resolve ${hostname}`);
  return found;
}

/**
 * Connects to `hostname:port` (each address in turn) within `timeoutMs`, without blocking the
 * thread; `serve` the stream then. Throws with the reason.
 */
export async function connectPolled(
  hostname: string,
  port: number,
  timeoutMs: number,
): Promise<PolledTcp> {
  let last = new Error(`cannot connect to ${hostname}:${port}`);
  for (const { ip, family } of await addressesOf(hostname)) {
    try {
      return new PolledTcp(await connectOne(ip, family, port, timeoutMs));
    } catch (err) {
      last = err as Error;
    }
  }
  throw last;
}

async function connectOne(ip: string, family: 4 | 6, port: number, ms: number): Promise<number> {
  const c = lib();
  const fd = c.socket(
    family === 4 ? AF_INET : AF_INET6,
    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
    0,
  );
  if (fd < 0) throw new Error(`socket: ${errnoName(errno())}`);
  noteOpen(fd);
  try {
    // What one turn writes leaves at once, not after the previous write's acknowledgement.
    setInt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    const addr = new Uint8Array(28);
    const len = sockaddr(family, ip, port, addr);
    if (c.connect(fd, addr, len) !== 0) {
      const e = errno();
      if (e !== EINPROGRESS) throw new Error(`connect ${label(ip, port)}: ${errnoName(e)}`);
      const pfd = new Uint8Array(8);
      const view = new DataView(pfd.buffer);
      view.setInt32(0, fd, true);
      view.setInt16(4, POLLOUT, true);
      const deadline = performance.now() + ms;
      while (c.poll(pfd, 1n, 0) === 0) {
        if (performance.now() > deadline) {
          throw new Error(`connect ${label(ip, port)}: timed out after ${ms} ms`);
        }
        await new Promise((r) => setTimeout(r, CONNECT_CHECK_MS));
      }
      const err = new Int32Array(1), errLen = new Uint32Array([4]);
      c.getsockopt(
        fd,
        SOL_SOCKET,
        SO_ERROR,
        new Uint8Array(err.buffer),
        new Uint8Array(errLen.buffer),
      );
      if (err[0] !== 0) throw new Error(`connect ${label(ip, port)}: ${errnoName(err[0])}`);
    }
    return fd;
  } catch (e) {
    closeFd(fd);
    throw e;
  }
}

function label(ip: string, port: number): string {
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}
