/**
 * Logging refusals at a limit at most once per interval: a flood that hits a limit a million
 * times writes one line per interval, not a million. The counters themselves live where the
 * refusals happen (and feed the statistics); this only watches them, once a second, so the
 * first refusal is logged within a second.
 *
 * @module
 */

import type { Logger } from "./log.ts";

/** Watches refusal counters and logs their growth, at most once per `intervalMs` each. */
export class LimitLog {
  #watched: { limit: string; count: () => number; last: number; loggedAt: number }[] = [];

  /** Logs through `log`. */
  constructor(log: Logger, intervalMs = 10_000) {
    setInterval(() => {
      const t = performance.now();
      for (const w of this.#watched) {
        const n = w.count();
        if (n === w.last || t - w.loggedAt < intervalMs) continue;
        log.warn(`${w.limit} reached: refused ${n - w.last}`);
        w.last = n;
        w.loggedAt = t;
      }
    }, 1000);
  }

  /** Watches `count`, the refusals because of `limit` (e.g. `limits.max_torrents = 1000`). */
  watch(limit: string, count: () => number): void {
    this.#watched.push({ limit, count, last: count(), loggedAt: -Infinity });
  }
}
