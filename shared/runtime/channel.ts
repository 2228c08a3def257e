/**
 * Batched binary channels between workers: records are appended to a growable buffer and the
 * whole batch crosses the worker boundary at once (through the link's shared-memory ring,
 * `link.ts`), never one message per request.
 *
 * @module
 */

import { ByteBuffer } from "../base/byte_buffer.ts";
import type { Port } from "./link.ts";

/** Appends records to a growable byte buffer and hands it over as one message. */
export class BatchWriter extends ByteBuffer {
  /** Records written so far. */
  count = 0;

  /** Creates a writer with `initial` bytes of room. */
  constructor(initial = 16384) {
    super(initial);
  }

  /** Ends the record being written at `end` (from an offset `reserve` gave). */
  commit(end: number): void {
    this.len = end;
    this.count++;
  }

  /** Drops the records of the batch being written. */
  clear(): void {
    this.len = 0;
    this.count = 0;
  }

  /** Sends the batch (if any) over `link` and starts a new one. */
  flushTo(link: Port): void {
    if (this.count === 0) return;
    link.sendBytes(this.buf, this.len);
    this.clear();
  }
}
