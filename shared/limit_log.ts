/**
 * Logging refusals at a limit at most once per interval: a flood that hits a limit a million
 * times writes one line per interval, not a million. The counters themselves live where the
 * refusals happen (and feed the statistics); this only watches them, once a second, so the
 * first refusal is logged within a second.
 *
 * @module
 */

import type { Logger } from "./log.ts";
import type { MetricsText } from "./prometheus.ts";

/** Refusals so far by limit key (e.g. `max_torrents`), as workers report them. */
export type Refusals = Record<string, number>;

/** Adds `shoal_limit_refusals_total{limit, worker}` for one worker's `refused`. */
export function refusalMetrics(m: MetricsText, refused: Refusals, worker: number): void {
  for (const [limit, n] of Object.entries(refused)) {
    m.counter(
      "shoal_limit_refusals_total",
      "Announces and connections refused at a [limits] setting, by limit.",
      n,
      { limit, worker },
    );
  }
}

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
