/**
 * The `ffi` UDP backend: Linux libc sockets through `Deno.dlopen`. Each socket worker opens its
 * own socket in one `SO_REUSEPORT` group, so the kernel spreads clients over workers, and moves
 * datagrams with `recvmmsg`/`sendmmsg` in batches. When a socket is drained it parks on
 * `poll()` (a nonblocking FFI call, run on a helper thread) so the worker's event loop keeps
 * handling messages from other workers.
 *
 * Every msghdr, iovec and sockaddr lives in buffers allocated once; their pointers are written
 * once. Per call only lengths change, so receiving and sending allocate nothing.
 *
 * Structure layouts are those of LP64 Linux (x86_64 and aarch64 alike): mmsghdr 64 bytes
 * (msghdr 56 + msg_len), iovec 16, sockaddr_in 16, sockaddr_in6 28.
 *
 * @module
 */

import {
  ADDR_LEN,
  type DatagramSocket,
  type PacketBatch,
  SocketOpenError,
  type SocketOptions,
} from "./io.ts";
import { parseIPv4, parseIPv6 } from "../shared/address.ts";
import { macrotask } from "../shared/yield.ts";

const AF_INET = 2, AF_INET6 = 10;
const SOCK_DGRAM = 2, SOCK_NONBLOCK = 0o4000, SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1, SO_REUSEADDR = 2, SO_SNDBUF = 7, SO_RCVBUF = 8, SO_REUSEPORT = 15;
const IPPROTO_IPV6 = 41, IPV6_V6ONLY = 26;
const MSG_DONTWAIT = 0x40, MSG_TRUNC = 0x20;
const POLLIN = 1;
/** Longest park, so that `close()` is noticed. */
const POLL_MS = 100;
const EAGAIN = 11, EINTR = 4;

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  4: "EINTR",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  22: "EINVAL",
  24: "EMFILE",
  90: "EMSGSIZE",
  93: "EPROTONOSUPPORT",
  97: "EAFNOSUPPORT",
  98: "EADDRINUSE",
  99: "EADDRNOTAVAIL",
  105: "ENOBUFS",
  111: "ECONNREFUSED",
};

const ERRNO_TEXT: Record<string, string> = {
  EACCES: "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)",
  EADDRINUSE: "address already in use",
  EADDRNOTAVAIL: "address not available on this host",
  EAFNOSUPPORT: "address family not supported by this host",
};

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "pointer"], result: "i32" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let libc: Libc | null = null;
let errnoView: Deno.UnsafePointerView | null = null;

/** Opens libc once per worker. */
function lib(): Libc {
  if (libc === null) {
    libc = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
    // errno is thread-local; this worker's JS always runs on one thread, so its address is fixed.
    errnoView = new Deno.UnsafePointerView(libc.__errno_location()!);
  }
  return libc;
}

function errno(): number {
  return errnoView!.getInt32();
}

function errnoName(e: number): string {
  return ERRNO_NAMES[e] ?? `errno ${e}`;
}

/**
 * A zeroed buffer whose address may be handed to C: V8 keeps typed arrays of up to 64 bytes on
 * its (moving) heap, so anything smaller is padded.
 */
function pinned(bytes: number): Uint8Array {
  return new Uint8Array(Math.max(bytes, 256));
}

/** Address of `buf`'s first byte as a number (user-space pointers fit in 53 bits). */
function addressOf(buf: Uint8Array): number {
  return Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
}

function writePtr(u32: Uint32Array, byteOff: number, p: number): void {
  u32[byteOff >> 2] = p % 0x100000000;
  u32[(byteOff >> 2) + 1] = Math.floor(p / 0x100000000);
}

/** Writes a sockaddr for `hostname:port` into `out`; returns its length. */
function sockaddr(family: 4 | 6, hostname: string, port: number, out: Uint8Array): number {
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

function label(opts: SocketOptions, port = opts.port): string {
  return opts.family === 6 ? `[${opts.hostname}]:${port}` : `${opts.hostname}:${port}`;
}

function setInt(fd: number, level: number, name: number, value: number): boolean {
  const v = new Int32Array([value]);
  return lib().setsockopt(fd, level, name, new Uint8Array(v.buffer), 4) === 0;
}

/** Creates, configures and binds a socket; throws `SocketOpenError`. */
function bindSocket(opts: SocketOptions, reusePort: boolean, port: number): number {
  const c = lib();
  const fd = c.socket(
    opts.family === 4 ? AF_INET : AF_INET6,
    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
    0,
  );
  if (fd < 0) {
    const code = errnoName(errno());
    throw new SocketOpenError(code, `cannot open a UDP socket for ${label(opts)}: ${code}`);
  }
  const fail = (what: string): never => {
    const code = errnoName(errno());
    c.close(fd);
    throw new SocketOpenError(code, `${what} ${label(opts, port)}: ${ERRNO_TEXT[code] ?? code}`);
  };
  if (opts.family === 6 && !setInt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1)) fail("IPV6_V6ONLY on");
  if (reusePort) {
    if (!setInt(fd, SOL_SOCKET, SO_REUSEADDR, 1)) fail("SO_REUSEADDR on");
    if (!setInt(fd, SOL_SOCKET, SO_REUSEPORT, 1)) fail("SO_REUSEPORT on");
  }
  // Buffer sizes are best effort: the kernel caps them at rmem_max/wmem_max.
  if (opts.recvBufferSize > 0) setInt(fd, SOL_SOCKET, SO_RCVBUF, opts.recvBufferSize);
  setInt(fd, SOL_SOCKET, SO_SNDBUF, 4 << 20);
  const addr = new Uint8Array(28);
  const len = sockaddr(opts.family, opts.hostname, port, addr);
  if (c.bind(fd, addr, len) !== 0) fail("cannot bind");
  return fd;
}

