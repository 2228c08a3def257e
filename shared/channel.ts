/**
 * Batched binary channels between workers: records are appended to a growable buffer and the
 * whole batch crosses the worker boundary as one transferred `ArrayBuffer` in one
 * `postMessage`, never one message per request.
 *
 * @module
 */

/** Appends records to a growable byte buffer and hands it over as one message. */
export class BatchWriter {
  /** The buffer records are written into; valid up to `len`. */
  buf: Uint8Array<ArrayBuffer>;
  /** Bytes written so far. */
  len = 0;
  /** Records written so far. */
  count = 0;

  /** Creates a writer with `initial` bytes of room. */
  constructor(initial = 16384) {
    this.buf = new Uint8Array(initial);
  }

  /** Makes room for `n` more bytes; returns the offset to write them at. */
  reserve(n: number): number {
    if (this.len + n > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < this.len + n) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
    }
    return this.len;
  }

  /** Posts the batch (if any) to `port` as one transferred buffer and starts a new one. */
  flushTo(port: { postMessage(m: unknown, t: Transferable[]): void }): void {
    if (this.count === 0) return;
    const ab = this.buf.buffer.slice(0, this.len);
    port.postMessage(ab, [ab]);
    this.len = 0;
    this.count = 0;
  }
}
