/**
 * The `ffi` UDP backend: Linux libc sockets through `Deno.dlopen`. Each socket worker opens its
 * own socket in one `SO_REUSEPORT` group, so the kernel spreads clients over workers, and moves
 * datagrams with `recvmmsg`/`sendmmsg` in batches. The thread's poller (`shared/net/poller.ts`)
 * reads a batch from each socket in each pass, with the request workers' answers in the same
 * pass, and waits on the sockets and those answers at once when they are drained.
 *
 * Every msghdr, iovec and sockaddr lives in buffers allocated once; their pointers are written
 * once. Per call only lengths change, so receiving and sending allocate nothing.
 *
 * Structure layouts are those of LP64 Linux (x86_64 and aarch64 alike): mmsghdr 64 bytes
 * (msghdr 56 + msg_len), iovec 16, sockaddr_in 16, sockaddr_in6 28.
 *
 * @module
 */

import { ADDR_LEN, type DatagramSocket, type PacketBatch, type SendParts } from "./datagram.ts";
import { type SocketOptions } from "./datagram.ts";
import { addressOf, AF_INET, AF_INET6, bindSocket, boundPort } from "../shared/net/libc.ts";
import { checkPortFree, closeFd, EAGAIN, EINTR, errno, lib } from "../shared/net/libc.ts";
import { MSG_DONTWAIT, pinned, SOCK_DGRAM } from "../shared/net/libc.ts";
import { writePtr } from "../shared/net/libc.ts";
import { threadPoller } from "../shared/net/poller.ts";

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
  #onPackets: ((batch: PacketBatch) => void) | null = null;
  /** Ends `serve()`'s promise. */
  #served: (() => void) | null = null;
  #batchSize: number;
  /** Datagrams the last receive call filled: only their msg_namelen needs resetting. */
  #lastGot: number;
  // Receive side.
  #rHdr: Uint8Array;
  #rHdr32: Uint32Array;
  #rNames: Uint8Array;
  /** Held so that the iovecs the headers point at stay alive. */
  #rIov: Uint8Array;
  #batch: PacketBatch;
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
    this.#lastGot = batchSize;
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
    // msg_namelen is in/out: the kernel shrank it in the slots it filled last time.
    for (let i = 0; i < this.#lastGot; i++) hdr32[(i * MMSG + 8) >> 2] = NAME;
    const got = lib().recvmmsg(this.#fd, this.#rHdr, n, MSG_DONTWAIT, null);
    this.#lastGot = got > 0 ? got : 0;
    if (got <= 0) {
      if (got < 0) {
        const e = errno();
        if (e !== EAGAIN && e !== EINTR) return -1;
      }
      return 0;
    }
    const b = this.#batch, names = this.#rNames, addrs = b.addrs;
    for (let i = 0; i < got; i++) {
      // msg_len: the bytes in the slot, also for a longer datagram (MSG_TRUNC), which keeps
      // its first SLOT bytes: all that shoal answers is there.
      b.lengths[i] = hdr32[(i * MMSG + 56) >> 2];
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

  serve(onPackets: (batch: PacketBatch) => void): Promise<void> {
    this.#onPackets = onPackets;
    threadPoller().add(this);
    return new Promise((resolve) => (this.#served = resolve));
  }

  /** The socket's descriptor (the thread's poller waits on it). */
  get waitFd(): number {
    return this.#fd;
  }

  /** Reads one batch, if any, and hands it on (for the thread's poller); its datagrams. */
  poll(): number {
    if (this.#closed || this.#onPackets === null) return 0;
    const got = this.#receive();
    if (got <= 0) return 0; // drained, or failing (the error is consumed; the poller waits)
    this.#onPackets(this.#batch);
    return got;
  }

  send(payload: Uint8Array, off: number, len: number, addrs: Uint8Array, addrOff: number): void {
    const at = this.#queue(len, addrs, addrOff);
    if (at < 0) return;
    const arena = this.#sArena;
    for (let j = 0; j < len; j++) arena[at + j] = payload[off + j];
  }

  sendParts: SendParts = (head, headLen, body, off, len, addrs, addrOff) => {
    const at = this.#queue(headLen + len, addrs, addrOff);
    if (at < 0) return;
    const arena = this.#sArena;
    for (let j = 0; j < headLen; j++) arena[at + j] = head[j];
    const to = at + headLen;
    for (let j = 0; j < len; j++) arena[to + j] = body[off + j];
  };

  /**
   * Takes a slot for a datagram of `len` bytes to the address at `addrs[addrOff]`; returns
   * where its bytes go in the arena, or -1 when it cannot be sent.
   */
  #queue(len: number, addrs: Uint8Array, addrOff: number): number {
    if (this.#closed) return -1;
    if (this.#sCount === SEND_SLOTS || this.#sUsed + len > SEND_ARENA) this.flush();
    if (len > SEND_ARENA) return -1;
    const i = this.#sCount++;
    const at = this.#sUsed;
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
    return at;
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
    if (this.#onPackets !== null) threadPoller().remove(this);
    closeFd(this.#fd);
    this.#served?.();
  }
}

/** Opens a UDP socket on the libc fast path; throws `SocketOpenError` when it cannot. */
export function openFfiSocket(opts: SocketOptions): DatagramSocket {
  const o = { ...opts, v6only: true };
  // A plain bind first fails if anyone holds the port, even a SO_REUSEPORT group we could join.
  if (opts.checkFree) checkPortFree(SOCK_DGRAM, o);
  const fd = bindSocket(SOCK_DGRAM, o);
  return new FfiSocket(fd, opts.family, boundPort(fd), opts.batchSize ?? 64);
}
