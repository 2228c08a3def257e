/**
 * Where a private tracker's passkey sits in a request path, the same for every protocol: the
 * HTTP request target, the path of a WebSocket upgrade, and the URL data of a UDP announce
 * (BEP 41). Two forms are read, each with `announce` or `scrape`:
 *
 * - `/KEY/announce`, `/KEY/scrape`: the Ocelot/XBT form; libtorrent derives a scrape URL from
 *   it by replacing `announce` in the last segment, so scrapes keep working;
 * - `/announce/KEY`, `/scrape/KEY`: torrust's form.
 *
 * A path of one segment that is neither word is a bare key (`ws://host/KEY`); `/announce` and
 * `/scrape` alone carry none. A query (`?…`) ends the path. Nothing is copied: the key is a
 * range of the buffer.
 *
 * @module
 */

/** What a path names. */
export const PathKind = {
  /** None of the forms (an HTTP 404). */
  Other: 0,
  /** `/`: nothing. */
  Root: 1,
  /** An announce, with or without a key. */
  Announce: 2,
  /** A scrape, with or without a key. */
  Scrape: 3,
  /** One segment that is not `announce` or `scrape`: a key alone. */
  Bare: 4,
} as const;

const ANNOUNCE = new TextEncoder().encode("announce");
const SCRAPE = new TextEncoder().encode("scrape");

function word(b: Uint8Array, start: number, end: number): number {
  const is = (w: Uint8Array) => {
    if (end - start !== w.length) return false;
    for (let i = 0; i < w.length; i++) if (b[start + i] !== w[i]) return false;
    return true;
  };
  return is(ANNOUNCE) ? PathKind.Announce : is(SCRAPE) ? PathKind.Scrape : PathKind.Other;
}

/** A path read by `parse`: its kind and the key's range (empty when it has none). */
export class KeyPath {
  /** One of `PathKind`. */
  kind: number = PathKind.Other;
  /** Start of the key in the buffer. */
  keyStart = 0;
  /** End of the key (`keyStart` when there is none). */
  keyEnd = 0;

  /** Reads the path `b[start, end)` (a query after `?` is ignored); returns its kind. */
  parse(b: Uint8Array, start: number, end: number): number {
    for (let i = start; i < end; i++) {
      if (b[i] === 0x3f) {
        end = i;
        break;
      }
    }
    this.keyStart = this.keyEnd = start;
    this.kind = PathKind.Other;
    if (end <= start || b[start] !== 0x2f) return this.kind;
    let s = start + 1;
    if (end > s && b[end - 1] === 0x2f) end--; // a trailing slash
    if (s >= end) return this.kind = PathKind.Root;
    let slash = -1;
    for (let i = s; i < end; i++) {
      if (b[i] !== 0x2f) continue;
      if (slash >= 0) return this.kind; // three segments or more
      slash = i;
    }
    if (slash < 0) {
      const w = word(b, s, end);
      if (w !== PathKind.Other) return this.kind = w;
      this.keyStart = s;
      this.keyEnd = end;
      return this.kind = PathKind.Bare;
    }
    const first = word(b, s, slash), second = word(b, slash + 1, end);
    if (second !== PathKind.Other && first === PathKind.Other && slash > s) {
      this.keyStart = s;
      this.keyEnd = slash;
      return this.kind = second;
    }
    if (first !== PathKind.Other && second === PathKind.Other && end > slash + 1) {
      s = slash + 1;
      this.keyStart = s;
      this.keyEnd = end;
      return this.kind = first;
    }
    return this.kind;
  }
}
