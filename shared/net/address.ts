/**
 * Socket addresses as the operator writes them (`0.0.0.0:3000`, `[::]:3000`) and as shoal
 * carries them internally (18 bytes: 16-byte IP, IPv4 v4-mapped, then a big-endian port).
 *
 * @module
 */

/** Bytes of one address record: 16 bytes of IP (v4-mapped for IPv4) and a big-endian port. */
export const ADDR_LEN = 18;

/** A parsed `host:port`. */
export interface SocketAddress {
  /** IP address without brackets. */
  hostname: string;
  /** Port, 0–65535 (0 picks a free port). */
  port: number;
  /** Address family. */
  family: 4 | 6;
}

const V4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parses dotted-quad IPv4 into 4 bytes at `out[off]`; returns false when it is not one. */
export function parseIPv4(s: string, out: Uint8Array, off: number): boolean {
  const m = V4_RE.exec(s);
  if (!m) return false;
  for (let i = 0; i < 4; i++) {
    const n = Number(m[i + 1]);
    if (n > 255 || (m[i + 1].length > 1 && m[i + 1][0] === "0")) return false;
    out[off + i] = n;
  }
  return true;
}

/** Parses an IPv6 address (with `::`, and a dotted IPv4 tail) into 16 bytes at `out[off]`. */
export function parseIPv6(s: string, out: Uint8Array, off: number): boolean {
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  let tail4: Uint8Array | null = null;
  const lastColon = s.lastIndexOf(":");
  if (s.includes(".")) {
    tail4 = new Uint8Array(4);
    if (!parseIPv4(s.slice(lastColon + 1), tail4, 0)) return false;
    s = s.slice(0, lastColon + 1) + "0:0";
  }
  const halves = s.split("::");
  if (halves.length > 2) return false;
  const head = halves[0] ? halves[0].split(":") : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const groups = halves.length === 2 ? 8 - head.length - rest.length : 0;
  if (halves.length === 1 && head.length !== 8) return false;
  if (halves.length === 2 && groups < 1) return false;
  const words = [...head, ...Array(groups).fill("0"), ...rest];
  for (let i = 0; i < 8; i++) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(words[i])) return false;
    const w = parseInt(words[i], 16);
    out[off + 2 * i] = w >> 8;
    out[off + 2 * i + 1] = w & 0xff;
  }
  if (tail4) out.set(tail4, off + 12);
  return true;
}

/** Parses `a.b.c.d:port` or `[v6]:port`; returns why it is invalid as a string. */
export function parseSocketAddress(s: string): SocketAddress | string {
  const m = /^(?:\[([^\]]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(s);
  if (!m) return "expected IPv4 a.b.c.d:port or IPv6 [addr]:port";
  const port = Number(m[3]);
  if (port > 65535) return "port must be 0–65535";
  const scratch = new Uint8Array(16);
  if (m[1] !== undefined) {
    if (!parseIPv6(m[1], scratch, 0)) return `invalid IPv6 address ${m[1]}`;
    return { hostname: m[1], port, family: 6 };
  }
  if (!parseIPv4(m[2], scratch, 0)) return `invalid IPv4 address ${m[2]}`;
  return { hostname: m[2], port, family: 4 };
}

/** Formats `host:port`, bracketing IPv6. */
export function formatSocketAddress(a: { hostname: string; port: number }): string {
  return a.hostname.includes(":") ? `[${a.hostname}]:${a.port}` : `${a.hostname}:${a.port}`;
}

/** Writes `hostname` (IPv4 or IPv6 text) as the 18-byte address record with `port`. */
export function encodeAddr(hostname: string, port: number, out: Uint8Array, off: number): boolean {
  if (parseIPv4(hostname, out, off + 12)) {
    out.fill(0, off, off + 10);
    out[off + 10] = 0xff;
    out[off + 11] = 0xff;
  } else if (!parseIPv6(hostname, out, off)) {
    return false;
  }
  out[off + 16] = port >> 8;
  out[off + 17] = port & 0xff;
  return true;
}

/** True when the 18-byte record at `off` holds a v4-mapped address. */
export function isV4Mapped(b: Uint8Array, off: number): boolean {
  for (let i = 0; i < 10; i++) if (b[off + i] !== 0) return false;
  return b[off + 10] === 0xff && b[off + 11] === 0xff;
}

/** Formats the IP of the 18-byte record at `off` (IPv4 dotted for v4-mapped). */
export function formatAddrIp(b: Uint8Array, off: number): string {
  if (isV4Mapped(b, off)) return `${b[off + 12]}.${b[off + 13]}.${b[off + 14]}.${b[off + 15]}`;
  const words: string[] = [];
  for (let i = 0; i < 8; i++) words.push(((b[off + 2 * i] << 8) | b[off + 2 * i + 1]).toString(16));
  // Compress the longest run of zero words, as RFC 5952 asks.
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === "0") j++;
    if (j - i > bestLen && j - i > 1) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (best < 0) return words.join(":");
  return `${words.slice(0, best).join(":")}::${words.slice(best + bestLen).join(":")}`;
}

/** Reads the port of the 18-byte record at `off`. */
export function addrPort(b: Uint8Array, off: number): number {
  return (b[off + 16] << 8) | b[off + 17];
}

/** True when this host can open an IPv6 socket. */
export function ipv6Available(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}
