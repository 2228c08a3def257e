/**
 * Time in shoal. Ages (peers, connection IDs, idle connections, offers) are measured on one
 * monotonic clock shared by every thread of the process, so a wall-clock step (NTP, an
 * operator's `date -s`) can neither expire every connection ID nor drop every peer at the
 * next cleaning. Only what is written to files or shown to people uses wall time.
 *
 * The process clock is the main thread's `performance.now()`, plus a constant. A worker's own
 * `performance.now()` starts when the worker does, so each worker learns its offset from the
 * main thread's readings, sent with its start-up and with every heartbeat (`syncClock`): a
 * message only ever arrives late, so the largest offset seen is the closest.
 *
 * @module
 */

/**
 * Where the process clock starts: far from zero, so that a time an age before it (a peer
 * loaded from the state file, a cutoff) is still positive and fits the u32 fields times are
 * stored in, for a century after.
 */
const START_MS = 1e12;

let offset = START_MS;
let synced = false;

/** Milliseconds on the process's monotonic clock. */
export function monotonicMs(): number {
  return performance.now() + offset;
}

/** Whole seconds on the process's monotonic clock (`START_MS` / 1000 when it started). */
export function monotonicSeconds(): number {
  return Math.floor((performance.now() + offset) / 1000);
}

/** Seconds since the Unix epoch, on the wall clock: for files and people only. */
export function wallSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * Aligns this worker's clock with the main thread's reading `mainMs` (its `monotonicMs()`
 * when it posted the message). The first reading sets the offset; later ones can only raise
 * it, since each arrives some time after it was taken.
 */
export function syncClock(mainMs: number): void {
  const o = mainMs - performance.now();
  if (!synced || o > offset) offset = o;
  synced = true;
}

/** The wall time (Unix seconds) of monotonic second `mono`, for writing it to a file. */
export function toWallSeconds(mono: number): number {
  return wallSeconds() - (monotonicSeconds() - mono);
}

/** The monotonic second of wall time `wall` (Unix seconds) read from a file. */
export function fromWallSeconds(wall: number): number {
  return monotonicSeconds() - (wallSeconds() - wall);
}
