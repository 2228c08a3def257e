/**
 * The fast TCP transport on Linux: plain TCP through libc (`accept4`, `epoll`, `read`, `send`)
 * over FFI, feeding each connection to the protocol's engine (`tcp.ts`), as the Deno
 * transport does.
 *
 * Each server has its own epoll set, which the thread's poller (`poller.ts`) waits on with the
 * thread's other servers and the rings of its request workers' answers. All connections read
 * into one shared buffer; a connection keeps bytes only while a frame is incomplete, and queues
 * output only when the kernel's send buffer is full. An idle connection is a small object and a
 * file descriptor: no pending read, no buffer, no promise. A connection that will read nothing
 * more after its first request (`Engine.wantsInput`) is not even in the epoll set.
 *
 * @module
 */

import { AF_INET, type BindOptions, bindSocket, boundPort, checkPortFree } from "./libc.ts";
import { closeFd, EAGAIN, EINTR, EMFILE, ENFILE, EPOLL_DATA_AT, EPOLL_EVENT_SIZE } from "./libc.ts";
import { errno, lib, MSG_NOSIGNAL, noteOpen, pinned, readFd, sendFd, SOCK_DGRAM } from "./libc.ts";
import { SOCK_STREAM } from "./libc.ts";
import { formatAddrIp } from "./address.ts";
import { threadPoller } from "./poller.ts";
import type { Engine, TcpHandlers, Transport } from "./tcp.ts";

const EPOLLIN = 0x1, EPOLLOUT = 0x4, EPOLLERR = 0x8, EPOLLHUP = 0x10, EPOLLRDHUP = 0x2000;
const EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLL_CTL_MOD = 3;
const EPOLL_CLOEXEC = 0o2000000;
const SOCK_NONBLOCK = 0o4000, SOCK_CLOEXEC = 0o2000000;
const IPPROTO_TCP = 6, TCP_NODELAY = 1, TCP_DEFER_ACCEPT = 9;
/**
 * Seconds a deferred accept (`TCP_DEFER_ACCEPT`) waits for a connection's first bytes; after it
 * the kernel hands the connection over anyway, and the protocol's own time limits apply.
 */
const DEFER_SECONDS = new Uint8Array(new Int32Array([1]).buffer);
const MSG_DONTWAIT = 0x40;
/** Events handled per `epoll_wait`. */
const MAX_EVENTS = 256;
/** Bytes read from one connection per event. */
const READ_BYTES = 65536;
/** The int 1, for `setsockopt`. */
const ONE = new Uint8Array(new Int32Array([1]).buffer);

/** One accepted connection. */
class FfiConn implements Transport {
  queued = 0;
  engine: Engine | null = null;
  /** Tells this connection apart from a later one that reuses its descriptor. */
  readonly gen: number;
  /** True once the client ended its stream (nothing more is read). */
  eof = false;
  /** True while the engine has reading paused. */
  paused = false;
  /** True once the descriptor is in the epoll set (see `EpollServer.#accept`). */
  registered = false;
  /** True once `TCP_NODELAY` is set (see `EpollServer.watch`). */
  nodelay = false;
  #fd: number;
  #server: EpollServer;
  #q: Uint8Array[] | null = null; // only while the kernel's send buffer is full
  #ending = false;
  #closed = false;

  constructor(fd: number, gen: number, server: EpollServer) {
    this.#fd = fd;
    this.gen = gen;
    this.#server = server;
  }

  /** Whether the connection wants its readable events. */
  get reading(): boolean {
    return !this.eof && !this.paused;
  }

