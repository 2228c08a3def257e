/**
 * IP addresses and endpoints as text, straight from and to bytes (no strings, no regular
 * expressions): parsed for the `ip`, `ipv4` and `ipv6` announce parameters and the client-IP
 * header of a reverse proxy, written for the peers of non-compact announce answers.
 *
 * Results use shoal's 18-byte address record (`shared/address.ts`): a 16-byte IP (IPv4 as
 * v4-mapped `::ffff:a.b.c.d`) and a big-endian port, 0 when the text has none.
 *
 * @module
 */

/** Hex digit values by byte, -1 for bytes that are not hex digits. */
export const HEX_VALUE: Int8Array = (() => {
  const t = new Int8Array(256).fill(-1);
  for (let i = 0; i < 10; i++) t[0x30 + i] = i;
  for (let i = 0; i < 6; i++) t[0x41 + i] = t[0x61 + i] = 10 + i;
  return t;
})();

const DOT = 0x2e, COLON = 0x3a, OPEN = 0x5b, CLOSE = 0x5d, ZERO = 0x30;

/**
 * Parses dotted-quad IPv4 text `b[start..end)` into 4 bytes at `out[off]`. Each part is
 * 0–255 in decimal without leading zeros (`010` is refused: some parsers read it as octal).
 */
export function parseIPv4Text(
  b: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  off: number,
): boolean {
  let part = 0, value = 0, digits = 0;
  for (let i = start; i <= end; i++) {
    const c = i < end ? b[i] : DOT;
    if (c === DOT) {
      if (digits === 0 || part > 3) return false;
      out[off + part++] = value;
      value = digits = 0;
    } else {
      const d = c - ZERO;
      if (d < 0 || d > 9 || (digits === 1 && value === 0)) return false;
      value = value * 10 + d;
      if (++digits > 3 || value > 255) return false;
    }
  }
  return part === 4;
}

/**
 * Parses IPv6 text `b[start..end)` (RFC 4291: groups of 1–4 hex digits, one `::`, an optional
 * dotted IPv4 tail) into 16 bytes at `out[off]`. Zone ids (`%eth0`) are refused.
 */
export function parseIPv6Text(
  b: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  off: number,
): boolean {
  let i = start, n = 0, gap = -1;
  if (end - start < 2) return false;
  if (b[i] === COLON) {
    if (b[i + 1] !== COLON) return false;
    gap = 0;
    i += 2;
  }
  while (i < end) {
    if (n === 8) return false;
    const groupStart = i;
    let v = 0, k = 0, h: number;
    while (i < end && (h = HEX_VALUE[b[i]]) >= 0) {
      if (++k > 4) return false;
      v = (v << 4) | h;
      i++;
    }
    if (i < end && b[i] === DOT) {
      // A dotted IPv4 tail fills the last two groups.
      if (n > 6 || !parseIPv4Text(b, groupStart, end, out, off + 2 * n)) return false;
      n += 2;
      break;
    }
    if (k === 0) return false;
    out[off + 2 * n] = v >> 8;
    out[off + 2 * n + 1] = v & 0xff;
    n++;
    if (i === end) break;
    if (b[i] !== COLON) return false;
    i++;
    if (i < end && b[i] === COLON) {
      if (gap >= 0) return false;
      gap = n;
      i++;
    } else if (i === end) {
      return false; // a single trailing colon
    }
  }
  if (gap < 0) return n === 8;
  if (n === 8) return false; // "::" stands for at least one group
  const move = 2 * (8 - n);
  out.copyWithin(off + 2 * gap + move, off + 2 * gap, off + 2 * n);
  out.fill(0, off + 2 * gap, off + 2 * gap + move);
  return true;
}

