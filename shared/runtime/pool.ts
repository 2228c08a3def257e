/**
 * Starting and supervising workers from the main thread: spawn a module worker, wait for its
 * start-up reply, replace it when it fails (an uncaught error, or silence to the heartbeat),
 * and exit loudly when one keeps failing; never a silently half-working server. Collections
 * (statistics, swarm details, state saves, heap reports) carry an id and are keyed by
 * (id, worker): they may overlap, and a reply that comes after its collection ended is dropped.
 *
 * @module
 */

import { monotonicMs } from "../base/clock.ts";
import type { Logger } from "../base/log.ts";
import type { SwarmDetails } from "../store/details.ts";
import type { HeapReport } from "../observe/heap.ts";
import type { Collect, FromWorker, Reply, ToWorker } from "./control.ts";
import { Mailbox } from "./mailbox.ts";

/**
 * What the pool needs of a worker: a `Worker`, or one role of a thread several workers share
 * (`shared_thread.ts`).
 */
export interface WorkerLike {
  /** Posts a control message to it. */
  postMessage(msg: unknown, transfer?: Transferable[]): void;
  /** Stops it. */
  terminate(): void;
  /** Its messages. */
  onmessage: ((e: MessageEvent) => void) | null;
  /** Its uncaught errors. */
  onerror: ((e: ErrorEvent) => void) | null;
}

/** How to start (and restart) one worker: `I` is its start-up data, `R` its start-up reply. */
export interface WorkerSpec<I, R> {
  /** E.g. `socket worker 1`. */
  name: string;
  /** The module. */
  url: URL;
  /** The start-up data and what it transfers; `restart` is true for a replacement. */
  init(restart: boolean): { init: I; transfer: Transferable[] };
  /** "", or the fault to inject (tests). */
  fault(restart: boolean): string;
  /** Called when the worker has died, before its replacement starts (free what it held). */
  gone?(): void;
  /** Called with the start-up reply of each replacement; throws if it cannot serve. */
  restarted?(reply: R): void;
  /** Makes the worker (default: a module `Worker` of `url` called `name`). */
  create?(): WorkerLike;
}

/** A started worker with a name for messages. */
export interface PoolWorker {
  /** E.g. `socket worker 1`. */
  name: string;
  /** The worker. */
  worker: WorkerLike;
}

/** Failures within `CRASH_WINDOW_MS` after which the pool gives up. */
const CRASH_LIMIT = 5;
const CRASH_WINDOW_MS = 60_000;
/** A worker silent for this many heartbeats is taken for dead. */
const MISSED_BEATS = 3;

interface Collection<S> {
  expected: Set<WorkerLike>;
  got: Map<WorkerLike, Reply<S>>;
  finish(): void;
}

/** Workers of one tracker, supervised together; `S` is what their statistics look like. */
export class Pool<S> {
  /** Every running worker. */
  readonly workers: PoolWorker[] = [];
  #log: Logger;
  #stopping = false;
  #nextId = 1;
  #collections = new Map<number, Collection<S>>();
  #failures: number[] = [];
  #lastSeen = new Map<WorkerLike, number>();
  #fail = new Map<WorkerLike, (reason: string) => void>();
  /** Each worker's count of control messages posted (`mailbox.ts`). */
  #mailboxes = new Map<WorkerLike, Mailbox>();
  #accounting: (body: Uint8Array) => void = () => {};
  #drains: (() => void) | null = null;

  /** Creates an empty pool that logs failures to `log`. */
  constructor(log: Logger) {
    this.#log = log;
  }

