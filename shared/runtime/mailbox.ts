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

/** The counters of each worker this thread holds (one, or several sharing the thread). */
const boxes: Int32Array[] = [];

/** In the worker: the counters the main thread sent; returns their number for `taken`. */
export function useMailbox(buffer: SharedArrayBuffer): number {
  return boxes.push(new Int32Array(buffer)) - 1;
}

/**
 * In the worker: a message to the worker of mailbox `box` is being taken (counted before it is
 * handled, which cannot fail).
 */
export function taken(box: number): void {
  if (box >= 0) Atomics.add(boxes[box], TAKEN, 1);
}

/** In the worker: true while a message was posted to one of this thread's workers and not yet taken. */
export function controlPending(): boolean {
  for (const c of boxes) if (Atomics.load(c, POSTED) !== Atomics.load(c, TAKEN)) return true;
  return false;
}
