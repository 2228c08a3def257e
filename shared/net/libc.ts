/**
 * libc through `Deno.dlopen` for the fast socket paths on Linux (UDP `recvmmsg`/`sendmmsg`, TCP
 * with `epoll`): the symbol table, errno, buffers whose addresses can be handed to C, and the
 * socket set-up both paths share. libc is opened on first use only.
 *
 * Structure layouts are those of LP64 Linux (x86_64 and aarch64 alike), except
 * `struct epoll_event`, which x86_64 packs to 12 bytes.
 *
 * @module
 */

import { parseIPv4, parseIPv6 } from "./address.ts";
import { SocketOpenError } from "../base/errors.ts";

/** Address family IPv4. */
export const AF_INET = 2;
/** Address family IPv6. */
export const AF_INET6 = 10;
/** Socket type: TCP. */
export const SOCK_STREAM = 1;
/** Socket type: UDP. */
export const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000, SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1, SO_REUSEADDR = 2, SO_SNDBUF = 7, SO_RCVBUF = 8, SO_REUSEPORT = 15;
const IPPROTO_IPV6 = 41, IPV6_V6ONLY = 26;
/** `recvmmsg` flag: do not block. */
export const MSG_DONTWAIT = 0x40;
/** `msg_flags` bit: the datagram was larger than the buffer. */
export const MSG_TRUNC = 0x20;
/** `send` flag: no SIGPIPE on a closed peer. */
export const MSG_NOSIGNAL = 0x4000;
/** errno: interrupted. */
export const EINTR = 4;
/** errno: would block. */
export const EAGAIN = 11;
/** errno: this process has too many open files. */
export const EMFILE = 24;
/** errno: the system has too many open files. */
export const ENFILE = 23;

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  4: "EINTR",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  20: "ENOTDIR",
  22: "EINVAL",
  23: "ENFILE",
  24: "EMFILE",
  32: "EPIPE",
  90: "EMSGSIZE",
  93: "EPROTONOSUPPORT",
  97: "EAFNOSUPPORT",
  98: "EADDRINUSE",
  99: "EADDRNOTAVAIL",
  104: "ECONNRESET",
  105: "ENOBUFS",
  110: "ETIMEDOUT",
  111: "ECONNREFUSED",
  113: "EHOSTUNREACH",
  115: "EINPROGRESS",
};

/** Operator-readable text for the errors a bind reports. */
export const ERRNO_TEXT: Record<string, string> = {
  EACCES: "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)",
  EADDRINUSE: "address already in use",
  EADDRNOTAVAIL: "address not available on this host",
  EAFNOSUPPORT: "address family not supported by this host",
};

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  accept4: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "pointer"], result: "i32" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  // ssize_t results fit an i32 here (reads and writes are below 2 GiB), which keeps them numbers.
  read: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  epoll_wait: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },
  epoll_park: {
    name: "epoll_wait",
    parameters: ["i32", "buffer", "i32", "i32"],
    result: "i32",
    nonblocking: true,
  },
  getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

/** The libc functions shoal calls. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let libc: Libc | null = null;
let errnoView: Deno.UnsafePointerView | null = null;

/** Opens libc once per worker. */
export function lib(): Libc {
  if (libc === null) {
    libc = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
    // errno is thread-local; this worker's JS always runs on one thread, so its address is fixed.
    errnoView = new Deno.UnsafePointerView(libc.__errno_location()!);
  }
  return libc;
}

/** `read(2)`: bytes read, 0 at the end of the stream, -1 on error (see `errno`). */
export function readFd(fd: number, buf: Uint8Array, len: number): number {
  return lib().read(fd, buf, sizeT(len));
}

/** `write(2)`: bytes written, or -1 on error (see `errno`). */
export function writeFd(fd: number, buf: Uint8Array, len: number): number {
  return lib().write(fd, buf, sizeT(len));
}

/** `send(2)`: bytes sent, or -1 on error (see `errno`). */
export function sendFd(fd: number, buf: Uint8Array, len: number, flags: number): number {
  return lib().send(fd, buf, sizeT(len), flags);
}

