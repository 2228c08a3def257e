/**
 * A lean server side of RFC 6455 on raw TCP or TLS connections (`Deno.listen`,
 * `Deno.listenTls`).
 *
 * Why not `Deno.serve` + `Deno.upgradeWebSocket`: `shutdown()` closes upgraded sockets (1001),
 * so a TLS certificate cannot be swapped without dropping every peer; frames are reassembled
 * out of sight, up to Deno's own limit, so `websocket_max_frame_size` could not be enforced
 * before the bytes were buffered; and an idle connection cost ~17 KB against ~12 KB here.
 *
 * Each connection reads into a small buffer that grows only while a large message arrives,
 * enforces frame and message sizes as the header arrives, answers pings and closes, and
 * queues outgoing frames with a byte count the caller bounds.
 *
 * @module
 */

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const enc = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Bytes an idle connection keeps for its next read. */
const IDLE_READ = 1024;
/** Largest read buffer while a big message arrives. */
const MAX_READ = 65536;
/** Largest HTTP request head. */
const MAX_HEAD = 8192;
/** Milliseconds a client has to complete the HTTP upgrade. */
const HANDSHAKE_MS = 10000;

/** Close codes (RFC 6455). */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  Protocol: 1002,
  Unsupported: 1003,
  InvalidData: 1007,
  Policy: 1008,
  TooBig: 1009,
} as const;

/** Limits and options of the WebSocket server. */
export interface WebSocketOptions {
  /** Largest frame payload accepted. */
  maxFrameSize: number;
  /** Largest message (all fragments) accepted. */
  maxMessageSize: number;
  /** Answer `GET /health` with 200. */
  healthCheck: boolean;
  /** Header with the client IP (behind a reverse proxy), or null to use the peer address. */
  ipHeader: string | null;
}

/** What the server tells its user. */
export interface WebSocketHandlers {
  /** A connection completed the upgrade; returns false to refuse it (closed at once). */
  open(ws: ServerWebSocket, ip: string): boolean;
  /** A text message arrived. */
  text(ws: ServerWebSocket, text: string): void;
  /** The connection closed (either side), with the close code; called once. */
  closed(ws: ServerWebSocket, code: number): void;
}

/** One server-side WebSocket connection. */
export class ServerWebSocket {
  /** Any value the user wants to keep with the connection (e.g. its id). */
  id = 0;
  /** Bytes queued for sending and not yet written. */
  bufferedAmount = 0;
  /** After a protocol violation the rest of the input is read and dropped, unparsed. */
  discarding = false;
  #conn: Deno.Conn;
  #queue: Uint8Array[] = [];
  #writing = false;
  #closing = false;
  #endWhenFlushed = false;
  #done = false;
  #handlers: WebSocketHandlers;
  #closedCode: number = CloseCode.Normal;

  /** Wraps an upgraded connection. */
  constructor(conn: Deno.Conn, handlers: WebSocketHandlers) {
    this.#conn = conn;
    this.#handlers = handlers;
  }

  /** True once a close was started or the connection ended. */
  get closing(): boolean {
    return this.#closing || this.#done;
  }

  /** True once the TCP connection ended. */
  get done(): boolean {
    return this.#done;
  }

