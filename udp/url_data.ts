/**
 * BEP 41 announce options: what follows the 98 bytes of a UDP announce. Each option is a type
 * byte; `EndOfOptions` (0) ends them and `Nop` (1) is one byte alone; every other type has a
 * length byte and that many bytes of data. `UrlData` (2) carries the announce URL's path and
 * query, split over as many options as it needs, to be joined in order. libtorrent sends one
 * option and no end byte: `02 2e /KEY/announce?x=1`.
 *
 * Read with these decisions: unknown types are skipped by their length; an option whose length
 * runs past the packet, or URL data longer than `MAX_URL_DATA`, makes the options malformed
 * (the announce is refused, never half-read); bytes after `EndOfOptions` are ignored.
 *
 * @module
 */

/** Option types. */
export const Option = { EndOfOptions: 0, Nop: 1, UrlData: 2 } as const;

/** Most URL data kept: a path with a 64-byte key and a query fit many times over. */
export const MAX_URL_DATA = 1024;

/** Result of `readUrlData` when the options are malformed. */
export const MALFORMED = -1;

/**
 * Joins the URL data of the options at `b[start, end)` into `out` (at least `MAX_URL_DATA`
 * bytes); returns its length (0: none), or `MALFORMED`.
 */
export function readUrlData(b: Uint8Array, start: number, end: number, out: Uint8Array): number {
  let n = 0, p = start;
  while (p < end) {
    const type = b[p++];
    if (type === Option.EndOfOptions) break;
    if (type === Option.Nop) continue;
    if (p >= end) return MALFORMED;
    const len = b[p++];
    if (p + len > end) return MALFORMED;
    if (type === Option.UrlData) {
      if (n + len > MAX_URL_DATA) return MALFORMED;
      for (let j = 0; j < len; j++) out[n + j] = b[p + j]; // no view made per option
      n += len;
    }
    p += len;
  }
  return n;
}
