/**
 * One wait per socket worker thread for all it serves: the epoll sets of its TCP servers
 * (`tcp_epoll.ts`), its UDP sockets (`udp/io_ffi.ts`) and the rings its request workers answer
 * through (`runtime/link.ts`, handed over with `usePollerHooks`), whose writers ring an eventfd
 * in the same epoll set while this thread sleeps. Each pass polls every server and socket, then
 * reads every ring, so an answer is written and its connection closed in the pass that found it,
 * not after a task through the event loop.
 *
 * When the thread has nothing else to serve (`blockingPolls`: no TLS or Deno listeners, no
 * cluster sockets), an idle pass waits in `epoll_wait` on the thread itself, at most `BLOCK_MS`
 * at a time with a turn of the event loop (timers, control messages) between waits, and after
 * `BLOCK_ROUNDS` empty waits in a row it parks on a helper thread (`epoll_park`) instead, so
 * an idle worker does not wake a thousand times a second. Otherwise it spins a few macrotasks
 * and parks, as each server's loop did before.
 *
 * @module
 */

import { macrotask, Turns } from "../base/yield.ts";
import { BLOCK_MS, BLOCK_ROUNDS, controlTurn, MAX_YIELDS, YIELD_MS } from "../base/waits.ts";
import { EPOLL_DATA_AT, EPOLL_EVENT_SIZE, lib, noteOpen, pinned, readFd } from "./libc.ts";

const EPOLLIN = 0x1, EPOLLOUT = 0x4, EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLL_CTL_MOD = 3;
const EPOLL_CLOEXEC = 0o2000000, EFD_NONBLOCK = 0o4000, EFD_CLOEXEC = 0o2000000;
/** Event data of the eventfd (servers are numbered from 0). */
const BELL = 0xffffffff;
/** Idle macrotasks before parking, when the thread may not block. */
const SPINS = 3;
/** Longest park, so that a closed server is noticed. */
const PARK_MS = 100;
const MAX_EVENTS = 16;

/** What the poller serves: a descriptor (an epoll set, a UDP socket), polled without waiting. */
export interface Polled {
  /** The descriptor the poller waits on to be readable. */
  readonly waitFd: number;
  /** Handles what is ready now, without waiting; how much it handled (0: nothing). */
  poll(): number;
}

/**
 * What the poller needs of the worker around it (`runtime/`): the rings its request workers
 * answer through (`link.ts`), read in each pass once they are handed over (`usePollerHooks`), and
 * whether a control message waits (`mailbox.ts`).
 */
export interface PollerHooks {
  /** True while a control message was posted to this worker and not yet taken. */
  controlPending(): boolean;
  /** True when a ring holds records not yet read. */
  pending(): boolean;
  /** Reads every ring; false when they held nothing. */
  readAll(): boolean;
  /** The poller is about to sleep (writers ring the eventfd from now on), or woke. */
  sleeping(on: boolean): void;
  /** The poller reads the rings from now on; writers ring eventfd `fd`. */
  polled(fd: number): void;
  /** The poller stopped (it serves no more): someone else reads the rings. */
  released(): void;
}

let blocking = false;
let hooks: PollerHooks | null = null;

/**
 * Lets this thread's poller wait on the thread itself (see the module documentation): only
 * for a socket worker whose event loop serves nothing but timers and control messages.
 */
export function blockingPolls(on: boolean): void {
  blocking = on;
}

/** Hands this thread's rings and mailbox to its poller (before its first server listens). */
export function usePollerHooks(r: PollerHooks): void {
  hooks = r;
}

/** The poller of this thread. */
class Poller {
  #ep: number;
  #bell: number;
  #served: (Polled | null)[] = [];
  #count = 0;
  #running = false;
  #events = pinned(MAX_EVENTS * EPOLL_EVENT_SIZE);
  #view = new DataView(this.#events.buffer);
  #ev = pinned(16);
  #evView = new DataView(this.#ev.buffer);
  #drained = pinned(8);