// A `usize` parameter given a number takes Deno's slow FFI path (~250 ns more per call,
// measured); given a bigint it stays on V8's fast path. `BigInt(n)` per call would allocate,
// so the bigints of the lengths seen are kept (a few thousand at most).
const sizes = new Map<number, bigint>();
function sizeT(n: number): bigint {
  let b = sizes.get(n);
  if (b === undefined) {
    b = BigInt(n);
    if (sizes.size < 4096) sizes.set(n, b);
  }
  return b;
}

// Descriptors this worker opened, in a bitmap the main thread can read: if the worker dies,
// libc descriptors are not closed with it (they belong to the process), so the main thread
// closes them before starting a replacement.
let registry: Int32Array | null = null;

/** A bitmap for `trackFds`, large enough for `maxFds` descriptors. */
export function fdRegistry(maxFds = 1 << 20): SharedArrayBuffer {
  return new SharedArrayBuffer(Math.ceil(maxFds / 32) * 4);
}

/** Records this worker's libc descriptors in `shared` from now on. */
export function trackFds(shared: SharedArrayBuffer): void {
  registry = new Int32Array(shared);
}

/** Notes that `fd` is open (no-op without a registry). */
export function noteOpen(fd: number): void {
  if (registry !== null && fd >= 0 && (fd >> 5) < registry.length) {
    Atomics.or(registry, fd >> 5, 1 << (fd & 31));
  }
}

/** Closes `fd` and notes it. */
export function closeFd(fd: number): number {
  if (registry !== null && fd >= 0 && (fd >> 5) < registry.length) {
    Atomics.and(registry, fd >> 5, ~(1 << (fd & 31)));
  }
  return lib().close(fd);
}

/** Closes every descriptor recorded in `shared` (by a worker that died); returns how many. */
export function closeTracked(shared: SharedArrayBuffer): number {
  const words = new Int32Array(shared);
  let n = 0;
  for (let w = 0; w < words.length; w++) {
    const bits = Atomics.exchange(words, w, 0);
    if (bits === 0) continue;
    for (let b = 0; b < 32; b++) {
      if (bits & (1 << b)) {
        lib().close(w * 32 + b);
        n++;
      }
    }
  }
  return n;
}

const RLIMIT_NOFILE = 7;

/**
 * The soft limit on open descriptors (`ulimit -n`; Deno raises it to the hard limit at start),
 * or null where it cannot be read (not Linux, or no FFI permission).
 */
export function openFileLimit(): number | null {
  if (Deno.build.os !== "linux") return null;
  try {
    const rl = pinned(16);
    if (lib().getrlimit(RLIMIT_NOFILE, rl) !== 0) return null;
    const soft = new DataView(rl.buffer).getBigUint64(0, true);
    return soft >= BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(soft);
  } catch {
    return null;
  }
}

/** The calling thread's errno (read right after the failing call). */
export function errno(): number {
  return errnoView!.getInt32();
}

/** A name for an errno value, e.g. `EADDRINUSE`. */
export function errnoName(e: number): string {
  return ERRNO_NAMES[e] ?? `errno ${e}`;
}

/**
 * A zeroed buffer whose address may be handed to C: V8 keeps typed arrays of up to 64 bytes on
 * its (moving) heap, so anything smaller is padded. Keep a reference for as long as C uses it.
 */
export function pinned(bytes: number): Uint8Array {
  return new Uint8Array(Math.max(bytes, 256));
}

/** Address of `buf`'s first byte as a number (user-space pointers fit in 53 bits). */
export function addressOf(buf: Uint8Array): number {
  return Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
}

/** Writes the pointer `p` as a little-endian u64 at `byteOff` of `u32`'s buffer. */
export function writePtr(u32: Uint32Array, byteOff: number, p: number): void {
  u32[byteOff >> 2] = p % 0x100000000;
  u32[(byteOff >> 2) + 1] = Math.floor(p / 0x100000000);
}

/** Writes a sockaddr for `hostname:port` into `out`; returns its length. */
export function sockaddr(family: 4 | 6, hostname: string, port: number, out: Uint8Array): number {
  out.fill(0);
  if (family === 4) {
    out[0] = AF_INET;
    out[2] = port >> 8;
    out[3] = port & 0xff;
    if (!parseIPv4(hostname, out, 4)) throw new SocketOpenError("EINVAL", `bad IPv4 ${hostname}`);
    return 16;
  }
  out[0] = AF_INET6;
  out[2] = port >> 8;
  out[3] = port & 0xff;
  if (!parseIPv6(hostname, out, 8)) throw new SocketOpenError("EINVAL", `bad IPv6 ${hostname}`);
  return 28;
}

