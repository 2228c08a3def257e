/**
 * Hands a worker thread's rings and mailbox to its poller (`net/poller.ts`), for a thread that
 * serves sockets through it: a socket worker, or a cluster node's request worker whose NATS
 * link is a polled socket (`nats_link.ts`). The floors of `bench/floor/` wait the same way.
 *
 * @module
 */

import { blockingPolls, usePollerHooks } from "../net/poller.ts";
import { pending, pollerReads, pollerStopped, readAll, sleeping } from "./link.ts";
import { controlPending } from "./mailbox.ts";

/**
 * From the poller's first socket on, it reads this thread's rings; it waits on the thread
 * itself when `blocking` (nothing on the event loop minds a millisecond's wait).
 */
export function pollRings(blocking: boolean): void {
  blockingPolls(blocking);
  usePollerHooks({
    controlPending,
    pending,
    readAll,
    sleeping,
    polled: pollerReads,
    released: pollerStopped,
  });
}