  /**
   * Starts the worker `spec` describes and resolves with its start-up reply. Rejects if it
   * fails or is silent for `timeoutMs` before replying. Once started, a failure replaces it.
   */
  spawn<I, R>(spec: WorkerSpec<I, R>, restart = false, timeoutMs = 15000): Promise<R> {
    const { name } = spec;
    const { init, transfer } = spec.init(restart);
    const worker = spec.create?.() ?? new Worker(spec.url.href, { type: "module", name });
    const pw: PoolWorker = { name, worker };
    const at = this.workers.findIndex((w) => w.name === name);
    if (at >= 0) this.workers[at] = pw;
    else this.workers.push(pw);
    return new Promise<R>((resolve, reject) => {
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
      worker.onmessage = (e: MessageEvent<FromWorker<S, R>>) => {
        const msg = e.data;
        this.#lastSeen.set(worker, performance.now());
        switch (msg.type) {
          case "started":
            // From now on the heartbeat watches it (module loading may take a while before).
            started = true;
            clearTimeout(timer);
            resolve(msg.reply);
            break;
          case "reply":
            this.#reply(worker, msg);
            break;
          case "pong":
            break;
          case "accounting":
            this.#accounting(msg.body);
            if (msg.last) this.#drains?.();
            break;
        }
      };
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        fail(`${name} failed: ${e.message}${e.filename ? ` (${e.filename}:${e.lineno})` : ""}`);
      };
      // The worker's clock starts with it: align it with the process clock (`base/clock.ts`).
      this.#send(worker, { type: "clock", ms: monotonicMs() });
      this.#send(worker, { type: "init", init, fault: spec.fault(restart) }, transfer);
    });
  }

  #send<I>(worker: WorkerLike, msg: ToWorker<I>, transfer: Transferable[] = []): void {
    let box = this.#mailboxes.get(worker);
    if (box === undefined) {
      this.#mailboxes.set(worker, box = new Mailbox());
      worker.postMessage({ type: "mailbox", buffer: box.buffer });
    }
    box.posted();
    worker.postMessage(msg, transfer);
  }

  /** Terminates a failed worker, lets its spec clean up, and starts a replacement. */
  async #replace<I, R>(spec: WorkerSpec<I, R>, old: PoolWorker, reason: string): Promise<void> {
    old.worker.terminate();
    this.#lastSeen.delete(old.worker);
    this.#mailboxes.delete(old.worker);
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
    let last = performance.now();
    setInterval(() => {
      if (this.#stopping) return; // e.g. request workers busy saving the state file
      const now = performance.now();
      // This thread was busy (a long synchronous database write, say): the workers' pongs may
      // still wait in its queue, so their silence says nothing yet. Give every one a fresh start.
      const late = now - last > 2 * intervalMs;
      last = now;
      for (const { worker, name } of [...this.workers]) {
        const seen = this.#lastSeen.get(worker);
        if (seen === undefined) continue; // still starting: its start-up timeout applies
        if (late) this.#lastSeen.set(worker, now);
        if (!late && now - seen > MISSED_BEATS * intervalMs) {
          this.#fail.get(worker)?.(`${name} stopped responding for ${Math.round(now - seen)} ms`);
        } else {
          this.#send(worker, { type: "ping", ms: monotonicMs() });
        }
      }
    }, intervalMs);
  }

  #reply(worker: WorkerLike, msg: Reply<S>): void {
    const c = this.#collections.get(msg.id);
    // A late reply (its collection ended), or one from a worker not asked: dropped.
    if (c === undefined || !c.expected.has(worker) || c.got.has(worker)) return;
    c.got.set(worker, msg);
    if (c.got.size === c.expected.size) c.finish();
  }

  /**
   * Asks every worker whose name starts with `prefix` for `what` and resolves with the
   * replies that came within `timeoutMs`, one per worker at most.
   */
  collect(what: Collect, prefix = "", timeoutMs = 1000, arg?: Uint8Array): Promise<Reply<S>[]> {
    const id = this.#nextId++;
    const targets = this.workers.filter((w) => w.name.startsWith(prefix));
    return new Promise((resolve) => {
      const c: Collection<S> = {
        expected: new Set(targets.map((t) => t.worker)),
        got: new Map(),
        finish: () => {
          clearTimeout(timer);
          this.#collections.delete(id);
          resolve([...c.got.values()]);
        },
      };
      const timer = setTimeout(c.finish, timeoutMs);
      this.#collections.set(id, c);
      if (targets.length === 0) return c.finish();
      for (const t of targets) this.#send(t.worker, { type: "collect", id, what, arg });
    });
  }

  /** Every worker's statistics (those that answer within a second). */
  async stats(): Promise<S[]> {
    const out: S[] = [];
    for (const r of await this.collect("stats")) if (r.what === "stats") out.push(r.body);
    return out;
  }

  /** The swarm details of every request worker. */
  async details(): Promise<SwarmDetails[]> {
    const out: SwarmDetails[] = [];
    for (const r of await this.collect("details", "request")) {
      if (r.what === "details") out.push(r.body);
    }
    return out;
  }

  /** Every request worker's swarms as state entries, or null if one did not answer in time. */
  async saves(timeoutMs: number): Promise<Uint8Array[] | null> {
    const expected = this.workers.filter((w) => w.name.startsWith("request")).length;
    const out: Uint8Array[] = [];
    for (const r of await this.collect("save", "request", timeoutMs)) {
      if (r.what === "save") out.push(r.body);
    }
    return out.length === expected ? out : null;
  }

  /**
   * Every request worker's swarms of the cluster shards `arg` marks (`handOffArg`), taken out
   * of them (a handoff), or null if one did not answer in time.
   */
  async handOff(arg: Uint8Array, timeoutMs: number): Promise<Uint8Array[] | null> {
    const expected = this.workers.filter((w) => w.name.startsWith("request")).length;
    const out: Uint8Array[] = [];
    for (const r of await this.collect("handoff", "request", timeoutMs, arg)) {
      if (r.what === "handoff") out.push(r.body);
    }
    return out.length === expected ? out : null;
  }

  /** The seeders, leechers and completed count of the torrent `infoHash` (20 bytes). */
  async torrent(infoHash: Uint8Array): Promise<[number, number, number]> {
    const sum: [number, number, number] = [0, 0, 0];
    for (const r of await this.collect("torrent", "request", 1000, infoHash)) {
      if (r.what !== "torrent") continue;
      sum[0] += r.body[0];
      sum[1] += r.body[1];
      sum[2] = Math.max(sum[2], r.body[2]); // only its owner has it
    }
    return sum;
  }

  /** Every worker's heap report. */
  async heaps(): Promise<HeapReport[]> {
    const out: HeapReport[] = [];
    for (const r of await this.collect("heap")) if (r.what === "heap") out.push(r.body);
    return out;
  }

  /** Hands every accounting batch a request worker posts to `f` (private trackers). */
  onAccounting(f: (body: Uint8Array) => void): void {
    this.#accounting = f;
  }

  /**
   * Asks every request worker for its accounting now; resolves true once each has sent it
   * (through `onAccounting`), false after `timeoutMs`.
   */
  drainAccounting(timeoutMs: number): Promise<boolean> {
    let left = this.workers.filter((w) => w.name.startsWith("request")).length;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#drains = null;
        resolve(false);
      }, timeoutMs);
      this.#drains = () => {
        if (--left > 0) return;
        clearTimeout(timer);
        this.#drains = null;
        resolve(true);
      };
      if (left === 0) return this.#drains();
      this.broadcast({ type: "drain" }, "request");
    });
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
  broadcast(msg: ToWorker<never>, prefix = ""): void {
    for (const { name, worker } of this.workers) {
      if (name.startsWith(prefix)) this.#send(worker, msg);
    }
  }

  /** Posts `msg` to the worker called `name`. */
  post(name: string, msg: ToWorker<never>, transfer: Transferable[] = []): void {
    const w = this.workers.find((w) => w.name === name);
    if (w !== undefined) this.#send(w.worker, msg, transfer);
  }

  /** Terminates every worker. */
  terminate(): void {
    this.#stopping = true;
    for (const { worker } of this.workers) worker.terminate();
  }
}
