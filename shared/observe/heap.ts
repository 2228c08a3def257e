/**
 * Each thread's JavaScript memory, for the metrics: V8 heap in use and external memory
 * (ArrayBuffers: batches, the peer arenas). Started with `--v8-flags=--expose-gc`, a thread
 * collects garbage before it measures, so the figures are live data, not collection timing:
 * the soak test tells a leak from heap growth this way.
 *
 * @module
 */

import { MetricsText } from "./prometheus.ts";

/** One thread's memory. */
export interface HeapReport {
  /** Discriminator. */
  type: "heap";
  /** `main`, or the worker's name (`socket worker 0`). */
  name: string;
  /** V8 heap in use, bytes. */
  used: number;
  /** V8 heap reserved, bytes. */
  total: number;
  /** External memory (ArrayBuffers), bytes. */
  external: number;
  /** True when garbage was collected just before. */
  collected: boolean;
}

/** Measures the calling thread (collecting garbage first where `gc` is exposed). */
export function heapReport(name: string): HeapReport {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc === "function") gc();
  const m = Deno.memoryUsage();
  return {
    type: "heap",
    name,
    used: m.heapUsed,
    total: m.heapTotal,
    external: m.external,
    collected: typeof gc === "function",
  };
}

/** `shoal_heap_bytes{thread, kind}` of each report. */
export function heapMetrics(reports: HeapReport[]): string {
  const m = new MetricsText();
  const help =
    "JavaScript memory of each thread: V8 heap in use (heap) and reserved (heap_total), and external memory (ArrayBuffers).";
  for (const r of reports) {
    m.gauge("shoal_heap_bytes", help, r.used, { thread: r.name, kind: "heap" });
    m.gauge("shoal_heap_bytes", help, r.total, { thread: r.name, kind: "heap_total" });
    m.gauge("shoal_heap_bytes", help, r.external, { thread: r.name, kind: "external" });
  }
  return m.toString();
}
