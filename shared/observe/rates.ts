/**
 * Per-second rates from successive samples of cumulative counters, on the monotonic clock.
 *
 * @module
 */

/** Per-second rates from successive samples of cumulative counters. */
export class Rates {
  #last = new Map<string, number>();
  #at = 0;
  #rates = new Map<string, number>();

  /** Records `counters` (name → cumulative value) and returns rates since the last sample. */
  update(counters: Record<string, number>): Record<string, number> {
    const now = performance.now();
    const dt = (now - this.#at) / 1000;
    // Samples closer than half a second apart would give noisy rates: keep the last ones.
    if (this.#at !== 0 && dt < 0.5) return Object.fromEntries(this.#rates);
    for (const [k, v] of Object.entries(counters)) {
      const before = this.#last.get(k);
      this.#rates.set(
        k,
        before === undefined || this.#at === 0 ? 0 : Math.max(0, (v - before) / dt),
      );
      this.#last.set(k, v);
    }
    this.#at = now;
    return Object.fromEntries(this.#rates);
  }
}
