/**
 * Reads unmasked server WebSocket frames, as shoal writes them, for tests that check the bytes
 * the engine or a request worker produced, or read them from a socket.
 *
 * @module
 */

import { parseServerFrame } from "../../harness/ws_client.ts";

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
