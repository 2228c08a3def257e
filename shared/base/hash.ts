/**
 * Keyed hashes on 32-bit arithmetic, so that peers cannot choose inputs that collide.
 *
 * - `SipHash24` (64-bit output, 128-bit key) authenticates UDP connection IDs.
 * - `HalfSipHash13` (32-bit output, 64-bit key) spreads info hashes and peer keys over hash
 *   tables and request workers; it is cheap enough to run on every request.
 *
 * Both read their input from a byte array at an offset and allocate nothing.
 *
 * @module
 */

import { getU32LE as le32 } from "./bytes.ts";

/** Reads the `n` (< 4) trailing bytes from `i` as a little-endian integer. */
function tail(b: Uint8Array, i: number, n: number): number {
  let t = 0;
  for (let j = n - 1; j >= 0; j--) t = (t << 8) | b[i + j];
  return t >>> 0;
}

/** Fills `out` with cryptographically random 32-bit words. */
export function randomWords(n: number): Uint32Array {
  return crypto.getRandomValues(new Uint32Array(n));
}

/**
 * SipHash-2-4 with a 128-bit key, on pairs of 32-bit halves. `hash` returns the low 32 bits of
 * the 64-bit result and leaves the high 32 bits in `hi`.
 */
export class SipHash24 {
  /** High 32 bits of the last result. */
  hi = 0;
  #k: Uint32Array;

  /** Creates a hasher from four little-endian key words (k0 low, k0 high, k1 low, k1 high). */
  constructor(key: Uint32Array) {
    this.#k = Uint32Array.from(key.subarray(0, 4));
  }

  /** Hashes `len` bytes of `b` from `off`; returns the low 32 bits (high 32 bits in `hi`). */
  hash(b: Uint8Array, off: number, len: number): number {
    const k = this.#k;
    // v0..v3 as (low a, high b) pairs, all in locals: this runs once per request.
    let a0 = k[0] ^ 0x70736575, b0 = k[1] ^ 0x736f6d65;
    let a1 = k[2] ^ 0x6e646f6d, b1 = k[3] ^ 0x646f7261;
    let a2 = k[0] ^ 0x6e657261, b2 = k[1] ^ 0x6c796765;
    let a3 = k[2] ^ 0x79746573, b3 = k[3] ^ 0x74656462;
    const full = len >>> 3;
    let l = 0, h = 0, t = 0;
    for (let blk = 0; blk <= full; blk++) {
      let ml: number, mh: number;
      const i = off + 8 * blk;
      if (blk < full) {
        ml = le32(b, i);
        mh = le32(b, i + 4);
      } else {
        // Last block: the remaining 0-7 bytes and the length in the top byte.
        const rest = len & 7;
        if (rest >= 4) {
          ml = le32(b, i);
          mh = tail(b, i + 4, rest - 4);
        } else {
          ml = tail(b, i, rest);
          mh = 0;
        }
        mh = (mh | ((len & 0xff) << 24)) >>> 0;
      }
      a3 ^= ml;
      b3 ^= mh;
      for (let r = 0; r < 2; r++) {
        l = ((a0 >>> 0) + (a1 >>> 0)) >>> 0;
        b0 = (b0 + b1 + (l < (a0 >>> 0) ? 1 : 0)) | 0;
        a0 = l;
        l = (a1 << 13) | (b1 >>> 19);
        h = (b1 << 13) | (a1 >>> 19);
        a1 = l ^ a0;
        b1 = h ^ b0;
        t = a0;
        a0 = b0;
        b0 = t;
        l = ((a2 >>> 0) + (a3 >>> 0)) >>> 0;
        b2 = (b2 + b3 + (l < (a2 >>> 0) ? 1 : 0)) | 0;
        a2 = l;
        l = (a3 << 16) | (b3 >>> 16);
        h = (b3 << 16) | (a3 >>> 16);
        a3 = l ^ a2;
        b3 = h ^ b2;
        l = ((a0 >>> 0) + (a3 >>> 0)) >>> 0;
        b0 = (b0 + b3 + (l < (a0 >>> 0) ? 1 : 0)) | 0;
        a0 = l;
        l = (a3 << 21) | (b3 >>> 11);
        h = (b3 << 21) | (a3 >>> 11);
        a3 = l ^ a0;
        b3 = h ^ b0;
        l = ((a2 >>> 0) + (a1 >>> 0)) >>> 0;
        b2 = (b2 + b1 + (l < (a2 >>> 0) ? 1 : 0)) | 0;
        a2 = l;
        l = (a1 << 17) | (b1 >>> 15);
        h = (b1 << 17) | (a1 >>> 15);
        a1 = l ^ a2;
        b1 = h ^ b2;
        t = a2;
        a2 = b2;
        b2 = t;
      }
      a0 ^= ml;
      b0 ^= mh;
    }
    a2 ^= 0xff;
    for (let r = 0; r < 4; r++) {
      l = ((a0 >>> 0) + (a1 >>> 0)) >>> 0;
      b0 = (b0 + b1 + (l < (a0 >>> 0) ? 1 : 0)) | 0;
      a0 = l;
      l = (a1 << 13) | (b1 >>> 19);
      h = (b1 << 13) | (a1 >>> 19);
      a1 = l ^ a0;
      b1 = h ^ b0;
      t = a0;
      a0 = b0;
      b0 = t;
      l = ((a2 >>> 0) + (a3 >>> 0)) >>> 0;
      b2 = (b2 + b3 + (l < (a2 >>> 0) ? 1 : 0)) | 0;
      a2 = l;
      l = (a3 << 16) | (b3 >>> 16);
      h = (b3 << 16) | (a3 >>> 16);
      a3 = l ^ a2;
      b3 = h ^ b2;
      l = ((a0 >>> 0) + (a3 >>> 0)) >>> 0;
      b0 = (b0 + b3 + (l < (a0 >>> 0) ? 1 : 0)) | 0;
      a0 = l;
      l = (a3 << 21) | (b3 >>> 11);
      h = (b3 << 21) | (a3 >>> 11);
      a3 = l ^ a0;
      b3 = h ^ b0;
      l = ((a2 >>> 0) + (a1 >>> 0)) >>> 0;
      b2 = (b2 + b1 + (l < (a2 >>> 0) ? 1 : 0)) | 0;
      a2 = l;
      l = (a1 << 17) | (b1 >>> 15);
      h = (b1 << 17) | (a1 >>> 15);
      a1 = l ^ a2;
      b1 = h ^ b2;
      t = a2;
      a2 = b2;
      b2 = t;
    }
    this.hi = (b0 ^ b1 ^ b2 ^ b3) >>> 0;
    return (a0 ^ a1 ^ a2 ^ a3) >>> 0;
  }
}

