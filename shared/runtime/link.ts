/**
 * One end of the channel between a socket worker and a request worker: a `MessagePort`, with
 * a shared-memory ring beside it for byte batches. A `postMessage` hop costs several times the
 * CPU of a write to shared memory and an `Atomics.notify` when the other thread sleeps (figures:
 * `bench/results/design-notes.md`). So byte batches (all the protocols' requests and responses)
 * are copied into a single-producer, single-consumer ring, and the reader is woken only when it
 * sleeps; structured-clone messages (ws scrape counts, control) still take the port.
 *
 * Each end makes the ring it reads and sends it over the port with its thread's bell; batches
 * sent before the other end's ring came wait in order. A record is a u32 length and the bytes,
 * 4-aligned; a length of `WRAP` sends the reader back to the start. The writer owns `HEAD`, the
 * reader `TAIL`. One loop per thread reads all of its rings (`readLoop`); it sets its bell's
 * `SLEEPING` before it sleeps, and a writer, after moving `HEAD`, rings the bell when it is set
 * (both sequentially consistent, so one of them sees the other). A batch larger than a quarter
 * of the ring (a full scrape, a ws batch of many offers) crosses in pieces, each record's length
 * marked `MORE` but the last, and the reader joins them: byte batches arrive in the order they
 * were sent, which ws needs (a connection's messages stay in order). When the ring is full,
 * batches wait in order in the writer and are retried each time it sends, and on a timer.
 *
 * @module
 */

import { macrotask, Turns } from "../base/yield.ts";
import { ByteBuffer } from "../base/byte_buffer.ts";
import { BLOCK_MS, BLOCK_ROUNDS, controlTurn, MAX_YIELDS, YIELD_MS } from "../base/waits.ts";
import { writeFd } from "../net/libc.ts";
import { controlPending } from "./mailbox.ts";

const HEAD = 0, TAIL = 1;
const CONTROL_BYTES = 64;
const WRAP = 0xffffffff;
/** Set in a record's length: a piece of a batch that the next record continues. */
const MORE = 0x80000000;
/** A sleeping reader looks again this often, so a closed link's loop ends. */
const WAIT_MS = 1000;
/** How soon batches waiting for room are retried when nothing else is sent. */
const RETRY_MS = 1;

// This thread's bell, shared with every writer of a ring it reads: `SEQ` moves when one rings
// it, and `SLEEPING` is set while this thread's reader waits (see `readLoop`). When a socket
// poller reads the rings (`pollerReads`), `EVENT_FD` is the eventfd in its epoll set, and a
// writer rings by writing to it.
const SEQ = 0, SLEEPING = 1, EVENT_FD = 2;
const bellBuffer = new SharedArrayBuffer(16);
const bell = new Int32Array(bellBuffer);
bell[EVENT_FD] = -1;
/** The links of this thread that have an incoming ring. */
const reading = new Set<Link>();
let loopRunning = false;
let blocking = false;
/** True once a socket poller reads this thread's rings instead of `readLoop`. */
let polled = false;
/** The 8 bytes an eventfd is written. */
const ONE = new Uint8Array(new BigUint64Array([1n]).buffer);

/**
 * Lets this thread's reader wait for batches by blocking the thread (`Atomics.wait`, at most
 * `BLOCK_MS` at a time) instead of sleeping on the event loop: a batch then wakes it directly,
 * without a task through the event loop on either side. Timers and port messages run between
 * waits, and after `BLOCK_ROUNDS` empty waits in a row it sleeps on the event loop again, so an
 * idle worker does not wake a thousand times a second. For request workers, whose event loop
 * has nothing that cannot wait a millisecond; never for a thread that polls sockets.
 */
export function blockingWaits(on: boolean): void {
  blocking = on;
}

/** True when some link of this thread has unread records. */
export function pending(): boolean {
  for (const l of reading) if (l.unread) return true;
  return false;
}

/**
 * From now on the caller reads this thread's rings (`readAll`, `sleeping`): writers ring the
 * eventfd `fd` when it sleeps, which a socket worker's poller waits on beside its sockets.
 */
