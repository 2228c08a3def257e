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

/**
 * Writes the decimal digits of the non-negative safe integer `n` at `b[o]` (room for 16 bytes
 * must be there); returns the offset after them.
 */
export function putDigits(b: Uint8Array, o: number, n: number): number {
  let count = 1;
  if (n < 0x80000000) {
    for (let x = n; x >= 10; x = (x / 10) | 0) count++;
    for (let i = o + count - 1; i > o; i--) {
      const q = (n / 10) | 0;
      b[i] = 0x30 + (n - q * 10);
      n = q;
    }
  } else {
    for (let x = n; x >= 10; x = Math.floor(x / 10)) count++;
    for (let i = o + count - 1; i > o; i--) {
      const q = Math.floor(n / 10);
      b[i] = 0x30 + (n - q * 10);
      n = q;
    }
  }
  b[o] = 0x30 + n;
  return o + count;
}