function boundPort(fd: number): number {
  const addr = new Uint8Array(28);
  const len = new Uint32Array([28]);
  lib().getsockname(fd, addr, new Uint8Array(len.buffer));
  return (addr[2] << 8) | addr[3];
}

/** Bytes of one receive slot: a 400-hash scrape (8016 bytes) fits. */
const SLOT = 8192;
const MMSG = 64;
const IOV = 16;
const NAME = 28;
/** Datagrams queued before `send` flushes by itself. */
const SEND_SLOTS = 256;
/** Bytes of payload queued before `send` flushes by itself. */
const SEND_ARENA = 1 << 20;

/** A socket on the libc fast path. */
class FfiSocket implements DatagramSocket {
  readonly port: number;
  sendDrops = 0;
  #fd: number;
  #family: 4 | 6;
  #closed = false;
  #batchSize: number;
  // Receive side.
  #rHdr: Uint8Array;
  #rHdr32: Uint32Array;
  #rNames: Uint8Array;
  /** Held so that the iovecs the headers point at stay alive. */
  #rIov: Uint8Array;
  #batch: PacketBatch;
  #pollfd: Uint8Array;
  // Send side.
  #sHdr: Uint8Array;
  #sHdr32: Uint32Array;
  #sIov32: Uint32Array;
  #sNames: Uint8Array;
  #sArena: Uint8Array;
  #sArenaAddr: number;
  #sCount = 0;
  #sUsed = 0;
  #nameLen: number;