export function pollerReads(fd: number): void {
  polled = true;
  Atomics.store(bell, EVENT_FD, fd);
  // A reader loop asleep on the bell wakes, sees it is not needed, and ends.
  Atomics.add(bell, SEQ, 1);
  Atomics.notify(bell, SEQ);
}

/** The poller serves no more: this thread's reader loop reads its rings again. */
export function pollerStopped(): void {
  polled = false;
  Atomics.store(bell, EVENT_FD, -1);
  if (!loopRunning && reading.size > 0) {
    loopRunning = true;
    readLoop();
  }
}

/** Reads every ring of this thread (for `pollerReads`); false when they held nothing. */
export function readAll(): boolean {
  let read = false;
  for (const l of reading) if (l.drainIn()) read = true;
  return read;
}

/** The poller is about to sleep (`true`: writers ring from now on) or woke (`false`). */
export function sleeping(on: boolean): void {
  Atomics.store(bell, SLEEPING, on ? 1 : 0);
}

/**
 * Reads every incoming ring of this thread in one loop, so that one bell wakes it whichever
 * link a batch came on. The writer's `HEAD` and this loop's `SLEEPING` are both sequentially
 * consistent, so either the loop sees the batch before it sleeps or the writer sees it asleep
 * and rings.
 */
async function readLoop(): Promise<void> {
  const turns = new Turns(YIELD_MS);
  let idle = 0, yields = 0;
  while (reading.size > 0 && !polled) {
    // A control message posted before these batches is applied before them (`mailbox.ts`).
    if (blocking && controlPending() && yields++ < MAX_YIELDS) {
      await controlTurn();
      continue;
    }
    yields = 0;
    const read = readAll();
    if (read) {
      idle = 0;
      // Microtasks (the flushes the batch scheduled) run at each await; timers, sockets and
      // control messages get a turn at least every YIELD_MS.
      await turns.next();
      continue;
    }
    Atomics.store(bell, SLEEPING, 1);
    const seq = Atomics.load(bell, SEQ);
    if (!pending()) {
      if (blocking && idle < BLOCK_ROUNDS) {
        const woke = Atomics.wait(bell, SEQ, seq, BLOCK_MS);
        Atomics.store(bell, SLEEPING, 0);
        if (woke === "timed-out") idle++;
        // Nothing to read after the wait (a port message rang, or time ran out): the event
        // loop's turn.
        if (!pending()) await macrotask();
        continue;
      }
      const w = Atomics.waitAsync(bell, SEQ, seq, WAIT_MS);
      if (w.async) await w.value;
      if (polled) break; // the poller owns SLEEPING now
    }
    Atomics.store(bell, SLEEPING, 0);
  }
  loopRunning = false;
}

/** Rings the bell `b` of a reader thread if it sleeps. */
function ring(b: Int32Array): void {
  if (Atomics.load(b, SLEEPING) === 0) return;
  const fd = Atomics.load(b, EVENT_FD);
  if (fd >= 0) {
    writeFd(fd, ONE, 8);
    return;
  }
  Atomics.add(b, SEQ, 1);
  Atomics.notify(b, SEQ, 1);
}

/** Bytes of one ring for a worker with `links` links: the rings of a worker stay near 2 MiB. */
export function ringBytes(links: number): number {
  const per = Math.floor((2 << 20) / Math.max(1, links));
  return Math.max(64 << 10, Math.min(512 << 10, per)) & ~3;
}

/** Links over `ports`, one per worker on the other side (their rings sized by `ringBytes`). */
export function openLinks(ports: MessagePort[]): Link[] {
  const size = ringBytes(ports.length);
  return ports.map((p) => new Link(p, size));
}

/**
 * Link `k` of `links` closes and a new one over `port` takes its place, handed to `attach` (the
 * worker on the other side was replaced and its successor sends on a new channel).
 */
