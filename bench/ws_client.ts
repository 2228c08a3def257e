/**
 * A lean WebSocket client for the bench (raw TCP, `TCP_NODELAY`): the load generator and the
 * idle-connection memory mode use it, so that the client is never the bottleneck. Frames are
 * masked with a zero key (allowed, and free), messages are text.
 *
 * @module
 */

const enc = new TextEncoder();
const dec = new TextDecoder();

/** One client connection. */
export class BenchWs {
  #conn: Deno.TcpConn;
  #buf = new Uint8Array(65536);
  #len = 0;
  #closed = false;

  private constructor(conn: Deno.TcpConn, rest: Uint8Array) {
    this.#conn = conn;
    this.#buf.set(rest);
    this.#len = rest.length;
  }

  /** Connects and upgrades; rejects if the server refuses. */
  static async connect(hostname: string, port: number): Promise<BenchWs> {
    const conn = await Deno.connect({ hostname, port });
    conn.setNoDelay(true);
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    await writeAll(
      conn,
      enc.encode(
        `GET / HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
    const head = new Uint8Array(4096);
    let len = 0;
    while (true) {
      const n = await conn.read(head.subarray(len));
      if (n === null) throw new Error("closed during the handshake");
      len += n;
      const text = dec.decode(head.subarray(0, len));
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) continue;
      if (!text.startsWith("HTTP/1.1 101")) {
        throw new Error(`upgrade refused: ${text.split("\r\n")[0]}`);
      }
      return new BenchWs(conn, head.slice(enc.encode(text.slice(0, end + 4)).length, len));
    }
  }

  /** Sends one text message. */
  async send(text: string): Promise<void> {
    const payload = enc.encode(text);
    const n = payload.length;
    const head = n < 126 ? 6 : n < 65536 ? 8 : 14;
    const f = new Uint8Array(head + n);
    f[0] = 0x81;
    if (n < 126) f[1] = 0x80 | n;
    else if (n < 65536) {
      f[1] = 0x80 | 126;
      f[2] = n >> 8;
      f[3] = n & 255;
    } else {
      f[1] = 0x80 | 127;
      new DataView(f.buffer).setUint32(6, n);
    }
    // Mask key 0: the payload goes as it is.
    f.set(payload, head);
    await writeAll(this.#conn, f);
  }

  /** Calls `onText` for every text message until the connection ends. */
  async read(onText: (text: string) => void): Promise<void> {
    try {
      while (!this.#closed) {
        let p = 0;
        while (this.#len - p >= 2) {
          let size = this.#buf[p + 1] & 0x7f, at = p + 2;
          if (size === 126) {
            if (this.#len - p < 4) break;
            size = (this.#buf[p + 2] << 8) | this.#buf[p + 3];
            at = p + 4;
          } else if (size === 127) {
            if (this.#len - p < 10) break;
            size = new DataView(this.#buf.buffer).getUint32(p + 6);
            at = p + 10;
          }
          if (at + size > this.#len) {
            if (at - p + size > this.#buf.length) {
              const bigger = new Uint8Array(at - p + size);
              bigger.set(this.#buf.subarray(p, this.#len));
              this.#len -= p;
              p = 0;
              this.#buf = bigger;
            }
            break;
          }
          const opcode = this.#buf[p] & 0x0f;
          if (opcode === 0x8) return this.close();
          if (opcode === 0x1) onText(dec.decode(this.#buf.subarray(at, at + size)));
          p = at + size;
        }
        if (p > 0) {
          this.#buf.copyWithin(0, p, this.#len);
          this.#len -= p;
        }
        const n = await this.#conn.read(this.#buf.subarray(this.#len));
        if (n === null) return this.close();
        this.#len += n;
      }
    } catch {
      this.close();
    }
  }

  /** Closes the TCP connection. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* closed */ }
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}