  constructor(fd: number, family: 4 | 6, port: number, batchSize: number) {
    this.#fd = fd;
    this.#family = family;
    this.port = port;
    this.#batchSize = batchSize;
    this.#nameLen = family === 4 ? 16 : 28;

    const n = batchSize;
    this.#rHdr = pinned(n * MMSG);
    this.#rHdr32 = new Uint32Array(this.#rHdr.buffer);
    const rIov = this.#rIov = pinned(n * IOV);
    const rIov32 = new Uint32Array(rIov.buffer);
    this.#rNames = pinned(n * NAME);
    const data = pinned(n * SLOT);
    const dataAddr = addressOf(data), iovAddr = addressOf(rIov), nameAddr = addressOf(this.#rNames);
    const offsets = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      offsets[i] = i * SLOT;
      writePtr(rIov32, i * IOV, dataAddr + i * SLOT);
      writePtr(rIov32, i * IOV + 8, SLOT);
      writePtr(this.#rHdr32, i * MMSG, nameAddr + i * NAME);
      writePtr(this.#rHdr32, i * MMSG + 16, iovAddr + i * IOV);
      writePtr(this.#rHdr32, i * MMSG + 24, 1);
    }
    this.#batch = {
      count: 0,
      data,
      offsets,
      lengths: new Int32Array(n),
      addrs: new Uint8Array(n * ADDR_LEN),
    };

    this.#pollfd = pinned(8);
    new Int32Array(this.#pollfd.buffer)[0] = fd;
    this.#pollfd[4] = POLLIN;

    const s = SEND_SLOTS;
    this.#sHdr = pinned(s * MMSG);
    this.#sHdr32 = new Uint32Array(this.#sHdr.buffer);
    const sIov = pinned(s * IOV);
    this.#sIov32 = new Uint32Array(sIov.buffer);
    this.#sNames = pinned(s * NAME);
    this.#sArena = pinned(SEND_ARENA);
    this.#sArenaAddr = addressOf(this.#sArena);
    const sIovAddr = addressOf(sIov), sNameAddr = addressOf(this.#sNames);
    for (let i = 0; i < s; i++) {
      writePtr(this.#sHdr32, i * MMSG, sNameAddr + i * NAME);
      writePtr(this.#sHdr32, i * MMSG + 16, sIovAddr + i * IOV);
      writePtr(this.#sHdr32, i * MMSG + 24, 1);
      // sockaddr family is fixed per socket.
      this.#sNames[i * NAME] = family === 4 ? AF_INET : AF_INET6;
    }
  }

  /** Reads one batch; returns the count, 0 when drained, -1 on any other error. */
  #receive(): number {
    const n = this.#batchSize, hdr32 = this.#rHdr32;
    for (let i = 0; i < n; i++) hdr32[(i * MMSG + 8) >> 2] = NAME; // msg_namelen is in/out
    const got = lib().recvmmsg(this.#fd, this.#rHdr, n, MSG_DONTWAIT, null);
    if (got <= 0) {
      if (got < 0) {
        const e = errno();
        if (e !== EAGAIN && e !== EINTR) return -1;
      }
      return 0;
    }
    const b = this.#batch, names = this.#rNames, addrs = b.addrs;
    for (let i = 0; i < got; i++) {
      const flags = hdr32[(i * MMSG + 48) >> 2];
      b.lengths[i] = flags & MSG_TRUNC ? -1 : hdr32[(i * MMSG + 56) >> 2];
      const s = i * NAME, a = i * ADDR_LEN;
      if (this.#family === 4) {
        for (let j = 0; j < 10; j++) addrs[a + j] = 0;
        addrs[a + 10] = 0xff;
        addrs[a + 11] = 0xff;
        for (let j = 0; j < 4; j++) addrs[a + 12 + j] = names[s + 4 + j];
      } else {
        for (let j = 0; j < 16; j++) addrs[a + j] = names[s + 8 + j];
      }
      addrs[a + 16] = names[s + 2];
      addrs[a + 17] = names[s + 3];
    }
    b.count = got;
    return got;
  }

  async serve(onPackets: (batch: PacketBatch) => void): Promise<void> {
    let idle = 0;
    while (!this.#closed) {
      const got = this.#receive();
      if (got > 0) {
        onPackets(this.#batch);
        idle = 0;
        // Let other tasks (request workers' answers) run between batches.
        await macrotask();
        continue;
      }
      // Drained (or failing): look again after a cheap yield or two, then park on poll, which
      // costs ~40 µs a call and a helper thread while it waits.
      if (got === 0 && ++idle < 3) {
        await macrotask();
        continue;
      }
      await lib().poll(this.#pollfd, 1n, POLL_MS);
    }
  }

  send(payload: Uint8Array, off: number, len: number, addrs: Uint8Array, addrOff: number): void {
    if (this.#closed) return;
    if (this.#sCount === SEND_SLOTS || this.#sUsed + len > SEND_ARENA) this.flush();
    if (len > SEND_ARENA) return;
    const i = this.#sCount++;
    const arena = this.#sArena, at = this.#sUsed;
    for (let j = 0; j < len; j++) arena[at + j] = payload[off + j];
    this.#sUsed = at + len;
    writePtr(this.#sIov32, i * IOV, this.#sArenaAddr + at);
    writePtr(this.#sIov32, i * IOV + 8, len);
    this.#sHdr32[(i * MMSG + 8) >> 2] = this.#nameLen;
    const names = this.#sNames, s = i * NAME;
    names[s + 2] = addrs[addrOff + 16];
    names[s + 3] = addrs[addrOff + 17];
    if (this.#family === 4) {
      for (let j = 0; j < 4; j++) names[s + 4 + j] = addrs[addrOff + 12 + j];
    } else {
      for (let j = 0; j < 16; j++) names[s + 8 + j] = addrs[addrOff + j];
    }
  }

  flush(): void {
    const count = this.#sCount;
    if (count === 0 || this.#closed) return;
    let sent = 0, retries = 0;
    while (sent < count) {
      const hdr = sent === 0 ? this.#sHdr : this.#sHdr.subarray(sent * MMSG);
      const r = lib().sendmmsg(this.#fd, hdr, count - sent, MSG_DONTWAIT);
      if (r > 0) {
        sent += r;
        continue;
      }
      const e = errno();
      if ((e === EAGAIN || e === EINTR || e === 105) && retries++ < 2) continue;
      if (e === EAGAIN || e === 105) {
        // The send buffer stays full: drop the rest rather than stall every other client.
        this.sendDrops += count - sent;
        break;
      }
      // This datagram cannot be sent (e.g. an unroutable address): skip it, keep the rest.
      this.sendDrops++;
      sent++;
    }
    this.#sCount = 0;
    this.#sUsed = 0;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    lib().close(this.#fd);
  }
}

/** Opens a UDP socket on the libc fast path; throws `SocketOpenError` when it cannot. */
export function openFfiSocket(opts: SocketOptions): DatagramSocket {
  if (opts.checkFree && opts.port !== 0) {
    // A plain bind fails if anyone holds the port, even a SO_REUSEPORT group we could join.
    lib().close(bindSocket(opts, false, opts.port));
  }
  const fd = bindSocket(opts, opts.reusePort, opts.port);
  return new FfiSocket(fd, opts.family, boundPort(fd), opts.batchSize ?? 64);
}