  /** Queues a text message. */
  send(text: string): void {
    if (this.#closing || this.#done) return;
    this.#enqueue(frame(0x1, enc.encode(text)));
  }

  #enqueue(f: Uint8Array): void {
    this.#queue.push(f);
    this.bufferedAmount += f.length;
    if (!this.#writing) this.#write();
  }

  async #write(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.#done) {
        // Coalesce whatever queued up into one write.
        const q = this.#queue;
        this.#queue = [];
        const chunk = q.length === 1 ? q[0] : concat(q);
        let off = 0;
        while (off < chunk.length) off += await this.#conn.write(chunk.subarray(off));
        this.bufferedAmount -= chunk.length;
      }
    } catch {
      this.#end(CloseCode.GoingAway);
    } finally {
      this.#writing = false;
    }
    if (this.#endWhenFlushed) this.#end(this.#closedCode);
  }

  /**
   * Starts the closing handshake: queues a close frame; the connection ends when the client
   * answers with its own, or after a second.
   */
  close(code: number = CloseCode.Normal, reason = ""): void {
    if (this.#closing || this.#done) return;
    this.#closing = true;
    this.#closedCode = code;
    const r = enc.encode(reason).subarray(0, 120);
    const payload = new Uint8Array(2 + r.length);
    payload[0] = code >> 8;
    payload[1] = code & 0xff;
    payload.set(r, 2);
    this.#enqueue(frame(0x8, payload));
    // A client that never answers must not keep the socket.
    setTimeout(() => this.#end(code), 1000);
  }

  /** The client sent a close frame: answer it (unless we started) and end once written. */
  closeReceived(code: number): void {
    if (!this.#closing) this.close(code);
    this.#endWhenFlushed = true;
    if (!this.#writing) this.#end(this.#closedCode);
  }

  /** The client broke the protocol: close with `code` and drop whatever else it sends. */
  violation(code: number): void {
    this.discarding = true;
    this.close(code);
  }

  /** The TCP connection ended or failed. */
  gone(): void {
    this.#end(this.#closing ? this.#closedCode : CloseCode.GoingAway);
  }

  /** Answers a ping. */
  pong(payload: Uint8Array): void {
    if (!this.#closing) this.#enqueue(frame(0xa, payload));
  }

  /** Ends the TCP connection and reports the close once. */
  #end(code: number): void {
    if (this.#done) return;
    this.#done = true;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    this.#handlers.closed(this, code);
  }
}

/** Builds an unmasked server frame. */
function frame(opcode: number, payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = new Uint8Array(head + n);
  out[0] = 0x80 | opcode;
  if (n < 126) {
    out[1] = n;
  } else if (n < 65536) {
    out[1] = 126;
    out[2] = n >> 8;
    out[3] = n & 0xff;
  } else {
    out[1] = 127;
    const v = new DataView(out.buffer);
    v.setUint32(2, Math.floor(n / 0x100000000));
    v.setUint32(6, n >>> 0);
  }
  out.set(payload, head);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

async function writeText(conn: Deno.Conn, text: string): Promise<void> {
  const b = enc.encode(text);
  let off = 0;
  while (off < b.length) off += await conn.write(b.subarray(off));
}

async function respond(conn: Deno.Conn, status: string, body: string, extra = ""): Promise<void> {
  await writeText(
    conn,
    `HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n` +
      `Connection: close\r\n${extra}\r\n${body}`,
  ).catch(() => {});
}

/** Parses an HTTP request head; returns the path and lower-cased headers, or null. */
function parseHead(
  text: string,
): { method: string; path: string; headers: Map<string, string> } | null {
  const lines = text.split("\r\n");
  const m = /^(\S+) (\S+) HTTP\/1\.[01]$/.exec(lines[0]);
  if (!m) return null;
  const headers = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const c = lines[i].indexOf(":");
    if (c <= 0) return null;
    headers.set(lines[i].slice(0, c).trim().toLowerCase(), lines[i].slice(c + 1).trim());
  }
  return { method: m[1], path: m[2], headers };
}

function headerHas(headers: Map<string, string>, name: string, token: string): boolean {
  return (headers.get(name) ?? "").toLowerCase().split(",").some((t) => t.trim() === token);
}

/**
 * Serves one accepted connection: the HTTP upgrade (or `/health`), then frames until it closes.
 * Never throws: every failure ends the connection.
 */
export async function serveConnection(
  conn: Deno.Conn,
  opts: WebSocketOptions,
  handlers: WebSocketHandlers,
): Promise<void> {
  let buf = new Uint8Array(IDLE_READ);
  let len = 0;
  // --- HTTP upgrade ---
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch { /* closed */ }
  }, HANDSHAKE_MS);
  let ws: ServerWebSocket;
  try {
    let headEnd = -1;
    while (headEnd < 0) {
      if (len === buf.length) {
        if (buf.length >= MAX_HEAD) {
          await respond(conn, "431 Request Header Fields Too Large", "request head too large\n");
          return conn.close();
        }
        const bigger = new Uint8Array(Math.min(MAX_HEAD, buf.length * 2));
        bigger.set(buf);
        buf = bigger;
      }
      const n = await conn.read(buf.subarray(len));
      if (n === null) return conn.close();
      len += n;
      for (let i = Math.max(0, len - n - 3); i + 3 < len; i++) {
        if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) {
          headEnd = i;
          break;
        }
      }
    }
    const req = parseHead(new TextDecoder().decode(buf.subarray(0, headEnd)));
    const rest = buf.slice(headEnd + 4, len);
    if (req === null) {
      await respond(conn, "400 Bad Request", "bad request\n");
      return conn.close();
    }
    const h = req.headers;
    if (!headerHas(h, "upgrade", "websocket")) {
      if (opts.healthCheck && req.method === "GET" && req.path.split("?")[0] === "/health") {
        await respond(conn, "200 OK", "ok\n");
      } else {
        await respond(
          conn,
          "426 Upgrade Required",
          "shoal: this is a WebTorrent tracker; connect with a WebSocket\n",
          "Upgrade: websocket\r\n",
        );
      }
      return conn.close();
    }
    const key = h.get("sec-websocket-key");
    if (
      req.method !== "GET" || !headerHas(h, "connection", "upgrade") || !key ||
      h.get("sec-websocket-version") !== "13"
    ) {
      await respond(
        conn,
        "400 Bad Request",
        "bad WebSocket upgrade\n",
        "Sec-WebSocket-Version: 13\r\n",
      );
      return conn.close();
    }
    const digest = await crypto.subtle.digest("SHA-1", enc.encode(key + GUID));
    const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
    const forwarded = opts.ipHeader ? h.get(opts.ipHeader.toLowerCase()) : undefined;
    const ip = forwarded
      ? forwarded.split(",")[0].trim()
      : (conn.remoteAddr as Deno.NetAddr).hostname;
    await writeText(
      conn,
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    clearTimeout(timer);
    ws = new ServerWebSocket(conn, handlers);
    if (!handlers.open(ws, ip)) {
      ws.violation(CloseCode.Policy);
    }
    // Frames may have followed the head in the same read.
    buf = new Uint8Array(Math.max(IDLE_READ, rest.length));
    buf.set(rest);
    len = rest.length;
  } catch {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed */ }
    return;
  }

  // --- frames ---
  let fragments: Uint8Array[] = [];
  let fragmentBytes = 0;
  let fragmentOpcode = 0;
  try {
    while (!ws.done) {
      let p = 0;
      // Parse every complete frame in the buffer (none once discarding).
      while (!ws.discarding && len - p >= 2) {
        const b0 = buf[p], b1 = buf[p + 1];
        const fin = (b0 & 0x80) !== 0, opcode = b0 & 0x0f;
        // Reserved bits (no extension was agreed) and unmasked client frames are errors.
        if ((b0 & 0x70) !== 0 || (b1 & 0x80) === 0) {
          ws.violation(CloseCode.Protocol);
          break;
        }
        let size = b1 & 0x7f, at = p + 2;
        if (size === 126) {
          if (len - p < 4) break;
          size = (buf[p + 2] << 8) | buf[p + 3];
          at = p + 4;
        } else if (size === 127) {
          if (len - p < 10) break;
          const high = buf[p + 2] | buf[p + 3] | buf[p + 4] | buf[p + 5];
          size = high ? Infinity : ((buf[p + 6] << 24) >>> 0) + (buf[p + 7] << 16) +
            (buf[p + 8] << 8) + buf[p + 9];
          at = p + 10;
        }
        const control = opcode >= 0x8;
        // Sizes are checked from the header alone, before the payload is buffered.
        if (control && (size > 125 || !fin)) {
          ws.violation(CloseCode.Protocol);
          break;
        }
        if (!control && (size > opts.maxFrameSize || fragmentBytes + size > opts.maxMessageSize)) {
          ws.violation(CloseCode.TooBig);
          break;
        }
        if (len - at < 4 + size) {
          // Incomplete: make room for the whole frame, then read more.
          const need = at - p + 4 + size;
          if (need > buf.length) {
            const bigger = new Uint8Array(need);
            bigger.set(buf.subarray(p, len));
            len -= p;
            p = 0;
            buf = bigger;
          }
          break;
        }
        const payload = buf.slice(at + 4, at + 4 + size);
        for (let i = 0; i < size; i++) payload[i] ^= buf[at + (i & 3)];
        p = at + 4 + size;
        if (control) {
          if (opcode === 0x8) {
            const code = size >= 2 ? (payload[0] << 8) | payload[1] : CloseCode.Normal;
            ws.closeReceived(
              code >= 1000 && code < 5000 && code !== 1005 ? code : CloseCode.Normal,
            );
            return;
          }
          if (opcode === 0x9) ws.pong(payload);
          else if (opcode !== 0xa) ws.violation(CloseCode.Protocol);
          continue;
        }
        if (opcode === 0x0) {
          if (fragmentOpcode === 0) {
            ws.violation(CloseCode.Protocol);
            break;
          }
        } else if (fragmentOpcode !== 0 || (opcode !== 0x1 && opcode !== 0x2)) {
          ws.violation(CloseCode.Protocol);
          break;
        } else {
          fragmentOpcode = opcode;
        }
        if (!fin) {
          fragments.push(payload);
          fragmentBytes += size;
          continue;
        }
        const whole = fragments.length === 0 ? payload : concat([...fragments, payload]);
        const kind = fragmentOpcode;
        fragments = [];
        fragmentBytes = 0;
        fragmentOpcode = 0;
        if (kind === 0x2) {
          ws.violation(CloseCode.Unsupported); // this protocol is JSON text only
          break;
        }
        let text: string;
        try {
          text = utf8.decode(whole);
        } catch {
          ws.violation(CloseCode.InvalidData);
          break;
        }
        // Once the server is closing, further messages are not handled.
        if (!ws.closing) handlers.text(ws, text);
      }
      if (ws.discarding) {
        len = 0;
        p = 0;
      }
      // Keep the unparsed tail; shrink back once idle.
      if (p > 0) {
        if (p === len && buf.length > IDLE_READ) buf = new Uint8Array(IDLE_READ);
        else buf.copyWithin(0, p, len);
        len -= p;
      }
      if (len === buf.length) {
        const bigger = new Uint8Array(Math.min(MAX_READ, buf.length * 2));
        bigger.set(buf.subarray(0, len));
        buf = bigger;
      }
      const n = await conn.read(buf.subarray(len));
      if (n === null) return ws.gone();
      len += n;
    }
  } catch {
    ws.gone();
  }
}

/** Accepts connections from `listener` until it is closed. */
export async function acceptLoop(
  listener: Deno.Listener,
  opts: WebSocketOptions,
  handlers: WebSocketHandlers,
): Promise<void> {
  while (true) {
    let conn: Deno.Conn;
    try {
      conn = await listener.accept();
    } catch (err) {
      if (err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted) return;
      continue; // e.g. EMFILE or a failed TLS accept: keep serving the others
    }
    // shoal coalesces its writes itself; Nagle would hold replies back (~40 ms on loopback).
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    serveConnection(conn, opts, handlers);
  }
}
