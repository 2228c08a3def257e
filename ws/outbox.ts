/**
 * Where a ws request worker's messages go: what the swarms send to connections, gathered per
 * socket worker and posted as one batch each when the request worker flushes.
 *
 * @module
 */

import type { Link } from "../shared/runtime/link.ts";
import { type Batch, pushMessage, pushScrapeCounts, type ScrapeEntry } from "./messages.ts";

/** Where the swarms' messages go. */
export interface Outbox {
  /** Sends the JSON text `msg` to connection `conn` of socket worker `worker`. */
  send(worker: number, conn: number, msg: string): void;
  /** Sends the counts of a scrape part back to the socket worker holding the scrape. */
  scrape(worker: number, conn: number, id: number, files: ScrapeEntry[]): void;
  /** Posts what was sent, one message per socket worker that has something. */
  flush(ports: Link[]): void;
  /** Forgets what was waiting for socket worker `worker` (it was replaced). */
  drop(worker: number): void;
}

/** The outbox of a request worker: one batch per socket worker. */
export class BatchOutbox implements Outbox {
  #outs: Batch[] = [];

  #to(worker: number): Batch {
    return this.#outs[worker] ??= [];
  }

  send(worker: number, conn: number, msg: string): void {
    pushMessage(this.#to(worker), conn, msg);
  }

  scrape(worker: number, conn: number, id: number, files: ScrapeEntry[]): void {
    pushScrapeCounts(this.#to(worker), conn, id, files);
  }

  flush(ports: Link[]): void {
    for (let k = 0; k < this.#outs.length; k++) {
      const out = this.#outs[k];
      if (out === undefined || out.length === 0) continue;
      ports[k].postMessage(out);
      this.#outs[k] = [];
    }
  }

  drop(worker: number): void {
    this.#outs[worker] = [];
  }
}