export function replaceLink(
  links: Link[],
  k: number,
  port: MessagePort,
  attach: (link: Link, k: number) => void,
): void {
  links[k].close();
  links[k] = new Link(port, ringBytes(links.length));
  attach(links[k], k);
}

interface Ring {
  ctl: Int32Array;
  data: Uint8Array;
  view: DataView;
  size: number;
}

function makeRing(sab: SharedArrayBuffer): Ring {
  const size = sab.byteLength - CONTROL_BYTES;
  return {
    ctl: new Int32Array(sab, 0, CONTROL_BYTES / 4),
    data: new Uint8Array(sab, CONTROL_BYTES, size),
    view: new DataView(sab, CONTROL_BYTES, size),
    size,
  };
}

/**
 * Where a request worker's answers go: a link to a socket worker of this process, or (in a
 * cluster) a stand-in that publishes to a socket worker of another node.
 */
export type Port = Pick<Link, "sendBytes" | "postMessage">;

/** A channel end; set `onmessage` to receive. */
export class Link {
  /** The port under the link (also used for structured-clone messages). */
  readonly port: MessagePort;
  /** Receives byte batches (as views valid only during the call) and port messages. */
  onmessage: ((data: unknown) => void) | null = null;
  /** The ring this end reads, made here and sent to the writer with this thread's bell. */
  #in: Ring;
  #out: Ring | null = null;
  /** The bell of the thread that reads `#out`. */
  #outBell: Int32Array | null = null;
  /** Batches sent before the other end's ring came (copies). */
  #early: Uint8Array<ArrayBuffer>[] = [];
  /** Records waiting for room, in order: copies, with whether a piece follows. */
  #waiting: { b: Uint8Array; more: boolean }[] = [];
  /** The pieces of a batch read so far (kept for the next one: reading reuses it). */
  #joined: ByteBuffer | null = null;
  #joining = false;
  #retry: ReturnType<typeof setTimeout> | null = null;
  #closed = false;

  /** A link over `port` whose incoming ring has `ringSize` bytes of data. */
  constructor(port: MessagePort, ringSize: number) {
    this.port = port;
    const sab = new SharedArrayBuffer(CONTROL_BYTES + (ringSize & ~3));
    this.#in = makeRing(sab);
    port.onmessage = (e: MessageEvent) => {
      const d = e.data;
      if (d !== null && typeof d === "object" && d.ring instanceof SharedArrayBuffer) {
        this.#opened(makeRing(d.ring), new Int32Array(d.bell));
      } else {
        this.onmessage?.(d);
      }
    };
    port.postMessage({ ring: sab, bell: bellBuffer });
    reading.add(this);
    if (!loopRunning && !polled) {
      loopRunning = true;
      readLoop();
    }
  }

  /** The other end's ring came: what was sent before it goes now, in order. */
  #opened(r: Ring, b: Int32Array): void {
    if (this.#closed || this.#out !== null) return;
    this.#out = r;
    this.#outBell = b;
    const early = this.#early;
    this.#early = [];
    for (const batch of early) this.sendBytes(batch, batch.length);
  }

