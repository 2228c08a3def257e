/**
 * How the threads that wait outside the event loop (a socket worker's poller,
 * `net/poller.ts`; a request worker's blocking reader, `runtime/link.ts`) share the thread
 * with the event loop: the same bounds for both.
 *
 * @module
 */

/** A busy loop gives the event loop (timers, messages) a turn at least this often, in ms. */
export const YIELD_MS = 0.5;
/** Longest blocking wait, in ms: timers and port messages wait at most this. */
export const BLOCK_MS = 1;
/** Empty blocking waits in a row before the loop sleeps on the event loop instead. */
export const BLOCK_ROUNDS = 50;
/** Turns given in a row to a control message posted and not yet taken (`mailbox.ts`). */
export const MAX_YIELDS = 64;

/**
 * The event loop's turn for a control message that was posted and not yet taken: a timer, not
 * a macrotask through a `MessageChannel`, which the event loop can take again and again before
 * a worker's message from the main thread comes in (measured: 64 of them, ~0.5 ms, and the
 * message came 6 ms later).
 */
export function controlTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1));
}
