/**
 * The last hour of the statistics page's graphs: a fixed ring of samples (time, requests/s,
 * responses/s, peers) kept on the main thread. Pure: the caller supplies the clock readings.
 *
 * One sample every 5 s, 720 of them: an hour at about one point per pixel of a desktop-wide
 * graph (so nothing the eye could see is lost, and nothing is wasted), a new point often enough
 * for the graph to move between the page's two-second refreshes, 23 KB of ring, and one
 * statistics round trip to the workers per 5 s (an open page already costs one per 2 s).
 *
 * Counters come per worker, because a sum cannot tell a replaced worker (its counters restart
 * at 0) or a worker that missed one collection from a drop in traffic: either would make the
 * sum fall and then jump back, a negative rate and then a spike of the whole count.
 *
 * @module
 */

/** Seconds between samples. */
export const HISTORY_INTERVAL_S = 5;
/** Samples kept: one hour. */
export const HISTORY_POINTS = 3600 / HISTORY_INTERVAL_S;

/** Counter values, or peers, by worker index. */
export type PerWorker = Readonly<Record<number, number>>;

/** One reading of the workers, as `ObservabilitySource.sample` returns it. */
export interface HistorySample {
  /** Requests received so far, by socket worker (cumulative; 0 again after a replacement). */
  requests: PerWorker;
  /** Responses sent so far, by socket worker (cumulative; 0 again after a replacement). */
  responses: PerWorker;
  /** Peers held now, by request worker. */
  peers: PerWorker;
}

/** The history as `/stats.json` carries it. */
export interface HistoryJson {
  /** Seconds between samples. */
  interval: number;
  /** The server's wall clock when this was made, in Unix seconds (the graphs' right edge). */
  now: number;
  /** Oldest first: [Unix seconds, requests/s, responses/s, peers]; null where unknown. */
  points: [number, number | null, number | null, number][];
}

interface Last {
  value: number;
  at: number;
  rate: number;
}

/** Per-second rates of one family of per-worker counters. */
class CounterRates {
  #last = new Map<number, Last>();

  /**
   * The summed rate at `at` (monotonic ms), or NaN before any worker has two readings. A
   * counter below its last value restarted at 0 (a replacement), so its whole value is new;
   * a worker missing from `values` counts at its last rate for up to `stale` ms.
   */
  update(values: PerWorker, at: number, stale: number): number {
    let sum = 0, known = false;
    for (const [k, v] of Object.entries(values)) {
      const w = Number(k), last = this.#last.get(w);
      let rate = NaN;
      if (last !== undefined && at > last.at) {
        rate = (v >= last.value ? v - last.value : v) / ((at - last.at) / 1000);
      }
      this.#last.set(w, { value: v, at, rate });
      if (!Number.isNaN(rate)) {
        sum += rate;
        known = true;
      }
    }
    for (const [w, last] of this.#last) {
      if (w in values) continue;
      if (at - last.at > stale) this.#last.delete(w);
      else if (!Number.isNaN(last.rate)) {
        sum += last.rate;
        known = true;
      }
    }
    return known ? sum : NaN;
  }
}

/** A fixed ring of samples; adding never allocates once it is full. */
export class History {
  readonly capacity: number;
  readonly intervalMs: number;
  #ring: Float64Array; // [monotonic ms, requests/s, responses/s, peers] × capacity
  #next = 0;
  #length = 0;
  #requests = new CounterRates();
  #responses = new CounterRates();
  #peers = new Map<number, { value: number; at: number }>();
  #started = false;

  constructor(capacity = HISTORY_POINTS, intervalMs = HISTORY_INTERVAL_S * 1000) {
    this.capacity = capacity;
    this.intervalMs = intervalMs;
    this.#ring = new Float64Array(4 * capacity);
  }

  /** Points held. */
  get length(): number {
    return this.#length;
  }

  /**
   * Records `sample`, read at `at` (monotonic ms, e.g. `performance.now()`). The first one
   * only sets the counters' baseline; a sample with no socket worker in it (every worker
   * silent) adds nothing, which the page shows as a gap.
   */
  add(sample: HistorySample, at: number): void {
    // A worker silent for three samples no longer counts at its last value.
    const stale = 3 * this.intervalMs;
    const requests = this.#requests.update(sample.requests, at, stale);
    const responses = this.#responses.update(sample.responses, at, stale);
    for (const [k, v] of Object.entries(sample.peers)) this.#peers.set(Number(k), { value: v, at });
    let peers = 0;
    for (const [w, p] of this.#peers) {
      if (at - p.at > stale) this.#peers.delete(w);
      else peers += p.value;
    }
    const first = !this.#started;
    this.#started = true;
    if (first || Object.keys(sample.requests).length === 0) return;
    const i = 4 * this.#next;
    this.#ring[i] = at;
    this.#ring[i + 1] = requests;
    this.#ring[i + 2] = responses;
    this.#ring[i + 3] = peers;
    this.#next = (this.#next + 1) % this.capacity;
    this.#length = Math.min(this.#length + 1, this.capacity);
  }

  /**
   * The points, oldest first, timed by the wall clock: `wall` (ms since the epoch) read at
   * monotonic `now`, so a wall-clock step never reorders them.
   */
  toJson(now: number, wall: number): HistoryJson {
    const points: HistoryJson["points"] = [];
    const start = (this.#next - this.#length + this.capacity) % this.capacity;
    for (let n = 0; n < this.#length; n++) {
      const i = 4 * ((start + n) % this.capacity);
      const r = this.#ring;
      points.push([
        Math.round((wall - (now - r[i])) / 1000),
        rounded(r[i + 1]),
        rounded(r[i + 2]),
        r[i + 3],
      ]);
    }
    return { interval: this.intervalMs / 1000, now: Math.round(wall) / 1000, points };
  }
}

/** Four significant digits (far finer than a graph shows), or null for unknown. */
function rounded(x: number): number | null {
  return Number.isNaN(x) ? null : Number(x.toPrecision(4));
}
