/**
 * Integer reads and writes on byte arrays without DataView objects, and the bytes of ASCII
 * literals and their comparison with byte runs: the hot paths keep plain `Uint8Array`s and
 * these small functions inline well.
 *
 * @module
 */

/** Reads a little-endian u16. */
export function getU16LE(b: Uint8Array, i: number): number {
  return b[i] | (b[i + 1] << 8);
}

/** Writes a little-endian u16. */
export function setU16LE(b: Uint8Array, i: number, v: number): void {
  b[i] = v;
  b[i + 1] = v >>> 8;
}

/** Reads a little-endian u32. */
export function getU32LE(b: Uint8Array, i: number): number {
  return (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
}

/** Writes a little-endian u32. */
export function setU32LE(b: Uint8Array, i: number, v: number): void {
  b[i] = v;
  b[i + 1] = v >>> 8;
  b[i + 2] = v >>> 16;
  b[i + 3] = v >>> 24;
}

/** Reads a big-endian u32. */
export function getU32BE(b: Uint8Array, i: number): number {
  return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
}

/** Reads a big-endian i32. */
export function getI32BE(b: Uint8Array, i: number): number {
  return (b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3];
}

/** Writes a big-endian 32-bit integer. */
export function setU32BE(b: Uint8Array, i: number, v: number): void {
  b[i] = v >>> 24;
  b[i + 1] = v >>> 16;
  b[i + 2] = v >>> 8;
  b[i + 3] = v;
}

/** The bytes of the ASCII text `s` (one byte per character). */
export function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** True when the `len` bytes at `b[p]` are the bytes of `word`. */
export function sameBytes(b: Uint8Array, p: number, len: number, word: Uint8Array): boolean {
  if (len !== word.length) return false;
  for (let i = 0; i < len; i++) if (b[p + i] !== word[i]) return false;
  return true;
}
