/**
 * Where a ws request worker's messages go: what the swarms send to connections, gathered per
 * socket worker and posted as one batch each when the request worker flushes.
 *
 * @module
 */

import type { Link } from "../shared/runtime/link.ts";
import { type Batch, pushMessages, pushScrapeCounts, type ScrapeEntry } from "./messages.ts";

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

/**
 * The outbox of a request worker: one batch per socket worker, with each connection's messages
 * together (in the order sent), so that its socket worker writes them with one `send`: a batch
 * under the bench's load holds about 1,100 messages for 165 connections.
 */
export class BatchOutbox implements Outbox {
  #messages: Map<number, string[]>[] = [];
  #scrapes: Batch[] = [];

  send(worker: number, conn: number, msg: string): void {
    const byConn = this.#messages[worker] ??= new Map();
    const list = byConn.get(conn);
    if (list === undefined) byConn.set(conn, [msg]);
    else list.push(msg);
  }

  scrape(worker: number, conn: number, id: number, files: ScrapeEntry[]): void {
    pushScrapeCounts(this.#scrapes[worker] ??= [], conn, id, files);
  }

  flush(ports: Link[]): void {
    const n = Math.max(this.#messages.length, this.#scrapes.length);
    for (let k = 0; k < n; k++) {
      const byConn = this.#messages[k], scrapes = this.#scrapes[k];
      if (!byConn?.size && !scrapes?.length) continue;
      const out: Batch = scrapes ?? [];
      if (byConn !== undefined) {
        for (const [conn, list] of byConn) pushMessages(out, conn, list);
      }
      ports[k].postMessage(out);
      byConn?.clear();
      this.#scrapes[k] = [];
    }
  }

  drop(worker: number): void {
    this.#messages[worker]?.clear();
    this.#scrapes[worker] = [];
  }
}
