/**
 * Yielding to the event loop for one macrotask. `setTimeout(0)` is clamped to 4 ms once
 * nested (measured ~2 ms per yield here); a `MessageChannel` round trip takes ~7 µs.
 *
 * @module
 */

let channel: MessageChannel | null = null;
const waiting: (() => void)[] = [];

/**
 * A function that runs `fn` once after the current turn's synchronous work, however often it
 * is called before then (in a microtask: a macrotask would cost a message round trip a turn).
 * Socket workers flush the batches a read produced with it.
 */
export function onceAfterTurn(fn: () => void): () => void {
  let scheduled = false;
  const run = () => {
    scheduled = false;
    fn();
  };
  return () => {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(run);
  };
}

/**
 * For loops that run busy: `await turns.next()` runs the pending microtasks each time, and gives
 * the event loop a macrotask turn (timers, messages) once `ms` have passed since the last one, as
 * a macrotask per pass costs a message.
 */
export class Turns {
  #ms: number;
  #last = performance.now();

  /** Macrotask turns at most every `ms` milliseconds. */
  constructor(ms: number) {
    this.#ms = ms;
  }

  /** A macrotask when one is due, else null (awaiting null runs the microtasks only). */
  next(): Promise<void> | null {
    const now = performance.now();
    if (now - this.#last < this.#ms) return null;
    this.#last = now;
    return macrotask();
  }
}

/** Resolves after other pending tasks (timers, messages from other workers) have had a turn. */
export function macrotask(): Promise<void> {
  if (channel === null) {
    channel = new MessageChannel();
    channel.port2.onmessage = () => waiting.shift()?.();
  }
  return new Promise((resolve) => {
    waiting.push(resolve);
    channel!.port1.postMessage(0);
  });
}
