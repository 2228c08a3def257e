/**
 * One thread for the socket worker and the request worker (`single_thread`): the
 * request's hop between threads, and the wake-ups it costs on both sides, are gone; one core
 * does all the work. The pool still sees two workers (`WorkerLike`), each a role of the one
 * thread: the thread starts with the first role's module and imports the second's
 * (`worker.ts`), and each message names its role, both ways. The two ends of their channel
 * then live in one thread, whose poller reads both rings in the same pass.
 *
 * When the thread fails, both roles fail with it, and the pool replaces each: the first
 * replacement starts a new thread, the second joins it.
 *
 * @module
 */

import type { WorkerLike } from "./pool.ts";

/** One real thread and the roles in it. */
interface Thread {
  worker: Worker;
  roles: Map<string, Role>;
  dead: boolean;
}

/** One role of a shared thread, as the pool sees a worker. */
class Role implements WorkerLike {
  onmessage: ((e: MessageEvent) => void) | null = null;
  onerror: ((e: ErrorEvent) => void) | null = null;
  #name: string;
  #thread: Thread;

  constructor(name: string, thread: Thread) {
    this.#name = name;
    this.#thread = thread;
  }

  postMessage(msg: unknown, transfer: Transferable[] = []): void {
    if (this.#thread.dead) return; // a dead thread's role: what it was sent is moot
    this.#thread.worker.postMessage({ ...msg as object, role: this.#name }, transfer);
  }

  terminate(): void {
    this.#thread.dead = true;
    this.#thread.worker.terminate();
  }
}

/** Makes the roles of one shared thread, and a new thread once the last one died. */
export class SharedThread {
  #thread: Thread | null = null;

  /** The worker called `name` running module `url`, in the current thread (started if none). */
  role(name: string, url: URL): WorkerLike {
    let t = this.#thread;
    if (t === null || t.dead) {
      const worker = new Worker(url.href, { type: "module", name });
      const thread: Thread = t = this.#thread = { worker, roles: new Map(), dead: false };
      worker.onmessage = (e: MessageEvent) => {
        thread.roles.get((e.data as { role?: string }).role ?? "")?.onmessage?.(e);
      };
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        for (const r of [...thread.roles.values()]) r.onerror?.(e);
      };
    } else {
      t.worker.postMessage({ type: "load", role: name, url: url.href });
    }
    const role = new Role(name, t);
    t.roles.set(name, role);
    return role;
  }
}
