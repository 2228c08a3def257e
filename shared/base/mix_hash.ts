/**
 * A fast seeded hash of short byte strings, four bytes at a time with multiply-and-shift
 * mixing: for tables whose keys come from members of a private tracker (passkeys, accounting
 * identities), where a random per-process seed that no client sees is enough, and SipHash's
 * rounds would be most of a lookup. Tables fed by anyone on the network keep SipHash
 * (`hash.ts`).
 *
 * @module
 */

/** The hash of `b[off, off + len)` under the two seed words `s0`, `s1`. */
export function mixHash(b: Uint8Array, off: number, len: number, s0: number, s1: number): number {
  let h = s0 ^ len;
  const end = off + len, words = off + (len & ~3);
  let i = off;
  for (; i < words; i += 4) {
    const w = b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
    h = Math.imul(h ^ w, 0x9e3779b1);
    h ^= h >>> 15;
  }
  for (; i < end; i++) {
    h = Math.imul(h ^ b[i], 0x01000193);
  }
  h = Math.imul(h ^ s1, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
