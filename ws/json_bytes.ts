/**
 * JSON read from UTF-8 bytes where they lie, for the WebSocket fast path (`scan.ts`): each
 * function reads one thing at `b[p]` and returns the offset after it, or -1 when the bytes are
 * not what it reads or are more than it reads on the fast path's terms (then the message takes
 * the general path: `JSON.parse`). Strings must be valid UTF-8 with valid escapes; numbers have
 * no exponent; skipped values nest at most `MAX_DEPTH` deep.
 *
 * @module
 */

import { ascii, sameBytes } from "../shared/base/bytes.ts";

/** Deepest nesting in values that are skipped. */
export const MAX_DEPTH = 16;
/** `keyOf`'s answer for a key not in its list. */
export const K_OTHER = -1;

const NULL = ascii("null"), TRUE = ascii("true"), FALSE = ascii("false");

/** Bytes of JSON's structure. */
export const QUOTE = 0x22, BACKSLASH = 0x5c, COLON = 0x3a, COMMA = 0x2c;
/** Brackets. */
export const LBRACE = 0x7b, RBRACE = 0x7d, LBRACKET = 0x5b, RBRACKET = 0x5d;

/** 1 for bytes that stand for themselves inside a JSON string on the fast path (printable ASCII). */
const PLAIN = new Uint8Array(256);
for (let c = 0x20; c < 0x80; c++) PLAIN[c] = 1;
PLAIN[QUOTE] = PLAIN[BACKSLASH] = 0;
/** The character each one-letter escape stands for; 0 where the letter is not an escape. */
const ESCAPED = new Uint8Array(256);
const ESCAPES = { '"': 0x22, "\\": 0x5c, "/": 0x2f, b: 8, f: 12, n: 10, r: 13, t: 9 };
for (const [e, c] of Object.entries(ESCAPES)) ESCAPED[e.charCodeAt(0)] = c;
/** Hex digit values; -1 for other bytes. */
const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX["0123456789abcdef".charCodeAt(i)] = HEX["0123456789ABCDEF".charCodeAt(i)] = i;
}

/** Skips JSON whitespace from `p`. */
export function space(b: Uint8Array, p: number, end: number): number {
  while (p < end) {
    const c = b[p];
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    p++;
  }
  return p;
}

/** The index in `keys` of the key whose text is the `len` bytes at `b[p]`, or `K_OTHER`. */
function keyOf(b: Uint8Array, p: number, len: number, keys: Uint8Array[]): number {
  for (let k = 0; k < keys.length; k++) if (sameBytes(b, p, len, keys[k])) return k;
  return K_OTHER;
}

/** Bytes of the valid UTF-8 sequence of two or more bytes at `b[p]`, or 0 if there is none. */
function utf8(b: Uint8Array, p: number, end: number): number {
  const c = b[p];
  if (c < 0xc2 || c > 0xf4) return 0;
  const n = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
  if (p + n > end) return 0;
  // The second byte's range excludes overlong forms, surrogates and code points over U+10FFFF.
  const d = b[p + 1];
  const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
  const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
  if (d < lo || d > hi) return 0;
  for (let i = 2; i < n; i++) if ((b[p + i] & 0xc0) !== 0x80) return 0;
  return n;
}

/**
 * Where the JSON string whose text starts at `b[p]` (after its opening quote) ends: the offset
 * of its closing quote, or -1 if it holds a control character, an invalid escape or invalid
 * UTF-8.
 */
export function stringEnd(b: Uint8Array, p: number, end: number): number {
  while (p < end) {
    const c = b[p];
    if (PLAIN[c] === 1) {
      p++;
    } else if (c === QUOTE) {
      return p;
    } else if (c === BACKSLASH && p + 1 < end) {
      const e = b[p + 1];
      if (e === 0x75) {
        if (p + 5 >= end || (HEX[b[p + 2]] | HEX[b[p + 3]] | HEX[b[p + 4]] | HEX[b[p + 5]]) < 0) {
          return -1;
        }
        p += 6;
      } else if (ESCAPED[e] !== 0) {
        p += 2;
      } else {
        return -1;
      }
    } else {
      const n = utf8(b, p, end);
      if (n === 0) return -1;
      p += n;
    }
  }
  return -1;
}

/** Reads a string value that must be exactly `word` at `b[p]`; returns the offset after it, or -1. */
export function exact(b: Uint8Array, p: number, end: number, word: Uint8Array): number {
  if (b[p] !== QUOTE) return -1;
  const q = stringEnd(b, p + 1, end);
  return q >= 0 && sameBytes(b, p + 1, q - p - 1, word) ? q + 1 : -1;
}

/**
 * Decodes the id at `b[p]`, a JSON string of exactly 20 code points up to 255, into
 * `out[o..o+20)`; returns the offset after it, or -1.
 */
