/**
 * A minimal WebSocket client on a raw TCP or TLS connection, for tests that need what the
 * WebSocket API hides: custom CA certificates, raw frames, half-open clients.
 *
 * @module
 */

import { parseServerFrame } from "./server_frames.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A WebSocket over a `Deno.Conn` (plain or TLS). */
export class RawWs {
  #conn: Deno.Conn;
  #buf: Uint8Array = new Uint8Array(0);

  private constructor(conn: Deno.Conn, rest: Uint8Array) {
    this.#conn = conn;
    this.#buf = rest;
  }

  /**
   * Connects to `host:port` (TLS when `caCerts` is given, trusting only those), performs the
   * upgrade for `path`, and resolves once the server answered 101.
   */
  static async connect(
    host: string,
    port: number,
    opts: { caCerts?: string[]; path?: string } = {},
  ): Promise<RawWs> {
    const conn = opts.caCerts
      ? await Deno.connectTls({ hostname: host, port, caCerts: opts.caCerts })
      : await Deno.connect({ hostname: host, port });
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    await writeAll(
      conn,
      enc.encode(
        `GET ${opts.path ?? "/"} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
    let head: Uint8Array = new Uint8Array(0);
    while (true) {
      const chunk = new Uint8Array(4096);
      const n = await conn.read(chunk);
      if (n === null) throw new Error("closed during the handshake");
      head = concat(head, chunk.subarray(0, n));
      const end = indexOf(head, enc.encode("\r\n\r\n"));
      if (end < 0) continue;
      const text = dec.decode(head.subarray(0, end));
      if (!/^HTTP\/1\.1 101/.test(text)) {
        conn.close();
        throw new Error(`upgrade refused: ${text.split("\r\n")[0]}`);
      }
      return new RawWs(conn, head.slice(end + 4));
    }
  }

  /** Sends one masked frame with `opcode` (1 text, 2 binary) and `fin`. */
  async frame(opcode: number, payload: Uint8Array, fin = true): Promise<void> {
    const len = payload.length;
    const header: number[] = [(fin ? 0x80 : 0) | opcode];
    if (len < 126) header.push(0x80 | len);
    else if (len < 65536) header.push(0x80 | 126, len >> 8, len & 255);
    else {header.push(
        0x80 | 127,
        0,
        0,
        0,
        0,
        (len >>> 24) & 255,
        (len >> 16) & 255,
        (len >> 8) & 255,
        len & 255,
      );}
    const mask = crypto.getRandomValues(new Uint8Array(4));
    const masked = payload.map((b, i) => b ^ mask[i & 3]);
    await writeAll(this.#conn, concat(new Uint8Array([...header, ...mask]), masked));
  }

  /** Sends a text message in one frame. */
  async sendText(text: string): Promise<void> {
    await this.frame(1, enc.encode(text));
  }

  /**
   * Reads and drops frames until a close frame (resolves its code), the end of the stream
   * (-1) or `ms` elapsed (throws).
   */
  async closeCode(ms = 10000): Promise<number> {
    const deadline = Date.now() + ms;
    while (true) {
      const f = parseServerFrame(this.#buf);
      if (f !== null) {
        this.#buf = this.#buf.slice(f.end);
        if (f.opcode === 8) {
          return f.payload.length >= 2 ? (f.payload[0] << 8) | f.payload[1] : 1005;
        }
        continue;
      }
      if (Date.now() > deadline) throw new Error("no close frame in time");
      const chunk = new Uint8Array(65536);
      const n = await this.#conn.read(chunk).catch(() => null);
      if (n === null) return -1;
      this.#buf = concat(this.#buf, chunk.subarray(0, n));
    }
  }

  /** Reads the next data frame's text, or null when the connection closed (or a close frame came). */
  async readText(ms = 5000): Promise<string | null> {
    const deadline = Date.now() + ms;
    while (true) {
      const f = parseServerFrame(this.#buf);
      if (f !== null) {
        this.#buf = this.#buf.slice(f.end);
        if (f.opcode === 8) return null;
        if (f.opcode === 1) return dec.decode(f.payload);
        continue; // ping/pong/binary: skip
      }
      if (Date.now() > deadline) throw new Error("timed out reading a frame");
      const chunk = new Uint8Array(65536);
      const timer = setTimeout(() => {
        try {
          this.#conn.close();
        } catch { /* closed */ }
      }, Math.max(1, deadline - Date.now()));
      let n: number | null;
      try {
        n = await this.#conn.read(chunk);
      } catch {
        n = null;
      } finally {
        clearTimeout(timer);
      }
      if (n === null) return null;
      this.#buf = concat(this.#buf, chunk.subarray(0, n));
    }
  }

  /** Closes the TCP connection. */
  close(): void {
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Where `needle` first occurs in `hay`, or -1. */
export function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

async function openssl(args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) throw new Error(`openssl ${args[0]} failed: ${dec.decode(out.stderr)}`);
}

/**
 * Makes a certificate authority and a certificate it signs for `localhost` and 127.0.0.1 with
 * openssl; returns the paths of the CA certificate and of the server's certificate and key.
 */
export async function makeCertificate(
  dir: string,
  name: string,
): Promise<{ ca: string; cert: string; key: string }> {
  const p = `${dir}/${name}`;
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl([
    "req",
    "-x509",
    ...ec,
    "-keyout",
    `${p}-ca.key`,
    "-out",
    `${p}-ca.crt`,
    "-days",
    "2",
    "-subj",
    `/CN=shoal test CA ${name}`,
  ]);
  await openssl([
    "req",
    ...ec,
    "-keyout",
    `${p}.key`,
    "-out",
    `${p}.csr`,
    "-subj",
    "/CN=localhost",
  ]);
  await Deno.writeTextFile(
    `${p}.ext`,
    "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
  );
  await openssl([
    "x509",
    "-req",
    "-in",
    `${p}.csr`,
    "-CA",
    `${p}-ca.crt`,
    "-CAkey",
    `${p}-ca.key`,
    "-CAcreateserial",
    "-out",
    `${p}.crt`,
    "-days",
    "2",
    "-extfile",
    `${p}.ext`,
  ]);
  return { ca: `${p}-ca.crt`, cert: `${p}.crt`, key: `${p}.key` };
}
