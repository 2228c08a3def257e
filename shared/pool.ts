/**
 * Starting and supervising workers from the main thread: spawn a module worker, wait for its
 * start-up reply, replace it when it fails (an uncaught error, or silence to the heartbeat),
 * and exit loudly when one keeps failing. Never a silently half-working server.
 *
 * @module
 */

import { monotonicMs } from "./clock.ts";
import type { Logger } from "./log.ts";

/** How to start (and restart) one worker. */
export interface WorkerSpec {
  /** E.g. `socket worker 1`. */
  name: string;
  /** The module. */
  url: URL;
  /** Reply type that says the worker started. */
  replyType: string;
  /** The init message and what it transfers; `restart` is true for a replacement. */
  init(restart: boolean): { init: unknown; transfer: Transferable[] };
  /** Called when the worker has died, before its replacement starts (free what it held). */
  gone?(): void;
  /** Called with the start-up reply of each replacement. */
  restarted?(reply: unknown): void;
}

/** A started worker with a name for messages. */
export interface PoolWorker {
  /** E.g. `socket worker 1`. */
  name: string;
  /** The worker. */
  worker: Worker;
}

/** Failures within `CRASH_WINDOW_MS` after which the pool gives up. */
const CRASH_LIMIT = 5;
const CRASH_WINDOW_MS = 60_000;
/** A worker silent for this many heartbeats is taken for dead. */
const MISSED_BEATS = 3;

/** Workers of one server, supervised together. */
export class Pool {
  /** Every running worker. */
  readonly workers: PoolWorker[] = [];
  #log: Logger;
  #stopping = false;
  #collecting: { type: string; replies: unknown[]; expected: number; done: () => void } | null =
    null;
  #queue: Promise<void> = Promise.resolve();
  #failures: number[] = [];
  #lastSeen = new Map<Worker, number>();
  #fail = new Map<Worker, (reason: string) => void>();

  /** Creates an empty pool that logs failures to `log`. */
  constructor(log: Logger) {
    this.#log = log;
  }

  /**
   * Starts the worker `spec` describes and resolves with its start-up reply. Rejects if it
   * fails or is silent for `timeoutMs` before replying. Once started, a failure replaces it.
   */
  spawn<T>(spec: WorkerSpec, restart = false, timeoutMs = 15000): Promise<T> {
    const { name } = spec;
    const { init, transfer } = spec.init(restart);
    const worker = new Worker(spec.url.href, { type: "module", name });
    const pw: PoolWorker = { name, worker };
    const at = this.workers.findIndex((w) => w.name === name);
    if (at >= 0) this.workers[at] = pw;
    else this.workers.push(pw);
    return new Promise<T>((resolve, reject) => {
      let started = false, failed = false;
      const timer = setTimeout(() => {
        if (!started) reject(new Error(`${name} did not start within ${timeoutMs} ms`));
      }, timeoutMs);
      const fail = (reason: string) => {
        if (failed || this.#stopping) return;
        failed = true;
        if (!started) {
          clearTimeout(timer);
          reject(new Error(reason));
          return;
        }
        this.#replace(spec, pw, reason);
      };
      this.#fail.set(worker, fail);
      worker.onmessage = (e: MessageEvent) => {
        const data = e.data;
        if (started) this.#lastSeen.set(worker, performance.now());
        else if (data?.type === spec.replyType) {
          // From now on the heartbeat watches it (module loading may take a while before).
          started = true;
          this.#lastSeen.set(worker, performance.now());
          clearTimeout(timer);
          resolve(data as T);
          return;
        }
        const c = this.#collecting;
        if (c !== null && data?.type === c.type) {
          c.replies.push(data);
          if (c.replies.length === c.expected) c.done();
        }
      };
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        fail(`${name} failed: ${e.message}${e.filename ? ` (${e.filename}:${e.lineno})` : ""}`);
      };
      // The worker's clock starts with it: align it with the process clock (`clock.ts`).
      worker.postMessage({ type: "clock", ms: monotonicMs() });
      worker.postMessage(init, transfer);
    });
  }