  /**
   * Makes the epoll set and the eventfd (both kept for the thread's life: a ring's writer in
   * another thread may hold the eventfd's number at any time).
   */
  constructor() {
    const c = lib();
    this.#ep = c.epoll_create1(EPOLL_CLOEXEC);
    noteOpen(this.#ep);
    this.#bell = c.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    noteOpen(this.#bell);
    this.#ctl(EPOLL_CTL_ADD, this.#bell, BELL);
  }

  #ctl(op: number, fd: number, data: number, events = EPOLLIN): void {
    this.#evView.setUint32(0, events, true);
    this.#evView.setUint32(EPOLL_DATA_AT, data, true);
    lib().epoll_ctl(this.#ep, op, fd, this.#ev);
  }

  /** Serves `p` from now on. */
  add(p: Polled): void {
    let k = this.#served.indexOf(null);
    if (k < 0) k = this.#served.push(null) - 1;
    this.#served[k] = p;
    this.#count++;
    this.#ctl(EPOLL_CTL_ADD, p.waitFd, k);
    if (!this.#running) {
      this.#running = true;
      hooks?.polled(this.#bell);
      this.#loop().catch((err) => {
        this.#running = false;
        hooks?.released();
        throw err;
      });
    }
  }

  /**
   * Wakes the poller also when `p`'s descriptor can be written (`on`), for a stream whose
   * output waits for room; level-triggered, so turn it off once the output is out.
   */
  watchWrites(p: Polled, on: boolean): void {
    const k = this.#served.indexOf(p);
    if (k >= 0) this.#ctl(EPOLL_CTL_MOD, p.waitFd, k, on ? EPOLLIN | EPOLLOUT : EPOLLIN);
  }

  /** Stops serving `p` (before its epoll set closes). */
  remove(p: Polled): void {
    const k = this.#served.indexOf(p);
    if (k < 0) return;
    this.#ctl(EPOLL_CTL_DEL, p.waitFd, k);
    this.#served[k] = null;
    this.#count--;
  }

  /** Polls every server and reads every ring once; how much it found. */
  #pass(): number {
    let n = 0;
    for (const p of this.#served) if (p !== null) n += p.poll();
    if (hooks?.readAll()) n++;
    return n;
  }

  async #loop(): Promise<void> {
    const c = lib();
    const turns = new Turns(YIELD_MS);
    let idle = 0, yields = 0;
    while (this.#count > 0) {
      // A control message posted before what waits now (a new key, an access list) is
      // applied first, as when every wake-up went through the event loop.
      if (hooks?.controlPending() && yields++ < MAX_YIELDS) {
        await controlTurn();
        continue;
      }
      yields = 0;
      if (this.#pass() > 0) {
        idle = 0;
        // The batches this pass made are flushed in a microtask; timers and messages get a
        // macrotask at least every YIELD_MS.
        await turns.next();
        continue;
      }
      if (!blocking && ++idle < SPINS) {
        await macrotask();
        continue;
      }
      // Asleep from here: a ring's writer writes the eventfd. Look once more first.
      hooks?.sleeping(true);
      if (hooks?.pending()) {
        hooks.sleeping(false);
        continue;
      }
      let n: number;
      if (blocking && idle < BLOCK_ROUNDS) {
        n = c.epoll_wait(this.#ep, this.#events, MAX_EVENTS, BLOCK_MS);
        hooks?.sleeping(false);
        if (n <= 0) {
          idle++;
          await macrotask(); // the event loop's turn: timers, control messages
          continue;
        }
      } else {
        n = await c.epoll_park(this.#ep, this.#events, MAX_EVENTS, PARK_MS);
        hooks?.sleeping(false);
      }
      if (n > 0) idle = 0;
      for (let i = 0; i < n; i++) {
        if (this.#view.getUint32(i * EPOLL_EVENT_SIZE + EPOLL_DATA_AT, true) === BELL) {
          readFd(this.#bell, this.#drained, 8); // resets the eventfd
        }
      }
    }
    this.#running = false;
    hooks?.released();
  }
}

let poller: Poller | null = null;

/** This thread's poller, made on first use (it then reads the thread's rings). */
export function threadPoller(): Poller {
  return poller ??= new Poller();
}