  /** Posts a structured-clone message over the port (and wakes a reader blocked waiting). */
  postMessage(m: unknown, transfer: Transferable[] = []): void {
    this.port.postMessage(m, transfer);
    if (this.#outBell !== null) ring(this.#outBell);
  }

  /** Sends the `len` bytes at the start of `b` as one batch (copied: `b` may be reused). */
  sendBytes(b: Uint8Array<ArrayBuffer>, len: number): void {
    if (this.#closed) return;
    const r = this.#out;
    if (r === null) {
      this.#early.push(b.slice(0, len));
      return;
    }
    const piece = (r.size / 4 - 4) & ~3;
    for (let at = 0; at < len || at === 0; at += piece) {
      const n = Math.min(piece, len - at), more = at + n < len;
      const part = at === 0 && n === len ? b : b.subarray(at, at + n);
      if (this.#waiting.length === 0 && this.#write(r, part, n, more)) continue;
      // Behind the records already waiting, or no room: wait in order with them.
      this.#waiting.push({ b: part.slice(0, n), more });
      this.#drainWaiting(r);
    }
  }

  /** Stops reading and sending (the worker on the other side was replaced). */
  close(): void {
    this.#closed = true;
    this.port.onmessage = null;
    this.#waiting = [];
    this.#early = [];
    reading.delete(this);
    if (this.#retry !== null) clearTimeout(this.#retry);
  }

  /** True when the incoming ring holds records not yet read. */
  get unread(): boolean {
    const ctl = this.#in.ctl;
    return Atomics.load(ctl, HEAD) !== Atomics.load(ctl, TAIL);
  }

  /** Reads what the incoming ring holds (for `readLoop`); false when it held nothing. */
  drainIn(): boolean {
    if (!this.unread) return false;
    this.#drain(this.#in);
    return true;
  }

  /** Writes the waiting batches that fit, in order; retries the rest later. */
  #drainWaiting(r: Ring): void {
    let k = 0;
    const w = this.#waiting;
    while (k < w.length && this.#write(r, w[k].b, w[k].b.length, w[k].more)) k++;
    this.#waiting.splice(0, k);
    if (this.#waiting.length > 0) this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#retry !== null) return;
    this.#retry = setTimeout(() => {
      this.#retry = null;
      if (!this.#closed && this.#out !== null) this.#drainWaiting(this.#out);
    }, RETRY_MS);
  }

  /** Appends one record (a piece, when `more`) if it fits; false if the ring is too full. */
  #write(r: Ring, b: Uint8Array, len: number, more: boolean): boolean {
    const { ctl, size } = r;
    let head = Atomics.load(ctl, HEAD);
    const tail = Atomics.load(ctl, TAIL);
    // Room up to the tail, less a gap that keeps a full ring from looking empty.
    const free = (tail > head ? tail - head : size - head + tail) - 4;
    const need = 4 + ((len + 3) & ~3);
    const toEnd = size - head;
    if (need > toEnd) {
      if (free < toEnd + need) return false;
      r.view.setUint32(head, WRAP, true);
      head = 0;
    } else if (free < need) {
      return false;
    }
    r.view.setUint32(head, more ? (len | MORE) >>> 0 : len, true);
    r.data.set(len === b.length ? b : b.subarray(0, len), head + 4);
    head += need;
    if (head === size) head = 0;
    Atomics.store(ctl, HEAD, head);
    ring(this.#outBell!);
    return true;
  }

  /** Hands each record up to `HEAD` to `onmessage` and moves `TAIL` past it. */
  #drain(r: Ring): void {
    const { ctl, view, data, size } = r;
    const head = Atomics.load(ctl, HEAD);
    let tail = Atomics.load(ctl, TAIL);
    while (tail !== head && !this.#closed) {
      const word = view.getUint32(tail, true);
      if (word === WRAP) {
        tail = 0;
        continue;
      }
      const len = word & ~MORE;
      const bytes = data.subarray(tail + 4, tail + 4 + len);
      if (word & MORE || this.#joining) {
        const j = this.#joined ??= new ByteBuffer(4 * len);
        if (!this.#joining) j.len = 0;
        j.append(bytes);
        this.#joining = (word & MORE) !== 0;
        if (!this.#joining) this.#deliver(j.buf.subarray(0, j.len));
      } else {
        this.#deliver(bytes);
      }
      tail = this.#advance(ctl, tail, len, size);
    }
  }

  /** Moves `TAIL` past the record of `len` bytes at `tail`; returns the new tail. */
  #advance(ctl: Int32Array, tail: number, len: number, size: number): number {
    tail += 4 + ((len + 3) & ~3);
    if (tail === size) tail = 0;
    Atomics.store(ctl, TAIL, tail);
    return tail;
  }

  #deliver(bytes: Uint8Array): void {
    try {
      this.onmessage?.(bytes);
    } catch (err) {
      reportError(err); // as an exception in a port's onmessage is reported
    }
  }
}
