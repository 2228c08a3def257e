/**
 * Control messages before requests: the main thread counts each message it posts to a worker
 * in shared memory (`POSTED`), and the worker counts each one it takes (`TAKEN`). A worker that
 * waits for its batches outside the event loop (the socket poller, a request worker's blocking
 * wait) looks at both before it serves: while a message is posted and not taken, it gives the
 * event loop a turn first. So a key the admin API added, or an access list just reloaded,
 * applies to every request that reaches a worker after the message was posted, as it did when
 * every wake-up went through the event loop.
 *
 * @module
 */

const POSTED = 0, TAKEN = 1;

/** The main thread's side for one worker: counts what it posts. */
export class Mailbox {
  /** The shared counters, sent to the worker in its first message. */
  readonly buffer = new SharedArrayBuffer(8);
  #counts = new Int32Array(this.buffer);

  /** One more message is about to be posted. */
  posted(): void {
    Atomics.add(this.#counts, POSTED, 1);
  }
}

let counts: Int32Array | null = null;

/** In the worker: the counters the main thread sent. */
export function useMailbox(buffer: SharedArrayBuffer): void {
  counts = new Int32Array(buffer);
}

/** In the worker: a message is being taken (counted before it is handled, which cannot fail). */
export function taken(): void {
  if (counts !== null) Atomics.add(counts, TAKEN, 1);
}

/** In the worker: true while a message was posted and not yet taken. */
export function controlPending(): boolean {
  return counts !== null && Atomics.load(counts, POSTED) !== Atomics.load(counts, TAKEN);
}