export function id(b: Uint8Array, p: number, end: number, out: Uint8Array, o: number): number {
  if (b[p] !== QUOTE) return -1;
  p++;
  for (let n = 0; n < 20; n++) {
    if (p >= end) return -1;
    const c = b[p];
    if (PLAIN[c] === 1) {
      out[o + n] = c;
      p++;
    } else if (c === 0xc2 || c === 0xc3) {
      // U+0080–U+00FF in UTF-8.
      const d = b[p + 1];
      if (p + 1 >= end || (d & 0xc0) !== 0x80) return -1;
      out[o + n] = ((c & 0x1f) << 6) | (d & 0x3f);
      p += 2;
    } else if (c === BACKSLASH && p + 1 < end) {
      const e = b[p + 1];
      if (e === 0x75) {
        // \u00XX only: anything higher is not a binary id.
        if (p + 5 >= end || b[p + 2] !== 0x30 || b[p + 3] !== 0x30) return -1;
        const v = (HEX[b[p + 4]] << 4) | HEX[b[p + 5]];
        if (v < 0) return -1;
        out[o + n] = v;
        p += 6;
      } else if (ESCAPED[e] !== 0) {
        out[o + n] = ESCAPED[e];
        p += 2;
      } else {
        return -1;
      }
    } else {
      return -1;
    }
  }
  return b[p] === QUOTE ? p + 1 : -1;
}

/** What the last `number` read: whether it was zero, and whether negative. */
export const lastNumber = { zero: false, negative: false };

/**
 * Reads a JSON number without an exponent (and at most 20 characters, so that it is finite) at
 * `b[p]`; returns the offset after it, or -1. Sets `lastNumber`.
 */
export function number(b: Uint8Array, p: number, end: number): number {
  const start = p;
  const negative = b[p] === 0x2d;
  if (negative) p++;
  let zero = true;
  if (b[p] === 0x30) {
    p++;
  } else if (b[p] >= 0x31 && b[p] <= 0x39) {
    zero = false;
    while (p < end && b[p] >= 0x30 && b[p] <= 0x39) p++;
  } else {
    return -1;
  }
  if (b[p] === 0x2e) {
    p++;
    const digits = p;
    while (p < end && b[p] >= 0x30 && b[p] <= 0x39) {
      if (b[p] !== 0x30) zero = false;
      p++;
    }
    if (p === digits) return -1;
  }
  if (b[p] === 0x65 || b[p] === 0x45 || p - start > 20) return -1;
  lastNumber.zero = zero;
  lastNumber.negative = negative;
  return p;
}

/** Reads `word` (`null`, `true`, `false`) at `b[p]`; returns the offset after it, or -1. */
export function literal(b: Uint8Array, p: number, end: number, word: Uint8Array): number {
  return p + word.length <= end && sameBytes(b, p, word.length, word) ? p + word.length : -1;
}

/** Skips any JSON value at `b[p]` (strings on the fast path's terms); returns the offset after it, or -1. */
export function skip(b: Uint8Array, p: number, end: number, depth: number): number {
  const c = b[p];
  if (c === QUOTE) {
    const q = stringEnd(b, p + 1, end);
    return q < 0 ? -1 : q + 1;
  }
  if (c === LBRACE || c === LBRACKET) {
    if (depth >= MAX_DEPTH) return -1;
    const close = c === LBRACE ? RBRACE : RBRACKET;
    p = space(b, p + 1, end);
    if (b[p] === close) return p + 1;
    for (;;) {
      if (c === LBRACE) {
        if (b[p] !== QUOTE) return -1;
        const q = stringEnd(b, p + 1, end);
        if (q < 0) return -1;
        p = space(b, q + 1, end);
        if (b[p] !== COLON) return -1;
        p = space(b, p + 1, end);
      }
      p = skip(b, p, end, depth + 1);
      if (p < 0) return -1;
      p = space(b, p, end);
      if (b[p] === close) return p + 1;
      if (b[p] !== COMMA) return -1;
      p = space(b, p + 1, end);
    }
  }
  if (c === 0x6e) return literal(b, p, end, NULL);
  if (c === 0x74) return literal(b, p, end, TRUE);
  if (c === 0x66) return literal(b, p, end, FALSE);
  return number(b, p, end);
}

/**
 * Calls `field(key, p)` for each member of the object at `b[p]`, with `p` at its value; `field`
 * returns the offset after the value, or -1 to give up. `keys` name the keys `field` is told
 * apart by (others come as `K_OTHER`); each may appear once. Returns the offset after the
 * object, or -1.
 */
export function members(
  b: Uint8Array,
  p: number,
  end: number,
  keys: Uint8Array[],
  field: (key: number, p: number) => number,
): number {
  if (b[p] !== LBRACE) return -1;
  p = space(b, p + 1, end);
  if (b[p] === RBRACE) return p + 1;
  let seen = 0;
  for (;;) {
    if (b[p] !== QUOTE) return -1;
    const q = stringEnd(b, p + 1, end);
    if (q < 0) return -1;
    const key = keyOf(b, p + 1, q - p - 1, keys);
    // A key written with escapes is not told apart here: give up rather than misread it.
    for (let i = p + 1; i < q; i++) if (b[i] === BACKSLASH) return -1;
    if (key !== K_OTHER) {
      if (seen & (1 << key)) return -1; // JSON.parse keeps the last: not ours to guess
      seen |= 1 << key;
    }
    p = space(b, q + 1, end);
    if (b[p] !== COLON) return -1;
    p = field(key, space(b, p + 1, end));
    if (p < 0) return -1;
    p = space(b, p, end);
    if (b[p] === RBRACE) return p + 1;
    if (b[p] !== COMMA) return -1;
    p = space(b, p + 1, end);
  }
}
