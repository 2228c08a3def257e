/**
 * Batched binary channels between workers: records are appended to a growable buffer and the
 * whole batch crosses the worker boundary as one transferred `ArrayBuffer` in one
 * `postMessage`, never one message per request.
 *
 * @module
 */

import { ByteBuffer } from "../base/byte_buffer.ts";

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

  /** Posts the batch (if any) to `port` as one transferred buffer and starts a new one. */
  flushTo(port: { postMessage(m: unknown, t: Transferable[]): void }): void {
    if (this.count === 0) return;
    const ab = this.buf.buffer.slice(0, this.len);
    port.postMessage(ab, [ab]);
    this.clear();
  }
}
