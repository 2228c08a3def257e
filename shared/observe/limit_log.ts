/**
 * Logging refusals at a limit at most once per interval: a flood that hits a limit a million
 * times writes one line per interval, not a million. The counters themselves live where the
 * refusals happen (and feed the statistics); this only watches them, once a second, so the
 * first refusal is logged within a second.
 *
 * @module
 */

import type { Logger } from "../base/log.ts";
import type { MetricsText } from "./prometheus.ts";
import type { Refusals } from "../store/details.ts";

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

/**
 * Watches a worker's refusal counters and logs each one's growth as
 * `limits.KEY = VALUE reached: refused N`, at most once per `intervalMs` per limit. A key
 * that is not a setting (`open_files`: the process's descriptor limit) is described by
 * `others`.
 */
export class LimitLog {
  #last: Refusals;
  #loggedAt = new Map<string, number>();

  /**
   * Watches `refusals()` (the same counters the worker reports in its statistics), with the
   * configured value of each limit in `settings`; logs through `log`.
   */
  constructor(
    log: Logger,
    settings: Record<string, number>,
    refusals: () => Refusals,
    intervalMs = 10_000,
    others: Record<string, string> = {},
  ) {
    this.#last = refusals();
    setInterval(() => {
      const t = performance.now(), now = refusals();
      for (const [limit, n] of Object.entries(now)) {
        const last = this.#last[limit];
        if (n === last || t - (this.#loggedAt.get(limit) ?? -Infinity) < intervalMs) continue;
        const what = others[limit] ?? `limits.${limit} = ${settings[limit]}`;
        log.warn(`${what} reached: refused ${n - last}`);
        this.#last[limit] = n;
        this.#loggedAt.set(limit, t);
      }
    }, 1000);
  }
}
