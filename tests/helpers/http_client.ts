/**
 * A small HTTP/1.1 client over raw TCP for the HTTP tracker's tests: requests written as given
 * (so tests can pipeline, send garbage, or stop half-way), responses read by their
 * `Content-Length`, bencoded bodies decoded.
 *
 * @module
 */

import { type BencodeValue, decode } from "../../http/bencode.ts";

const enc = new TextEncoder(), dec = new TextDecoder();

/** A response as read. */
export interface HttpResponse {
  /** Status code. */
  status: number;
  /** Header names (lowercase) to values. */
  headers: Map<string, string>;
  /** The body's bytes. */
  body: Uint8Array;
}

/** Percent-encodes every byte of `b` (as clients do for info hashes and peer ids). */
export function pct(b: Uint8Array): string {
  return [...b].map((x) => "%" + x.toString(16).padStart(2, "0")).join("");
}

/** The query of an announce: `fields` as given, bytes percent-encoded. */
export function announceQuery(fields: Record<string, string | number | Uint8Array>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${v instanceof Uint8Array ? pct(v) : encodeURIComponent(String(v))}`)
    .join("&");
}

/** One TCP connection to the tracker. */
export class HttpClient {
  /** The connection, for writes and closes a test makes itself. */
  readonly conn: Deno.Conn;
  #buf = new Uint8Array(0);
  #closed = false;

  private constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  /** Connects to `hostname:port` (TLS with `caCerts`). */
  static async connect(
    hostname: string,
    port: number,
    caCerts?: string[],
  ): Promise<HttpClient> {
    const conn = caCerts
      ? await Deno.connectTls({ hostname, port, caCerts })
      : await Deno.connect({ hostname, port });
    return new HttpClient(conn);
  }

  /** A client over a connection already open. */
  static wrap(conn: Deno.Conn): HttpClient {
    return new HttpClient(conn);
  }

  /** Writes `text` (or bytes) as it is. */
  async write(data: string | Uint8Array): Promise<void> {
    const b = typeof data === "string" ? enc.encode(data) : data;
    for (let off = 0; off < b.length;) off += await this.conn.write(b.subarray(off));
  }

  /** Sends `GET path` with keep-alive (or `extra` headers) and reads the response. */
  async get(path: string, extra = ""): Promise<HttpResponse> {
    await this.write(`GET ${path} HTTP/1.1\r\nHost: tracker\r\n${extra}\r\n`);
    return await this.read();
  }

  async #fill(ms: number): Promise<boolean> {
    const chunk = new Uint8Array(65536);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<null>((r) => (timer = setTimeout(() => r(null), ms)));
    try {
      const n = await Promise.race([this.conn.read(chunk).catch(() => null), timeout]);
      if (n === null) return false;
      const next = new Uint8Array(this.#buf.length + n);
      next.set(this.#buf);
      next.set(chunk.subarray(0, n), this.#buf.length);
      this.#buf = next;
      return true;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Reads the next response (HEAD: pass `head` so no body is expected); throws at EOF. */
  async read(ms = 5000, head = false): Promise<HttpResponse> {
    const deadline = Date.now() + ms;
    for (;;) {
      const end = indexOf(this.#buf, enc.encode("\r\n\r\n"));
      if (end >= 0) {
        const lines = dec.decode(this.#buf.subarray(0, end)).split("\r\n");
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1] ?? NaN);
        const headers = new Map<string, string>();
        for (const l of lines.slice(1)) {
          const c = l.indexOf(":");
          headers.set(l.slice(0, c).trim().toLowerCase(), l.slice(c + 1).trim());
        }
        const len = head ? 0 : Number(headers.get("content-length") ?? 0);
        while (this.#buf.length < end + 4 + len) {
          if (!await this.#fill(Math.max(1, deadline - Date.now()))) {
            throw new Error("connection ended inside a response body");
          }
        }
        const body = this.#buf.slice(end + 4, end + 4 + len);
        this.#buf = this.#buf.slice(end + 4 + len);
        return { status, headers, body };
      }
      if (Date.now() > deadline || !await this.#fill(Math.max(1, deadline - Date.now()))) {
        throw new Error(`no response (${this.#buf.length} bytes buffered)`);
      }
    }
  }

  /** True when the server closed the connection (end of stream) within `ms`. */
  async closedWithin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const chunk = new Uint8Array(4096);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"t">((
        r,
      ) => (timer = setTimeout(() => r("t"), deadline - Date.now())));
      const n = await Promise.race([this.conn.read(chunk).catch(() => null), timeout]);
      clearTimeout(timer);
      if (n === "t") return false;
      if (n === null) return true;
    }
    return false;
  }

  /** Closes the connection. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

/** The decoded bencoded body of `r`: a dictionary (binary-string keys). */
export function bdecode(r: HttpResponse): Map<string, BencodeValue> {
  const v = decode(r.body);
  if (!(v instanceof Map)) throw new Error("the body is not a bencoded dictionary");
  return v;
}

/** A byte string as text (UTF-8). */
export function text(v: BencodeValue | undefined): string {
  return v instanceof Uint8Array ? dec.decode(v) : String(v);
}

/** Compact peers (6 or 18 bytes each) as `ip:port` strings. */
export function compactPeers(v: BencodeValue | undefined, size: 6 | 18): string[] {
  if (!(v instanceof Uint8Array)) return [];
  const b = v;
  const out: string[] = [];
  for (let i = 0; i + size <= b.length; i += size) {
    const port = (b[i + size - 2] << 8) | b[i + size - 1];
    if (size === 6) out.push(`${b[i]}.${b[i + 1]}.${b[i + 2]}.${b[i + 3]}:${port}`);
    else {
      const w: string[] = [];
      for (let j = 0; j < 16; j += 2) w.push(((b[i + j] << 8) | b[i + j + 1]).toString(16));
      out.push(`[${w.join(":")}]:${port}`);
    }
  }
  return out;
}

/** Where `needle` first occurs in `hay`, or -1. */
function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
