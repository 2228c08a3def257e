/**
 * A growable byte buffer that is written in place: reserve room, write at the offset it
 * gives, then move `len` on (`take` does both when the bytes are written after). The channels'
 * batches, state file bodies and HTTP replies are built in these.
 *
 * @module
 */

/** Where bytes are written: any growable buffer with these three members. */
export interface ByteSink {
  /** The bytes; valid up to `len`. Reading it before `reserve` may return a stale array. */
  buf: Uint8Array<ArrayBuffer>;
  /** Bytes written so far. */
  len: number;
  /** Makes room for `n` more bytes (moving `buf`); returns the offset to write them at. */
  reserve(n: number): number;
}

/** A `ByteSink` on one `Uint8Array`, doubled as it fills. */
export class ByteBuffer implements ByteSink {
  /** The bytes; valid up to `len`. */
  buf: Uint8Array<ArrayBuffer>;
  /** Bytes written so far. */
  len = 0;

  /** Creates a buffer with `initial` bytes of room. */
  constructor(initial = 4096) {
    this.buf = new Uint8Array(Math.max(16, initial));
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

  /** Reserves `n` bytes and counts them as written; returns where they start (read `buf` after). */
  take(n: number): number {
    const at = this.reserve(n);
    this.len = at + n;
    return at;
  }

  /** Appends the bytes of `src`. */
  append(src: Uint8Array): void {
    const at = this.take(src.length); // moves `buf` when it grows: read it only after
    this.buf.set(src, at);
  }

  /** A copy of the bytes written so far. */
  bytes(): Uint8Array<ArrayBuffer> {
    return this.buf.slice(0, this.len);
  }
}
