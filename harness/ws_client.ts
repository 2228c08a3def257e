/**
 * The one WebSocket client of the tests and the bench, on a raw TCP (or TLS) connection, so that
 * it can do what the WebSocket API hides: trust a given CA, send any frame (binary, unfinished,
 * oversized), stop reading (a half-open client), and cost the load generators little.
 *
 * - `RawWs`: a connection, frames in and out; messages read as a stream (`read`) or one at a
 *   time (`readText`).
 * - `WsClient`: on top of it, the tracker's JSON messages collected, and waited for by a
 *   predicate (`next`); the close code as the WebSocket API reports it (`closed`).
 *
 * @module
 */

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Opcodes of RFC 6455. */
const CONTINUATION = 0x0, TEXT = 0x1, CLOSE = 0x8, PING = 0x9, PONG = 0xa;

/** One server frame: its opcode, whether it ends a message, its payload and where it ends. */
export interface ServerFrame {
  /** The opcode (1 text, 8 close, …). */
  opcode: number;
  /** FIN: the frame ends its message. */
  fin: boolean;
  /** The payload, a view into the buffer read. */
  payload: Uint8Array;
  /** Offset just past the frame. */
  end: number;
}

/** The unmasked frame at `b[at]`, or null while it is incomplete (before `end`). */
export function parseServerFrame(b: Uint8Array, at = 0, end = b.length): ServerFrame | null {
  if (end - at < 2) return null;
  let n = b[at + 1] & 0x7f, p = at + 2;
  if (n === 126) {
    if (end - at < 4) return null;
    n = (b[at + 2] << 8) | b[at + 3];
    p = at + 4;
  } else if (n === 127) {
    if (end - at < 10) return null;
    n = b[at + 6] * 2 ** 24 + ((b[at + 7] << 16) | (b[at + 8] << 8) | b[at + 9]);
    p = at + 10;
  }
  if (p + n > end) return null;
  return {
    opcode: b[at] & 0x0f,
    fin: (b[at] & 0x80) !== 0,
    payload: b.subarray(p, p + n),
    end: p + n,
  };
}

/** Options of `RawWs.connect`. */
export interface RawWsOptions {
  /** Connect with TLS, trusting only these CA certificates (PEM). */
  caCerts?: string[];
  /** The request path (`/`). */
  path?: string;
  /**
   * Mask every frame with the key 0 (allowed, and free) instead of a random one: for load
   * generators, whose CPU per message is measured.
   */
  zeroMask?: boolean;
}

