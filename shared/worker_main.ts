/**
 * The worker side of `pool.ts`: the message loop every worker runs. It starts the worker on
 * `init`, answers the main thread's heartbeat (aligning the worker's clock with the main
 * thread's, `clock.ts`), and hands every other control message to the
 * worker's own handler.
 *
 * @module
 */

import { syncClock } from "./clock.ts";
import { heapReport } from "./heap.ts";

/** The part of every worker's init message this loop reads. */
export interface BaseInit {
  /** Discriminator. */
  type: "init";
  /** "" normally; "throw@MS" or "hang@MS" to misbehave MS ms after start (tests). */
  fault: string;
}

/** A control message from the main thread. */
export interface Control {
  /** Discriminator. */
  type: string;
}

interface WorkerScope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(msg: unknown): void;
}

/**
 * Runs the worker: `start(init)` once on the init message; its result receives every later
 * control message except the heartbeat, which is answered here.
 */
export function serveWorker<I extends BaseInit>(start: (init: I) => (msg: Control) => void): void {
  const scope = globalThis as unknown as WorkerScope;
  let control: ((msg: Control) => void) | null = null;
  scope.onmessage = (e: MessageEvent) => {
    const data = e.data as Control;
    if (data?.type === "clock" || data?.type === "ping") {
      syncClock((data as unknown as { ms: number }).ms);
      if (data.type === "ping") scope.postMessage({ type: "pong" });
    } else if (data?.type === "heap?") {
      scope.postMessage(heapReport((globalThis as { name?: string }).name ?? "worker"));
    } else if (data?.type === "init") {
      control = start(data as I);
      injectFault((data as I).fault);
    } else {
      control?.(data);
    }
  };
}

/** Makes the calling worker misbehave as `fault` says (fault injection for tests). */
function injectFault(fault: string): void {
  const [kind, ms] = fault.split("@");
  if (kind === "throw") {
    setTimeout(() => {
      throw new Error("injected fault (SHOAL_FAULT)");
    }, Number(ms));
  } else if (kind === "hang") {
    setTimeout(() => {
      for (;;) { /* a stuck worker, for the heartbeat to find */ }
    }, Number(ms));
  }
}

/** Replaces the channel to peer worker `index` (the main thread restarted that worker). */
export interface PortUpdate {
  /** Discriminator. */
  type: "port";
  /** Index of the restarted worker on the other side. */
  index: number;
  /** The new channel end. */
  port: MessagePort;
}