  /** Terminates a failed worker, lets its spec clean up, and starts a replacement. */
  async #replace(spec: WorkerSpec, old: PoolWorker, reason: string): Promise<void> {
    old.worker.terminate();
    this.#lastSeen.delete(old.worker);
    this.#fail.delete(old.worker);
    const now = performance.now();
    this.#failures = this.#failures.filter((t) => now - t < CRASH_WINDOW_MS);
    this.#failures.push(now);
    if (this.#failures.length >= CRASH_LIMIT) {
      this.fail(`${reason}; ${CRASH_LIMIT} worker failures within a minute, giving up`);
    }
    this.#log.error(`${reason}; replacing it`);
    spec.gone?.();
    try {
      const reply = await this.spawn(spec, true);
      spec.restarted?.(reply);
      this.#log.info(`${spec.name} replaced`);
    } catch (err) {
      this.fail(`${spec.name} could not be replaced: ${(err as Error).message}`);
    }
  }

  /**
   * Pings every worker each `intervalMs`; one silent for three beats (a stuck loop) is
   * terminated and replaced like a failed one.
   */
  heartbeat(intervalMs = 1000): void {
    setInterval(() => {
      if (this.#stopping) return; // e.g. request workers busy saving the state file
      const now = performance.now();
      for (const { worker, name } of [...this.workers]) {
        const seen = this.#lastSeen.get(worker);
        if (seen === undefined) continue; // still starting: its start-up timeout applies
        if (now - seen > MISSED_BEATS * intervalMs) {
          this.#fail.get(worker)?.(`${name} stopped responding for ${Math.round(now - seen)} ms`);
        } else {
          worker.postMessage({ type: "ping", ms: monotonicMs() });
        }
      }
    }, intervalMs);
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

  /** Runs `before` (bounded by the caller), then stops and exits 0 on SIGINT or SIGTERM. */
  stopOnSignals(before: () => Promise<void> = async () => {}): void {
    const stop = async () => {
      if (this.#stopping) return;
      this.#stopping = true; // no more replacements or heartbeat verdicts
      try {
        await before();
      } catch (err) {
        this.#log.error(`while stopping: ${(err as Error).message}`);
      }
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

  /** Posts `msg` to the worker called `name`. */
  post(name: string, msg: unknown, transfer: Transferable[] = []): void {
    this.workers.find((w) => w.name === name)?.worker.postMessage(msg, transfer);
  }

  /** Terminates every worker. */
  terminate(): void {
    this.#stopping = true;
    for (const { worker } of this.workers) worker.terminate();
  }
}

/**
 * A worker told to fail, for tests: `SHOAL_FAULT=socket|request:N[:once|always|hang][@MS]`,
 * MS milliseconds after the worker starts (300 by default).
 */
export interface Fault {
  /** `socket` or `request`. */
  role: string;
  /** Worker index. */
  index: number;
  /** Throw once (the replacement is healthy), throw on every start, or hang once. */
  mode: "once" | "always" | "hang";
  /** Delay after start. */
  ms: number;
}

/** Parsed `SHOAL_FAULT`, or null. */
export function faultTarget(): Fault | null {
  let v: string | undefined;
  try {
    v = Deno.env.get("SHOAL_FAULT");
  } catch {
    return null; // no --allow-env: no fault injection
  }
  const m = v ? /^(socket|request):(\d+)(?::(once|always|hang))?(?:@(\d+))?$/.exec(v) : null;
  if (m === null) return null;
  const mode = (m[3] ?? "once") as Fault["mode"];
  return { role: m[1], index: Number(m[2]), mode, ms: Number(m[4] ?? 300) };
}

/** The fault a worker start gets: "" (none), or "throw@MS" / "hang@MS". */
export function faultFor(f: Fault | null, role: string, index: number, restart: boolean): string {
  if (f === null || f.role !== role || f.index !== index) return "";
  if (f.mode === "always") return `throw@${f.ms}`;
  if (restart) return "";
  return `${f.mode === "hang" ? "hang" : "throw"}@${f.ms}`;
}
