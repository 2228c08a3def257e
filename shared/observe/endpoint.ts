/**
 * The observability endpoint on the main thread: Prometheus metrics at `/metrics`, the live
 * statistics page at `/` and `/stats`, and its data at `/stats.json`. Everything comes from
 * the workers on request (`Pool.collect`), so nothing is counted twice. From the moment it is
 * served, a timer also samples the workers into the last hour's history that the page graphs
 * (see `history.ts`), so a page opened later still shows the past hour.
 *
 * @module
 */

import { formatSocketAddress, parseSocketAddress } from "../net/address.ts";
import { OperatorError } from "../base/errors.ts";
import type { Logger } from "../base/log.ts";
import { STATS_PAGE } from "./stats_page.ts";
import { serveSmallHttp } from "../net/small_http.ts";
import { History, type HistorySample } from "./history.ts";

/** What the endpoint serves, provided by the protocol's server. */
export interface ObservabilitySource {
  /** Prometheus text. */
  metrics(): Promise<string>;
  /** The statistics page's data (an object; `history` is added to it). */
  stats(): Promise<object>;
  /** Cumulative counters and current peers by worker, for the history's graphs. */
  sample(): Promise<HistorySample>;
}

/**
 * Samples `sample` into `history` now (the baseline) and then every `history.intervalMs`,
 * one sample at a time: a tick while the last one is still waiting for the workers is
 * skipped, and a failed one is logged at debug level; both leave a gap. Returns the stop.
 */
export function sampleEvery(
  history: History,
  sample: () => Promise<HistorySample>,
  log: Logger,
): () => void {
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      const s = await sample();
      history.add(s, performance.now());
    } catch (err) {
      log.debug(`history sample: ${err instanceof Error ? err.message : err}`);
    } finally {
      busy = false;
    }
  };
  tick();
  const timer = setInterval(tick, history.intervalMs);
  Deno.unrefTimer(timer);
  return () => clearInterval(timer);
}

/**
 * Starts the endpoint on `address` (closing the returned listener stops it); an address in
 * use is an operator error.
 */
export function serveObservability(
  address: string,
  source: ObservabilitySource,
  log: Logger,
): Deno.Listener {
  const a = parseSocketAddress(address);
  if (typeof a === "string") throw new OperatorError(`metrics.prometheus_endpoint_address: ${a}`);
  const history = new History();
  const handler = async (req: Request): Promise<Response> => {
    const path = new URL(req.url).pathname;
    if (req.method !== "GET") return new Response("method not allowed\n", { status: 405 });
    try {
      if (path === "/metrics") {
        return new Response(await source.metrics(), {
          headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
        });
      }
      if (path === "/stats.json") {
        const stats = await source.stats();
        const h = history.toJson(performance.now(), Date.now());
        const json = JSON.stringify({ ...stats, history: h });
        const headers = { "content-type": "application/json", "cache-control": "no-store" };
        // An hour of history is about 20 KB, fetched every two seconds by each open page.
        if (!/\bgzip\b/.test(req.headers.get("accept-encoding") ?? "")) {
          return new Response(json, { headers });
        }
        const body = new Blob([json]).stream().pipeThrough(new CompressionStream("gzip"));
        return new Response(body, {
          headers: { ...headers, "content-encoding": "gzip", vary: "accept-encoding" },
        });
      }
      if (path === "/" || path === "/stats") {
        return new Response(STATS_PAGE, {
          headers: { "content-type": "text/html; charset=utf-8" },
        });
      }
    } catch (err) {
      log.error(`observability endpoint: ${err instanceof Error ? err.message : err}`);
      return new Response("statistics unavailable\n", { status: 503 });
    }
    return new Response("not found\n", { status: 404 });
  };
  let listener: Deno.Listener;
  try {
    listener = Deno.listen({ hostname: a.hostname, port: a.port });
  } catch (err) {
    const why = err instanceof Deno.errors.AddrInUse
      ? "address already in use"
      : (err as Error).message;
    throw new OperatorError(
      `metrics.prometheus_endpoint_address: cannot listen on ${formatSocketAddress(a)}: ${why}`,
    );
  }
  const port = (listener.addr as Deno.NetAddr).port;
  console.log(
    `listening on http://${formatSocketAddress({ hostname: a.hostname, port })} (metrics)`,
  );
  const stop = sampleEvery(history, () => source.sample(), log);
  serveSmallHttp(listener, handler).finally(stop);
  return listener;
}

/** Caches an async value for `ms`, so a busy page cannot make workers walk their swarms often. */
export function cached<T>(ms: number, f: () => Promise<T>): () => Promise<T> {
  let at = -Infinity;
  let value: Promise<T> | null = null;
  return () => {
    const now = performance.now();
    if (value === null || now - at > ms) {
      at = now;
      value = f();
    }
    return value;
  };
}