/** HalfSipHash-1-3 with a 64-bit key and a 32-bit result. */
export class HalfSipHash13 {
  #k0: number;
  #k1: number;

  /** Creates a hasher from two key words. */
  constructor(k0: number, k1: number) {
    this.#k0 = k0 >>> 0;
    this.#k1 = k1 >>> 0;
  }

  /** Hashes `len` bytes of `b` from `off` to an unsigned 32-bit integer. */
  hash(b: Uint8Array, off: number, len: number): number {
    let v0 = this.#k0, v1 = this.#k1;
    let v2 = 0x6c796765 ^ v0, v3 = 0x74656462 ^ v1;
    const end = off + len - (len & 3);
    let m = 0;
    for (let i = off; i <= end; i += 4) {
      m = i < end ? le32(b, i) : (tail(b, i, len & 3) | (len << 24));
      v3 ^= m;
      // one compression round
      v0 = (v0 + v1) | 0;
      v1 = (v1 << 5) | (v1 >>> 27);
      v1 ^= v0;
      v0 = (v0 << 16) | (v0 >>> 16);
      v2 = (v2 + v3) | 0;
      v3 = (v3 << 8) | (v3 >>> 24);
      v3 ^= v2;
      v0 = (v0 + v3) | 0;
      v3 = (v3 << 7) | (v3 >>> 25);
      v3 ^= v0;
      v2 = (v2 + v1) | 0;
      v1 = (v1 << 13) | (v1 >>> 19);
      v1 ^= v2;
      v2 = (v2 << 16) | (v2 >>> 16);
      v0 ^= m;
    }
    v2 ^= 0xff;
    for (let r = 0; r < 3; r++) {
      v0 = (v0 + v1) | 0;
      v1 = (v1 << 5) | (v1 >>> 27);
      v1 ^= v0;
      v0 = (v0 << 16) | (v0 >>> 16);
      v2 = (v2 + v3) | 0;
      v3 = (v3 << 8) | (v3 >>> 24);
      v3 ^= v2;
      v0 = (v0 + v3) | 0;
      v3 = (v3 << 7) | (v3 >>> 25);
      v3 ^= v0;
      v2 = (v2 + v1) | 0;
      v1 = (v1 << 13) | (v1 >>> 19);
      v1 ^= v2;
      v2 = (v2 << 16) | (v2 >>> 16);
    }
    return (v1 ^ v3) >>> 0;
  }
}