function parsePort(b: Uint8Array, start: number, end: number): number {
  if (end - start < 1 || end - start > 5 || b[start] === ZERO) return -1;
  let v = 0;
  for (let i = start; i < end; i++) {
    const d = b[i] - ZERO;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v <= 65535 ? v : -1;
}

/**
 * Parses an address or endpoint (RFC 2732 forms): `a.b.c.d`, `a.b.c.d:port`, a bare IPv6
 * address, `[v6]` or `[v6]:port`, into the 18-byte record at `out[off]` (port 0 when none
 * is given; a given port must be 1–65535). Returns the family, 4 or 6, or 0 when `b[start..end)`
 * is none of these.
 */
export function parseEndpointText(
  b: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  off: number,
): 0 | 4 | 6 {
  let port = 0;
  if (end - start < 2) return 0;
  if (b[start] === OPEN) {
    let close = start + 1;
    while (close < end && b[close] !== CLOSE) close++;
    if (close >= end || !parseIPv6Text(b, start + 1, close, out, off)) return 0;
    if (close + 1 < end) {
      if (b[close + 1] !== COLON || (port = parsePort(b, close + 2, end)) < 0) return 0;
    }
    writePort(out, off, port);
    return 6;
  }
  let colons = 0, last = -1;
  for (let i = start; i < end; i++) {
    if (b[i] === COLON) {
      colons++;
      last = i;
    }
  }
  if (colons >= 2) {
    if (!parseIPv6Text(b, start, end, out, off)) return 0;
    writePort(out, off, 0);
    return 6;
  }
  let addrEnd = end;
  if (colons === 1) {
    if ((port = parsePort(b, last + 1, end)) < 0) return 0;
    addrEnd = last;
  }
  if (!parseIPv4Text(b, start, addrEnd, out, off + 12)) return 0;
  out.fill(0, off, off + 10);
  out[off + 10] = out[off + 11] = 0xff;
  writePort(out, off, port);
  return 4;
}

function writePort(out: Uint8Array, off: number, port: number): void {
  out[off + 16] = port >> 8;
  out[off + 17] = port & 0xff;
}

/** Writes `a.b.c.d` for the 4 bytes at `b[at]` into `out[o]`; returns the offset after it. */
export function formatIPv4Text(b: Uint8Array, at: number, out: Uint8Array, o: number): number {
  for (let i = 0; i < 4; i++) {
    if (i > 0) out[o++] = 46;
    const v = b[at + i];
    if (v >= 100) out[o++] = 48 + Math.floor(v / 100);
    if (v >= 10) out[o++] = 48 + (Math.floor(v / 10) % 10);
    out[o++] = 48 + (v % 10);
  }
  return o;
}

const HEX = Uint8Array.from("0123456789abcdef", (c) => c.charCodeAt(0));

/**
 * Writes the 16-byte IPv6 address at `b[at]` as RFC 5952 text (lowercase, the longest run of
 * two or more zero groups as `::`; v4-mapped as dotted IPv4) into `out[o]`, which needs 39
 * bytes of room; returns the offset after it.
 */
export function formatIPv6Text(b: Uint8Array, at: number, out: Uint8Array, o: number): number {
  let mapped = b[at + 10] === 0xff && b[at + 11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) mapped = b[at + i] === 0;
  if (mapped) return formatIPv4Text(b, at + 12, out, o);
  // The longest run of two or more zero groups (the first of equals) becomes "::".
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && b[at + 2 * j] === 0 && b[at + 2 * j + 1] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j > i ? j : i + 1;
  }
  const first = o;
  for (let i = 0; i < 8; i++) {
    if (i === best) {
      out[o++] = 58;
      out[o++] = 58;
      i += bestLen - 1;
      continue;
    }
    if (o > first && out[o - 1] !== 58) out[o++] = 58;
    const g = (b[at + 2 * i] << 8) | b[at + 2 * i + 1];
    let started = false;
    for (let s = 12; s >= 0; s -= 4) {
      const d = (g >> s) & 15;
      if (d !== 0 || started || s === 0) {
        out[o++] = HEX[d];
        started = true;
      }
    }
  }
  return o;
}
