/**
 * Reads unmasked server WebSocket frames, as shoal writes them, for tests that check the bytes
 * a request worker or the engine produced.
 *
 * @module
 */

/** The frames in `b[off..off+len)`, as [opcode, payload]; throws on a truncated or masked frame. */
export function readServerFrames(
  b: Uint8Array,
  off = 0,
  len = b.length - off,
): [number, Uint8Array][] {
  const frames: [number, Uint8Array][] = [];
  const end = off + len;
  let p = off;
  while (p < end) {
    if (end - p < 2 || b[p + 1] & 0x80) throw new Error(`bad frame header at ${p - off}`);
    let n = b[p + 1] & 0x7f, at = p + 2;
    if (n === 126) {
      n = (b[p + 2] << 8) | b[p + 3];
      at = p + 4;
    } else if (n === 127) {
      n = b[p + 6] * 2 ** 24 + ((b[p + 7] << 16) | (b[p + 8] << 8) | b[p + 9]);
      at = p + 10;
    }
    if (at + n > end) throw new Error(`frame at ${p - off} runs past the end`);
    frames.push([b[p] & 0x0f, b.slice(at, at + n)]);
    p = at + n;
  }
  return frames;
}

/** The text payloads of the frames in `b[off..off+len)`. */
export function readServerTexts(b: Uint8Array, off = 0, len = b.length - off): string[] {
  const dec = new TextDecoder("utf-8", { fatal: true });
  return readServerFrames(b, off, len).map(([op, p]) => {
    if (op !== 1) throw new Error(`opcode ${op}, not text`);
    return dec.decode(p);
  });
}
