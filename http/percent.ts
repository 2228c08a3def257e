/**
 * Percent-decoding of query-string values to bytes (RFC 3986 `%XY` in either case, and `+` as
 * a space, as HTML forms and BitTorrent clients send them); any other byte stands for itself.
 *
 * @module
 */

import { HEX_VALUE } from "./ip_text.ts";

const AMP = 0x26, PCT = 0x25, PLUS = 0x2b;

let end_ = 0;

/** Where the last `decodeValue` or `skipValue` stopped: the `&` after the value, or the end. */
export function valueEnd(): number {
  return end_;
}

/**
 * Percent-decodes the value that starts at `b[start]` and runs to the next `&` (or `end`) into
 * `out` from `at`, at most `max` bytes, in the same pass that finds its end (`valueEnd()`).
 * Returns the bytes written, -1 for a bad escape, or -2 when the value decodes to more than
 * `max` bytes.
 */
export function decodeValue(
  b: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  at: number,
  max: number,
): number {
  let n = 0, i = start;
  for (; i < end; i++) {
    let c = b[i];
    if (c === AMP) break;
    if (n === max) return -2;
    if (c === PCT) {
      if (i + 2 >= end) return -1;
      const hi = HEX_VALUE[b[i + 1]], lo = HEX_VALUE[b[i + 2]];
      if (hi < 0 || lo < 0) return -1;
      c = (hi << 4) | lo;
      i += 2;
    } else if (c === PLUS) {
      c = 0x20;
    }
    out[at + n++] = c;
  }
  end_ = i;
  return n;
}

/** Finds the end of the value that starts at `b[start]` without reading it. */
export function skipValue(b: Uint8Array, start: number, end: number): void {
  let i = start;
  while (i < end && b[i] !== AMP) i++;
  end_ = i;
}