/** Sets an integer socket option; false when the kernel refused it. */
export function setInt(fd: number, level: number, name: number, value: number): boolean {
  const v = new Int32Array([value]);
  return lib().setsockopt(fd, level, name, new Uint8Array(v.buffer), 4) === 0;
}

/** The port a socket is bound to. */
export function boundPort(fd: number): number {
  const addr = new Uint8Array(28);
  const len = new Uint32Array([28]);
  lib().getsockname(fd, addr, new Uint8Array(len.buffer));
  return (addr[2] << 8) | addr[3];
}

/** Where and how to open a listening or datagram socket. */
export interface BindOptions {
  /** IP address. */
  hostname: string;
  /** Port (0 picks one). */
  port: number;
  /** Address family of `hostname`. */
  family: 4 | 6;
  /** Join a `SO_REUSEPORT` group. */
  reusePort: boolean;
  /** For IPv6: refuse IPv4 (true) or serve both (false, dual stack). */
  v6only: boolean;
  /** `SO_RCVBUF` in bytes; 0 keeps the default. */
  recvBufferSize: number;
}

function label(o: BindOptions): string {
  return o.family === 6 ? `[${o.hostname}]:${o.port}` : `${o.hostname}:${o.port}`;
}

/**
 * Creates a nonblocking socket of `type` (`SOCK_DGRAM` or `SOCK_STREAM`), sets its options and
 * binds it; throws `SocketOpenError` with the errno name and a one-line message.
 */
export function bindSocket(
  type: number,
  o: BindOptions,
  reusePort = o.reusePort,
  reuseAddr = reusePort,
): number {
  const c = lib();
  const fd = c.socket(o.family === 4 ? AF_INET : AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    const code = errnoName(errno());
    throw new SocketOpenError(code, `cannot open a socket for ${label(o)}: ${code}`);
  }
  noteOpen(fd);
  const fail = (what: string): never => {
    const code = errnoName(errno());
    closeFd(fd);
    throw new SocketOpenError(code, `${what} ${label(o)}: ${ERRNO_TEXT[code] ?? code}`);
  };
  if (o.family === 6 && !setInt(fd, IPPROTO_IPV6, IPV6_V6ONLY, o.v6only ? 1 : 0)) {
    fail("IPV6_V6ONLY on");
  }
  if (reuseAddr && !setInt(fd, SOL_SOCKET, SO_REUSEADDR, 1)) fail("SO_REUSEADDR on");
  if (reusePort && !setInt(fd, SOL_SOCKET, SO_REUSEPORT, 1)) fail("SO_REUSEPORT on");
  // Buffer sizes are best effort: the kernel caps them at rmem_max/wmem_max.
  if (o.recvBufferSize > 0) setInt(fd, SOL_SOCKET, SO_RCVBUF, o.recvBufferSize);
  if (type === SOCK_DGRAM) setInt(fd, SOL_SOCKET, SO_SNDBUF, 4 << 20);
  const addr = new Uint8Array(28);
  const len = sockaddr(o.family, o.hostname, o.port, addr);
  if (c.bind(fd, addr, len) !== 0) fail("cannot bind");
  return fd;
}

/**
 * Checks that nobody holds `o`'s port: a bind without `SO_REUSEPORT` fails even against a
 * `SO_REUSEPORT` group that we could otherwise silently join. For TCP it sets `SO_REUSEADDR`,
 * as every TCP server does: connections the last run closed linger in TIME_WAIT for a minute,
 * and without it a restart would fail on them; a listening socket still makes it fail.
 */
export function checkPortFree(type: number, o: BindOptions): void {
  if (o.port === 0) return;
  const fd = bindSocket(type, o, false, type === SOCK_STREAM);
  closeFd(fd);
}

/** Bytes of one `struct epoll_event`: packed on x86_64, padded elsewhere. */
export const EPOLL_EVENT_SIZE = Deno.build.arch === "x86_64" ? 12 : 16;
/** Offset of `data` in `struct epoll_event`. */
export const EPOLL_DATA_AT = Deno.build.arch === "x86_64" ? 4 : 8;
