/**
 * Unmasking a client's WebSocket payload in place (RFC 6455 5.3), a word at a time where the
 * buffer allows.
 *
 * @module
 */

/** The machine stores words little-endian (then `unmask` XORs whole words). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** A word view of the last buffer `unmask` worked in (the socket's read buffer, mostly). */
let words: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
let wordsOf: ArrayBufferLike | null = null;

/**
 * XORs the `size` bytes after the 4-byte mask at `buf[at]` with the mask: bytes up to a word
 * boundary of the underlying buffer, then whole words through a view of it (kept while the
 * buffer is the same), then the last bytes: every byte a client sends passes through here.
 */
export function unmask(buf: Uint8Array, at: number, size: number): void {
  const m0 = buf[at], m1 = buf[at + 1], m2 = buf[at + 2], m3 = buf[at + 3];
  // The mask, as a little-endian word, turned so that its byte k applies to payload byte k.
  let key = (m0 | (m1 << 8) | (m2 << 16) | (m3 << 24)) >>> 0;
  let i = at + 4;
  const end = i + size, base = buf.byteOffset;
  for (; i < end && ((base + i) & 3) !== 0; i++) {
    buf[i] ^= key & 0xff;
    key = ((key >>> 8) | (key << 24)) >>> 0;
  }
  if (LITTLE_ENDIAN && end - i >= 8) {
    if (buf.buffer !== wordsOf) {
      wordsOf = buf.buffer;
      words = new Uint32Array(buf.buffer, 0, buf.buffer.byteLength >>> 2);
    }
    const w = words, first = (base + i) >>> 2, last = first + ((end - i) >>> 2);
    for (let k = first; k < last; k++) w[k] ^= key;
    i += (last - first) << 2;
  }
  for (; i < end; i++) {
    buf[i] ^= key & 0xff;
    key = ((key >>> 8) | (key << 24)) >>> 0;
  }
}
