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
