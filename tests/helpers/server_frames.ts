/**
 * Reads unmasked server WebSocket frames, as shoal writes them, for tests that check the bytes
 * the engine or a request worker produced, or read them from a socket.
 *
 * @module
 */

/** One frame: its opcode, payload (a view) and where the next frame starts. */
export interface ServerFrame {
  /** The opcode (1 text, 8 close, …). */
  opcode: number;
  /** The payload, a view into the buffer read. */
  payload: Uint8Array;
  /** Offset just past the frame. */
  end: number;
}

/** The frame at `b[at]`, or null while it is incomplete (before `end`). */
export function parseServerFrame(b: Uint8Array, at = 0, end = b.length): ServerFrame | null {
  if (end - at < 2) return null;
  let n = b[at + 1] & 0x7f, p = at + 2;
  if (n === 126) {
    if (end - at < 4) return null;
    n = (b[at + 2] << 8) | b[at + 3];
    p = at + 4;
  } else if (n === 127) {
    if (end - at < 10) return null;
    n = b[at + 6] * 2 ** 24 + ((b[at + 7] << 16) | (b[at + 8] << 8) | b[at + 9]);
    p = at + 10;
  }
  if (p + n > end) return null;
  return { opcode: b[at] & 0x0f, payload: b.subarray(p, p + n), end: p + n };
}

/** The frames in `b[off..off+len)`, as [opcode, payload]; throws on a truncated or masked frame. */
export function readServerFrames(
  b: Uint8Array,
  off = 0,
  len = b.length - off,
): [number, Uint8Array][] {
  const frames: [number, Uint8Array][] = [];
  const end = off + len;
  for (let p = off; p < end;) {
    if (b[p + 1] & 0x80) throw new Error(`masked frame at ${p - off}`);
    const f = parseServerFrame(b, p, end);
    if (f === null) throw new Error(`truncated frame at ${p - off}`);
    frames.push([f.opcode, f.payload.slice()]);
    p = f.end;
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