  write(b: Uint8Array, off: number, len: number): void {
    if (this.#closed || this.#ending) return;
    if (this.#q === null) {
      const n = sendFd(this.#fd, off === 0 ? b : b.subarray(off), len, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n === len) return;
      if (n < 0) {
        const e = errno();
        if (e !== EAGAIN && e !== EINTR) return this.close(); // EPIPE, ECONNRESET
      }
      const sent = Math.max(0, n);
      this.#q = [b.slice(off + sent, off + len)];
      this.queued += len - sent;
      this.#watch();
      return;
    }
    this.#q.push(b.slice(off, off + len));
    this.queued += len;
  }

  /** Asks the loop for the events this connection wants now. */
  #watch(): void {
    this.#server.watch(this, this.#fd, this.reading, this.#q !== null);
  }

  /** The socket is writable again: send what queued up. */
  writable(): void {
    const q = this.#q;
    while (q !== null && q.length > 0 && !this.#closed) {
      const chunk = q[0];
      const n = sendFd(this.#fd, chunk, chunk.length, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        const e = errno();
        if (e === EAGAIN || e === EINTR) return;
        return this.close();
      }
      this.queued -= n;
      if (n < chunk.length) {
        q[0] = chunk.slice(n);
        return;
      }
      q.shift();
    }
    if (this.#closed) return;
    this.#q = null;
    if (this.#ending) return this.close();
    this.#watch();
  }

  /** The client ended its stream: stop reading, and let the engine finish its answers. */
  ended(): void {
    this.eof = true;
    this.#watch();
    this.engine?.ended();
  }

  pause(paused: boolean): void {
    if (this.#closed || this.paused === paused) return;
    this.paused = paused;
    this.#watch();
  }

  end(): void {
    this.#ending = true;
    if (this.#q === null) this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#q = null;
    this.queued = 0;
    this.#server.forget(this.#fd);
    this.engine?.gone(); // null when refused while being accepted
  }
}

/** A listening socket and its connections, served by one epoll loop. */
export class EpollServer {
  /** The port bound. */
  readonly port: number;
  #fd: number;
  #ep: number;
  #family: 4 | 6;
  #handlers: TcpHandlers;
  #rec = new Uint8Array(18);
  #conns: (FfiConn | undefined)[] = [];
  #events = pinned(MAX_EVENTS * EPOLL_EVENT_SIZE);
  #readBuf = pinned(READ_BYTES);
  /**
   * Accepts are deferred until the client's first bytes (`TCP_DEFER_ACCEPT`), and those are read
   * at once: a connection per request then costs one event-loop pass fewer (0–20% less CPU per
   * request in alternating pairs, `bench/results/2026-12-07.md`), and a client that connects and
   * says nothing holds no descriptor until the deferral ends.
   */
  #defer: boolean;
  #ev = pinned(16);
  #evView = new DataView(this.#ev.buffer);
  #eventsView = new DataView(this.#events.buffer);
  #addr = pinned(28);
  #addrLen = pinned(4);
  #closed = false;
  #acceptPaused = false;
  /** A descriptor held in reserve, given up to accept and refuse a connection at EMFILE. */
  #spare = -1;
  #gen = 0;
  #open = 0;

  /**
   * Binds and listens on `bind` (joining its `SO_REUSEPORT` group; with `checkFree`, first
   * making sure nobody else holds the port). Throws `SocketOpenError`.
   */
  constructor(bind: BindOptions, checkFree: boolean, handlers: TcpHandlers, defer = false) {
    const c = lib();
    if (checkFree) checkPortFree(SOCK_STREAM, bind);
    this.#fd = bindSocket(SOCK_STREAM, bind);
    c.listen(this.#fd, 4096);
    if (defer) c.setsockopt(this.#fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, DEFER_SECONDS, 4);
    this.#defer = defer;
    this.port = boundPort(this.#fd);
    this.#family = bind.family;
    this.#ep = c.epoll_create1(EPOLL_CLOEXEC);
    noteOpen(this.#ep);
    this.#handlers = handlers;
    this.#ctl(EPOLL_CTL_ADD, this.#fd, EPOLLIN);
    this.#spare = this.#openSpare();
    threadPoller().add(this);
  }

  /** The epoll set's descriptor (the thread's poller waits on it). */
  get waitFd(): number {
    return this.#ep;
  }

  /** A cheap descriptor to hold in reserve (an unbound UDP socket), or -1. */
  #openSpare(): number {
    const fd = lib().socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) noteOpen(fd);
    return fd;
  }

  /**
   * Out of descriptors: refuses the oldest pending connection by giving up the spare to
   * accept and close it, so that the client learns at once instead of waiting in the backlog,
   * and the backlog drains instead of waking this loop forever. False when there is no spare.
   */
  #refusePending(): boolean {
    if (this.#spare < 0) this.#spare = this.#openSpare();
    if (this.#spare < 0) return false;
    closeFd(this.#spare);
    const len32 = new Uint32Array(this.#addrLen.buffer, 0, 1);
    len32[0] = 28;
    const fd = lib().accept4(this.#fd, this.#addr, this.#addrLen, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) lib().close(fd);
    this.#spare = this.#openSpare();
    return fd >= 0;
  }

  /** Stops accepting until a connection closes, or `ms` at most. */
  #pauseAccept(ms: number): void {
    if (this.#acceptPaused) return;
    this.#acceptPaused = true;
    this.#ctl(EPOLL_CTL_MOD, this.#fd, 0);
    setTimeout(() => this.#resumeAccept(), ms);
  }

  #resumeAccept(): void {
    if (!this.#acceptPaused || this.#closed) return;
    this.#acceptPaused = false;
    this.#ctl(EPOLL_CTL_MOD, this.#fd, EPOLLIN);
  }

  /** Open connections. */
  get connections(): number {
    return this.#open;
  }

  /** Registers `fd` for `events`; the event data carries the fd and its generation. */
  #ctl(op: number, fd: number, events: number, gen = 0): void {
    const v = this.#evView;
    v.setUint32(0, events, true);
    v.setUint32(EPOLL_DATA_AT, fd, true);
    v.setUint32(EPOLL_DATA_AT + 4, gen, true);
    lib().epoll_ctl(this.#ep, op, fd, this.#ev);
  }

  /**
   * Sets the events `conn` (on `fd`) is watched for: readable (and its end), writable. The first
   * call that wants an event adds it to the epoll set. `TCP_NODELAY` is set once it reads again
   * after accepting: a connection that answers once and closes has no later small write for
   * Nagle to hold back (its close pushes out what is left).
   */
  watch(conn: FfiConn, fd: number, reads: boolean, writes: boolean): void {
    const events = (reads ? EPOLLIN | EPOLLRDHUP : 0) | (writes ? EPOLLOUT : 0);
    if (reads && !conn.nodelay) {
      conn.nodelay = true;
      lib().setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, ONE, 4);
    }
    if (conn.registered) return this.#ctl(EPOLL_CTL_MOD, fd, events, conn.gen);
    if (events === 0) return; // nothing to wait for yet
    conn.registered = true;
    this.#ctl(EPOLL_CTL_ADD, fd, events, conn.gen);
  }

  /** Closes `fd` and forgets its connection. */
  forget(fd: number): void {
    if (this.#conns[fd] === undefined) return;
    this.#conns[fd] = undefined;
    this.#open--;
    closeFd(fd); // also leaves the epoll set
    this.#resumeAccept(); // a descriptor is free again
  }

  #accept(): void {
    const c = lib();
    const len32 = new Uint32Array(this.#addrLen.buffer, 0, 1);
    while (!this.#closed) {
      len32[0] = 28;
      const fd = c.accept4(this.#fd, this.#addr, this.#addrLen, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        const e = errno();
        if (e === EMFILE || e === ENFILE) {
          this.#handlers.outOfFiles?.();
          if (this.#refusePending()) continue;
          // Not even a spare: stop accepting rather than spin on the backlog.
          this.#pauseAccept(100);
        }
        return;
      }
      noteOpen(fd);
      const gen = this.#gen = (this.#gen + 1) >>> 0;
      const conn = new FfiConn(fd, gen, this);
      this.#conns[fd] = conn;
      this.#open++;
      const rec = this.#peerAddr();
      conn.engine = this.#handlers.accept(conn, formatAddrIp(rec, 0), rec);
      if (this.#defer) this.#readNow(fd, conn);
      // Watched from now on unless it ended, or will read nothing more and only waits to
      // write its answer (then only a full send buffer makes it join the epoll set).
      if (this.#conns[fd] === conn && !conn.registered && conn.engine?.wantsInput !== false) {
        this.watch(conn, fd, conn.reading, false);
      }
    }
  }

  /**
   * Reads what a connection accepted with its request (`TCP_DEFER_ACCEPT`) at once: a
   * connection per request then needs no epoll registration at all (`#accept`).
   */
  #readNow(fd: number, conn: FfiConn): void {
    if (!conn.reading || this.#conns[fd] !== conn) return;
    const r = readFd(fd, this.#readBuf, READ_BYTES);
    if (r > 0) conn.engine?.receive(this.#readBuf, 0, r);
    else if (r === 0) conn.ended();
    else if (errno() !== EAGAIN && errno() !== EINTR) conn.close(); // reset
  }

  /** The accepted peer's address as an 18-byte record (`address.ts`), in a reused buffer. */
  #peerAddr(): Uint8Array {
    const a = this.#addr, rec = this.#rec;
    rec.fill(0);
    if (this.#family === 4 || a[0] === 2) {
      rec[10] = rec[11] = 0xff;
      rec.set(a.subarray(4, 8), 12);
    } else {
      rec.set(a.subarray(8, 24), 0);
    }
    rec[16] = a[2];
    rec[17] = a[3];
    return rec;
  }

  #handle(n: number): void {
    const v = this.#eventsView;
    for (let i = 0; i < n; i++) {
      const at = i * EPOLL_EVENT_SIZE;
      const ev = v.getUint32(at, true), fd = v.getUint32(at + EPOLL_DATA_AT, true);
      if (fd === this.#fd) {
        if (!this.#acceptPaused) this.#accept();
        continue;
      }
      // An event for a descriptor closed (and maybe reused) earlier in this batch is stale.
      const conn = this.#conns[fd];
      if (conn === undefined || conn.gen !== v.getUint32(at + EPOLL_DATA_AT + 4, true)) continue;
      if (ev & EPOLLOUT) {
        conn.writable();
        if (this.#conns[fd] !== conn) continue; // closed once its last bytes went
      }
      if (!conn.reading) {
        // Not reading (paused, or after the client's end of stream): only failure matters.
        if (ev & (EPOLLHUP | EPOLLERR)) conn.close();
        continue;
      }
      if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        const r = readFd(fd, this.#readBuf, READ_BYTES);
        if (r > 0) {
          conn.engine?.receive(this.#readBuf, 0, r);
        } else if (r === 0) {
          conn.ended(); // answers still owed are written; the engine ends the connection
        } else if (errno() !== EAGAIN && errno() !== EINTR) {
          conn.close(); // reset
        }
      }
    }
  }

  /** Handles the events ready now, without waiting (for the thread's poller). */
  poll(): number {
    if (this.#closed) return 0;
    const n = lib().epoll_wait(this.#ep, this.#events, MAX_EVENTS, 0);
    if (n > 0) this.#handle(n);
    return Math.max(0, n);
  }

  /** Stops listening, closes every connection and the loop. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    threadPoller().remove(this);
    for (const conn of this.#conns) conn?.close();
    this.#ctl(EPOLL_CTL_DEL, this.#fd, 0);
    closeFd(this.#fd);
    closeFd(this.#ep);
    if (this.#spare >= 0) closeFd(this.#spare);
  }
}