/** A WebSocket client connection over a `Deno.Conn` (plain or TLS). */
export class RawWs {
  #conn: Deno.Conn;
  #zeroMask: boolean;
  /** Bytes read and not yet taken: `#buf[#start..#end)`. */
  #buf = new Uint8Array(65536);
  #start = 0;
  #end = 0;
  /** Sends in order, each whole before the next (a send is not awaited by every caller). */
  #writing: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(conn: Deno.Conn, rest: Uint8Array, zeroMask: boolean) {
    this.#conn = conn;
    this.#zeroMask = zeroMask;
    this.#buf.set(rest);
    this.#end = rest.length;
  }

  /**
   * Connects to `host:port`, performs the upgrade, and resolves once the server answered 101;
   * rejects if it refused.
   */
  static async connect(host: string, port: number, opts: RawWsOptions = {}): Promise<RawWs> {
    let conn: Deno.Conn;
    if (opts.caCerts) conn = await Deno.connectTls({ hostname: host, port, caCerts: opts.caCerts });
    else {
      const tcp = await Deno.connect({ hostname: host, port });
      tcp.setNoDelay(true);
      conn = tcp;
    }
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    const authority = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
    await writeAll(
      conn,
      enc.encode(
        `GET ${opts.path ?? "/"} HTTP/1.1\r\nHost: ${authority}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
    const head = new Uint8Array(8192);
    let len = 0;
    while (true) {
      const n = await conn.read(head.subarray(len));
      if (n === null) throw new Error("closed during the handshake");
      len += n;
      // Latin-1: one character per byte, so the offset of the blank line is a byte offset.
      const text = new TextDecoder("latin1").decode(head.subarray(0, len));
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) {
        if (len === head.length) throw new Error("upgrade response head too long");
        continue;
      }
      if (!/^HTTP\/1\.1 101/.test(text)) {
        conn.close();
        throw new Error(`upgrade refused: ${text.split("\r\n")[0]}`);
      }
      return new RawWs(conn, head.subarray(end + 4, len), opts.zeroMask === true);
    }
  }

  /** Sends one masked frame with `opcode` (1 text, 2 binary, …) and `fin`. */
  frame(opcode: number, payload: Uint8Array, fin = true): Promise<void> {
    const n = payload.length;
    const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
    const f = new Uint8Array(head + 4 + n);
    f[0] = (fin ? 0x80 : 0) | opcode;
    if (n < 126) f[1] = 0x80 | n;
    else if (n < 65536) {
      f[1] = 0x80 | 126;
      f[2] = n >> 8;
      f[3] = n & 255;
    } else {
      f[1] = 0x80 | 127;
      new DataView(f.buffer).setUint32(6, n);
    }
    f.set(payload, head + 4);
    if (!this.#zeroMask) {
      const mask = crypto.getRandomValues(f.subarray(head, head + 4));
      for (let i = 0; i < n; i++) f[head + 4 + i] ^= mask[i & 3];
    }
    const sent = this.#writing.then(() => writeAll(this.#conn, f));
    this.#writing = sent.catch(() => {});
    return sent;
  }

  /** Sends a text message in one frame. */
  sendText(text: string): Promise<void> {
    return this.frame(TEXT, enc.encode(text));
  }

  /**
   * The next frame, or null once the connection ended (or it was closed, or `deadline`, a
   * `Date.now()` time, passed: the read is then given up by closing the connection).
   */
  async nextFrame(deadline = Infinity): Promise<ServerFrame | null> {
    while (true) {
      const f = parseServerFrame(this.#buf, this.#start, this.#end);
      if (f !== null) {
        this.#start = f.end;
        return f;
      }
      if (this.#closed) return null;
      if (this.#start > 0) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      }
      const need = frameSize(this.#buf, this.#end);
      if (need > this.#buf.length || this.#end === this.#buf.length) {
        const bigger = new Uint8Array(Math.max(need, 2 * this.#buf.length));
        bigger.set(this.#buf.subarray(0, this.#end));
        this.#buf = bigger;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      if (deadline !== Infinity) {
        timer = setTimeout(() => this.close(), Math.max(1, deadline - Date.now()));
      }
      let n: number | null;
      try {
        n = await this.#conn.read(this.#buf.subarray(this.#end));
      } catch {
        n = null;
      } finally {
        clearTimeout(timer);
      }
      if (n === null) {
        this.close();
        return null;
      }
      this.#end += n;
    }
  }

  /**
   * Calls `onText` for every text message (fragments joined) until the connection ends or a
   * close frame comes; answers pings. Resolves with the close frame, or null without one (the
   * connection stays open for an answer to it: `close()` ends it).
   */
  async read(onText: (text: string) => void): Promise<ServerFrame | null> {
    let parts: Uint8Array[] = [];
    for (let f; (f = await this.nextFrame()) !== null;) {
      if (f.opcode === CLOSE) return f;
      if (f.opcode === PING) this.frame(PONG, f.payload.slice()).catch(() => {});
      if (f.opcode !== TEXT && f.opcode !== CONTINUATION) continue;
      if (f.opcode === TEXT && f.fin) {
        onText(dec.decode(f.payload));
        continue;
      }
      parts.push(f.payload.slice());
      if (f.fin) {
        onText(dec.decode(concat(parts)));
        parts = [];
      }
    }
    return null;
  }

  /**
   * The next text frame's text, or null when the connection ended, a close frame came, or
   * nothing came within `ms` (the connection is then closed).
   */
  async readText(ms = 5000): Promise<string | null> {
    const deadline = Date.now() + ms;
    for (let f; (f = await this.nextFrame(deadline)) !== null;) {
      if (f.opcode === CLOSE) return null;
      if (f.opcode === TEXT) return dec.decode(f.payload);
    }
    return null;
  }

  /**
   * Reads and drops frames until a close frame (resolves its code, 1005 without one) or the end
   * of the stream (-1); throws if neither came within `ms`.
   */
  async closeCode(ms = 10000): Promise<number> {
    const deadline = Date.now() + ms;
    for (let f; (f = await this.nextFrame(deadline)) !== null;) {
      if (f.opcode === CLOSE) return closeCodeOf(f);
    }
    if (Date.now() >= deadline) throw new Error("no close frame in time");
    return -1;
  }

  /** Closes the TCP connection (no close frame). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* closed */ }
  }
}

/** The size of the frame that starts at `b[0]`, as far as its header tells (2 before it does). */
function frameSize(b: Uint8Array, len: number): number {
  if (len < 2) return 2;
  const n = b[1] & 0x7f;
  if (n < 126) return 2 + n;
  if (n === 126) return len < 4 ? 4 : 4 + ((b[2] << 8) | b[3]);
  return len < 10 ? 10 : 10 + b[6] * 2 ** 24 + ((b[7] << 16) | (b[8] << 8) | b[9]);
}

/** The status code of a close frame, 1005 when it has none (as the WebSocket API reports). */
function closeCodeOf(f: ServerFrame): number {
  return f.payload.length >= 2 ? (f.payload[0] << 8) | f.payload[1] : 1005;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A parsed message from the tracker. */
// deno-lint-ignore no-explicit-any
export type Msg = Record<string, any>;

/** A tracker connection for tests: every JSON message collected, waited for by predicate. */
export class WsClient {
  /** The connection, for frames that are not JSON text. */
  readonly raw: RawWs;
  /** Every message received and not yet taken by `next`, in order. */
  readonly received: Msg[] = [];
  /**
   * Resolves when the connection closes, with the code the WebSocket API would report: the
   * server's close code, 1005 for a close frame without one, 1006 for no close frame.
   */
  readonly closed: Promise<number>;
  #waiters: { pred: (m: Msg) => boolean; resolve: (m: Msg) => void }[] = [];
  #closing = false;

  private constructor(raw: RawWs) {
    this.raw = raw;
    this.closed = raw.read((text) => {
      const m = JSON.parse(text) as Msg;
      this.received.push(m);
      const i = this.#waiters.findIndex((w) => w.pred(m));
      if (i >= 0) this.#waiters.splice(i, 1)[0].resolve(m);
    }).then(async (close) => {
      if (close === null) return 1006;
      // Answer the server's close, as a browser does, unless this side began it.
      if (!this.#closing) await raw.frame(CLOSE, close.payload.slice(0, 2)).catch(() => {});
      raw.close();
      return closeCodeOf(close);
    });
  }

  /** Connects to `url` (`ws://host:port/path`). */
  static async connect(url: string): Promise<WsClient> {
    const u = new URL(url);
    if (u.protocol !== "ws:") throw new Error(`not a ws:// URL: ${url}`);
    try {
      const raw = await RawWs.connect(u.hostname.replace(/^\[|\]$/g, ""), Number(u.port || 80), {
        path: u.pathname + u.search,
      });
      return new WsClient(raw);
    } catch (e) {
      throw new Error(`cannot connect to ${url}: ${(e as Error).message}`);
    }
  }

  /** Sends a message (an object is JSON-encoded); a connection closed meanwhile drops it. */
  send(m: Msg | string): void {
    this.raw.sendText(typeof m === "string" ? m : JSON.stringify(m)).catch(() => {});
  }

  /** Resolves with the first message (already received or coming) that matches `pred`. */
  next(pred: (m: Msg) => boolean, ms = 5000): Promise<Msg> {
    const seen = this.received.findIndex(pred);
    if (seen >= 0) return Promise.resolve(this.received.splice(seen, 1)[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.#waiters.findIndex((w) => w.resolve === done);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(
          new Error(`no matching message within ${ms} ms; got ${JSON.stringify(this.received)}`),
        );
      }, ms);
      const done = (m: Msg) => {
        clearTimeout(timer);
        this.received.splice(this.received.indexOf(m), 1);
        resolve(m);
      };
      this.#waiters.push({ pred, resolve: done });
    });
  }

  /** Resolves true if a message matching `pred` arrives within `ms`, else false. */
  async gets(pred: (m: Msg) => boolean, ms: number): Promise<boolean> {
    try {
      await this.next(pred, ms);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Closes the connection (code 1000) and waits for the server's close, or 2 s at most, as a
   * browser's close handshake does.
   */
  async close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      await this.raw.frame(CLOSE, new Uint8Array([0x03, 0xe8])).catch(() => {});
    }
    const timer = setTimeout(() => this.raw.close(), 2000);
    await this.closed;
    clearTimeout(timer);
  }
}

/** A random 20-character binary string (code points 0–255), as WebTorrent makes them. */
export function bin20(): string {
  return String.fromCharCode(...crypto.getRandomValues(new Uint8Array(20)));
}

/** A fake SDP offer or answer. */
export function sdp(type: "offer" | "answer"): { type: string; sdp: string } {
  return { type, sdp: `v=0\r\no=- ${Math.random()} 2 IN IP4 127.0.0.1\r\ns=-\r\n` };
}
