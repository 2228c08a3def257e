/**
 * Where a ws request worker's messages go: what the swarms send to connections, gathered per
 * socket worker and sent as one batch each when the request worker flushes.
 *
 * @module
 */

import { ByteBuffer } from "../shared/base/byte_buffer.ts";
import type { Port } from "../shared/runtime/link.ts";
import {
  type Batch,
  beginFrames,
  endFrames,
  pushScrapeCounts,
  type ScrapeEntry,
} from "./messages.ts";
import {
  type ForwardParts,
  writeAnnounceFrame,
  writeForwardFrame,
  writeTextFrame,
} from "./frames.ts";

/** Where the swarms' messages go. */
export interface Outbox {
  /** Sends the JSON text `msg` to connection `conn` of socket worker `worker`. */
  send(worker: number, conn: number, msg: string): void;
  /**
   * Sends connection `conn` of socket worker `worker` the reply to its announce of the info
   * hash at `src[hashAt]` (`announceReply` in `protocol.ts`; the interval and counts are
   * non-negative integers, as `writeAnnounceFrame` takes them). `src` is read at the next
   * `flush`, as `forward`'s parts are.
   */
  announced(
    worker: number,
    conn: number,
    src: Uint8Array,
    hashAt: number,
    interval: number,
    complete: number,
    incomplete: number,
  ): void;
  /**
   * Forwards an offer or an answer to connection `conn` of socket worker `worker`: the frame
   * `writeForwardFrame` (`frames.ts`) writes from `parts`, which lie in a request batch. That
   * batch is read at the next `flush`: the request host flushes after each batch, while it is
   * still valid.
   */
  forward(worker: number, conn: number, ...parts: ForwardParts): void;
  /** Sends the counts of a scrape part back to the socket worker holding the scrape. */
  scrape(worker: number, conn: number, id: number, files: ScrapeEntry[]): void;
  /** Posts what was sent, one message per socket worker that has something. */
  flush(ports: Port[]): void;
  /** Forgets what was waiting for socket worker `worker` (it was replaced). */
  drop(worker: number): void;
}

const TEXT = 0, OFFER = 1, ANSWER = 2, ANNOUNCED = 3;
/** Slots per message in a connection's list: kind, then up to six values. */
const SLOTS = 7;

/**
 * The outbox of a request worker: one batch per socket worker, with each connection's messages
 * together (in the order sent), so that its socket worker writes them with one `send`, not one
 * per message (a batch holds several messages per connection under load). Messages wait as their
 * parts in a flat list per connection, and become WebSocket frames (`frames.ts`) in one byte
 * batch at the flush; scrape counts go as a structured-clone batch beside it.
 */
export class BatchOutbox implements Outbox {
  #messages: Map<number, unknown[]>[] = [];
  #scrapes: Batch[] = [];
  #out = new ByteBuffer(1 << 16);

  #list(worker: number, conn: number): unknown[] {
    const byConn = this.#messages[worker] ??= new Map();
    let list = byConn.get(conn);
    if (list === undefined) byConn.set(conn, list = []);
    return list;
  }

  send(worker: number, conn: number, msg: string): void {
    this.#list(worker, conn).push(TEXT, msg, 0, 0, 0, 0, 0);
  }

  // Written as bytes at the flush: no object, string or encoding per announce.
  announced: Outbox["announced"] = (worker, conn, src, hashAt, interval, complete, incomplete) => {
    this.#list(worker, conn).push(ANNOUNCED, src, hashAt, interval, complete, incomplete, 0);
  };

  // A property typed by the interface, so the parts are named once (`ForwardParts`) and still
  // arrive as plain arguments: a rest parameter would make an array per offer.
  forward: Outbox["forward"] = (worker, conn, kind, src, hashAt, fromAt, idAt, sdpAt, sdpLen) => {
    const k = kind === "offer" ? OFFER : ANSWER;
    this.#list(worker, conn).push(k, src, hashAt, fromAt, idAt, sdpAt, sdpLen);
  };

  scrape(worker: number, conn: number, id: number, files: ScrapeEntry[]): void {
    pushScrapeCounts(this.#scrapes[worker] ??= [], conn, id, files);
  }

  flush(ports: Port[]): void {
    const n = Math.max(this.#messages.length, this.#scrapes.length);
    const w = this.#out;
    for (let k = 0; k < n; k++) {
      const byConn = this.#messages[k], scrapes = this.#scrapes[k];
      if (scrapes?.length) {
        ports[k].postMessage(scrapes);
        this.#scrapes[k] = [];
      }
      if (!byConn?.size) continue;
      w.len = 0;
      for (const [conn, list] of byConn) {
        const at = beginFrames(w, conn);
        let payload = 0;
        for (let i = 0; i < list.length; i += SLOTS) {
          const kind = list[i];
          payload += kind === TEXT
            ? writeTextFrame(w, list[i + 1] as string)
            : kind === ANNOUNCED
            ? writeAnnounceFrame(
              w,
              list[i + 1] as Uint8Array,
              list[i + 2] as number,
              list[i + 3] as number,
              list[i + 4] as number,
              list[i + 5] as number,
            )
            : writeForwardFrame(
              w,
              kind === OFFER ? "offer" : "answer",
              list[i + 1] as Uint8Array,
              list[i + 2] as number,
              list[i + 3] as number,
              list[i + 4] as number,
              list[i + 5] as number,
              list[i + 6] as number,
            );
        }
        endFrames(w, at, list.length / SLOTS, payload);
      }
      ports[k].sendBytes(w.buf, w.len);
      byConn.clear();
    }
  }

  drop(worker: number): void {
    this.#messages[worker]?.clear();
    this.#scrapes[worker] = [];
  }
}
