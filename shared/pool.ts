/**
 * Starting and supervising workers from the main thread: spawn a module worker, wait for its
 * start-up reply, and turn any uncaught error in any worker into a clean, loud exit (never a
 * silently half-working server).
 *
 * @module
 */

import type { Logger } from "./log.ts";

/** A started worker with a name for messages. */
export interface PoolWorker {
  /** E.g. `socket worker 1`. */
  name: string;
  /** The worker. */
  worker: Worker;
}

/** Workers of one server, supervised together. */
export class Pool {
  /** Every started worker. */
  readonly workers: PoolWorker[] = [];
  #log: Logger;
  #stopping = false;
  #collecting: { type: string; replies: unknown[]; expected: number; done: () => void } | null =
    null;
  #queue: Promise<void> = Promise.resolve();

  /** Creates an empty pool that logs failures to `log`. */
  constructor(log: Logger) {
    this.#log = log;
  }

  /**
   * Starts the module at `url` as `name`, posts `init` (transferring `transfer`) and resolves
   * with its first message of type `replyType`. Rejects if the worker fails or is silent for
   * `timeoutMs`.
   */
  start<T>(
    name: string,
    url: URL,
    init: unknown,
    transfer: Transferable[],
    replyType: string,
    timeoutMs = 15000,
  ): Promise<T> {
    const worker = new Worker(url.href, { type: "module", name });
    const pw: PoolWorker = { name, worker };
    this.workers.push(pw);
    return new Promise<T>((resolve, reject) => {
      let started = false;
      const timer = setTimeout(() => {
        if (!started) reject(new Error(`${name} did not start within ${timeoutMs} ms`));
      }, timeoutMs);
      worker.onmessage = (e: MessageEvent) => {
        if (!started && e.data?.type === replyType) {
          started = true;
          clearTimeout(timer);
          resolve(e.data as T);
          return;
        }
        const c = this.#collecting;
        if (c !== null && e.data?.type === c.type) {
          c.replies.push(e.data);
          if (c.replies.length === c.expected) c.done();
        }
      };
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        const reason = `${name} failed: ${e.message}${
          e.filename ? ` (${e.filename}:${e.lineno})` : ""
        }`;
        if (!started) {
          clearTimeout(timer);
          reject(new Error(reason));
        } else {
          this.fail(reason);
        }
      };
      worker.postMessage(init, transfer);
    });
  }

  /**
   * Posts `request` to every worker whose name starts with `prefix` (all by default) and
   * resolves with their replies of type `replyType`: all of them, or those that came within
   * `timeoutMs`. Collections run one at a time, so replies cannot mix.
   */
  collect(request: unknown, replyType: string, prefix = "", timeoutMs = 1000): Promise<unknown[]> {
    const run = () =>
      new Promise<unknown[]>((resolve) => {
        const targets = this.workers.filter((w) => w.name.startsWith(prefix));
        const replies: unknown[] = [];
        const done = () => {
          clearTimeout(timer);
          this.#collecting = null;
          resolve(replies);
        };
        const timer = setTimeout(done, timeoutMs);
        this.#collecting = { type: replyType, replies, expected: targets.length, done };
        for (const { worker } of targets) worker.postMessage(request);
      });
    const result = this.#queue.then(run);
    this.#queue = result.then(() => {}, () => {});
    return result;
  }

  /** Stops everything and exits with status 1, saying why. */
  fail(reason: string): never {
    if (!this.#stopping) this.#log.error(`${reason}; stopping`);
    this.terminate();
    Deno.exit(1);
  }

  /** Stops everything and exits with status 0 on SIGINT or SIGTERM. */
  stopOnSignals(): void {
    const stop = () => {
      this.terminate();
      Deno.exit(0);
    };
    Deno.addSignalListener("SIGINT", stop);
    if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", stop);
  }

  /** Runs `f` on SIGUSR1 (reload the access list, the TLS certificate). */
  onReload(f: () => void): void {
    if (Deno.build.os !== "windows") Deno.addSignalListener("SIGUSR1", f);
  }

  /** Posts `msg` to every worker whose name starts with `prefix`. */
  broadcast(msg: unknown, prefix = ""): void {
    for (const { name, worker } of this.workers) {
      if (name.startsWith(prefix)) worker.postMessage(msg);
    }
  }

  /** Terminates every worker. */
  terminate(): void {
    this.#stopping = true;
    for (const { worker } of this.workers) worker.terminate();
  }
}

/** Parsed `SHOAL_FAULT` (`socket:N` or `request:N`): a worker told to fail, for tests. */
export function faultTarget(): { role: string; index: number } | null {
  let v: string | undefined;
  try {
    v = Deno.env.get("SHOAL_FAULT");
  } catch {
    return null; // no --allow-env: no fault injection
  }
  const m = v ? /^(socket|request):(\d+)$/.exec(v) : null;
  return m ? { role: m[1], index: Number(m[2]) } : null;
}
