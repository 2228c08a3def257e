/**
 * The server side of RFC 6455 as a push engine, free of any socket API: bytes go in with
 * `receive`, bytes come out through a `Transport`. Both transports (Deno's `Deno.Conn`, and
 * libc `epoll` through FFI) drive the same engine.
 *
 * The engine handles the HTTP upgrade (and `GET /health`), checks frame and message sizes from
 * the frame header before any payload is buffered, reassembles fragments, answers pings and
 * closes, and turns violations into the right close code. Unparsed bytes are kept per
 * connection only while a frame is incomplete, so an idle connection holds no buffer.
 *
 * Its own engine rather than `Deno.upgradeWebSocket`, whose server closes upgraded sockets at
 * `shutdown()` (1001), so a TLS certificate could not be swapped without dropping every peer,
 * and hides frames, so `websocket_max_frame_size` could not be enforced before buffering; an
 * idle connection also holds less memory here (`bench/results/design-notes.md`).
 *
 * @module
 */

import type { Engine, Transport } from "../shared/net/tcp.ts";

import { monotonicMs } from "../shared/base/clock.ts";
import { sha1 } from "../shared/base/sha1.ts";
import { writeFrameHead, writeTextFrame } from "./frames.ts";
import { ByteBuffer } from "../shared/base/byte_buffer.ts";
import { unmask } from "./mask.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const enc = new TextEncoder();
const latin1 = new TextDecoder("latin1");
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Largest HTTP request head. */
export const MAX_HEAD = 8192;
/** Milliseconds a client has to complete the HTTP upgrade. */
export const HANDSHAKE_MS = 10000;
/** Milliseconds the engine waits for the client's close frame after sending its own. */
export const CLOSE_MS = 1000;

/** Close codes (RFC 6455). */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  Protocol: 1002,
  Unsupported: 1003,
  InvalidData: 1007,
  Policy: 1008,
  TooBig: 1009,
  TryAgainLater: 1013,
} as const;

/** Limits and options of the WebSocket server. */
export interface WireOptions {
  /** Largest frame payload accepted. */
  maxFrameSize: number;
  /** Largest message (all fragments) accepted. */
  maxMessageSize: number;
  /** Answer `GET /health` with 200. */
  healthCheck: boolean;
  /** Header with the client IP (behind a reverse proxy), or null to use the peer address. */
  ipHeader: string | null;
}

/** What the engine tells its user. */
export interface WireHandlers {
  /** A connection completed the upgrade; returns false to refuse it (closed with 1008). */
  open(ws: WireConnection, ip: string, path: string): boolean;
  /**
   * A text message arrived, as the bytes `b` (valid only during the call): true when it was
   * handled as it is, false to have it decoded and handed to `text`.
   */
  message(ws: WireConnection, b: Uint8Array): boolean;
  /** A text message arrived that `message` did not handle, decoded. */
  text(ws: WireConnection, text: string): void;
  /** The connection ended (either side), with the close code; called once, after `open`. */
  closed(ws: WireConnection, code: number): void;
}

const HANDSHAKE = 0, OPEN = 1, CLOSING = 2, DISCARDING = 3, DONE = 4;

// One scratch buffer for outgoing frames: transports copy what they cannot write at once.
const scratch = new ByteBuffer(65536);

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

function headerHas(headers: Map<string, string>, name: string, token: string): boolean {
  return (headers.get(name) ?? "").toLowerCase().split(",").some((t) => t.trim() === token);
}

/** One connection, from the HTTP upgrade to the close: the WebSocket engine. */
export class WireConnection implements Engine {
  /** Any value the user wants to keep with the connection (e.g. its id). */
  id = 0;
  #t: Transport;
  #o: WireOptions;
  #h: WireHandlers;
  #peerIp: string;
  #state = HANDSHAKE;
  #pending: Uint8Array | null = null;
  #pendingLen = 0;
  #need = 0;
  #fragments: Uint8Array[] | null = null;
  #fragmentBytes = 0;
  #fragmentOpcode = 0;
  #closedCode: number = CloseCode.Normal;
  #opened = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  // Connections still in their HTTP upgrade, oldest first, with when they began on the
  // monotonic clock (a wall-clock step would hold the sweep at its first entry, or end every
  // handshake at once): one interval ends those past HANDSHAKE_MS (a timer each would hold
  // memory for as long as it is set).
  static #handshaking = new Map<WireConnection, number>();
  static #sweeper: ReturnType<typeof setInterval> | null = null;

  static #sweep(): void {
    const now = monotonicMs();
    for (const [c, since] of WireConnection.#handshaking) {
      if (now - since < HANDSHAKE_MS) break;
      c.#handshakeOver();
      c.#finish(CloseCode.GoingAway);
    }
  }

  /** Starts serving a new connection from `peerIp` over `t`. */
  constructor(t: Transport, o: WireOptions, h: WireHandlers, peerIp: string) {
    this.#t = t;
    this.#o = o;
    this.#h = h;
    this.#peerIp = peerIp;
    WireConnection.#handshaking.set(this, monotonicMs());
    WireConnection.#sweeper ??= setInterval(WireConnection.#sweep, HANDSHAKE_MS / 20);
  }

  /** The handshake ended, one way or another. */
  #handshakeOver(): void {
    const all = WireConnection.#handshaking;
    if (!all.delete(this) || all.size > 0 || WireConnection.#sweeper === null) return;
    clearInterval(WireConnection.#sweeper);
    WireConnection.#sweeper = null;
  }

  /** Bytes queued for sending and not yet written. */
  get bufferedAmount(): number {
    return this.#t.queued;
  }

  /** True once the connection ended. */
  get done(): boolean {
    return this.#state === DONE;
  }

  /** Bytes the engine wants before it can parse further (a hint for read sizes). */
  get need(): number {
    return this.#need;
  }

  /** Feeds `len` bytes read from the socket, from `b[off]`. */
  receive(b: Uint8Array, off: number, len: number): void {
    if (this.#state === DONE || this.#state === DISCARDING || len === 0) return;
    if (this.#pendingLen === 0) {
      const used = this.#parse(b, off, off + len);
      if (used < len) this.#keep(b, off + used, len - used);
      return;
    }
    this.#keep(b, off, len);
    const p = this.#pending!;
    const used = this.#parse(p, 0, this.#pendingLen);
    if (used === this.#pendingLen) {
      this.#pending = null;
      this.#pendingLen = 0;
    } else if (used > 0) {
      p.copyWithin(0, used, this.#pendingLen);
      this.#pendingLen -= used;
    }
  }

  #keep(b: Uint8Array, off: number, len: number): void {
    const need = this.#pendingLen + len;
    if (this.#pending === null || this.#pending.length < need) {
      const bigger = new Uint8Array(Math.max(need, this.#need, 256));
      if (this.#pending) bigger.set(this.#pending.subarray(0, this.#pendingLen));
      this.#pending = bigger;
    }
    this.#pending.set(b.subarray(off, off + len), this.#pendingLen);
    this.#pendingLen = need;
  }

  /** Parses what it can of `buf[start..end)`; returns the bytes consumed. */
  #parse(buf: Uint8Array, start: number, end: number): number {
    let p = start;
    if (this.#state === HANDSHAKE) {
      const used = this.#handshake(buf, start, end);
      if (used < 0) return end - start; // answered or refused: the rest is dropped
      if (used === 0) return 0;
      p += used;
    }
    while (end - p >= 2 && this.#state !== DONE && this.#state !== DISCARDING) {
      const b0 = buf[p], b1 = buf[p + 1];
      const fin = (b0 & 0x80) !== 0, opcode = b0 & 0x0f;
      // Reserved bits (no extension was agreed) and unmasked client frames are errors.
      if ((b0 & 0x70) !== 0 || (b1 & 0x80) === 0) {
        return this.#violation(CloseCode.Protocol, end - start);
      }
      let size = b1 & 0x7f, at = p + 2;
      if (size === 126) {
        if (end - p < 4) break;
        size = (buf[p + 2] << 8) | buf[p + 3];
        at = p + 4;
      } else if (size === 127) {
        if (end - p < 10) break;
        const high = buf[p + 2] | buf[p + 3] | buf[p + 4] | buf[p + 5];
        size = high
          ? Infinity
          : ((buf[p + 6] << 24) >>> 0) + (buf[p + 7] << 16) + (buf[p + 8] << 8) + buf[p + 9];
        at = p + 10;
      }
      const control = opcode >= 0x8;
      // Sizes are checked from the header alone, before the payload is buffered.
      if (control && (size > 125 || !fin)) return this.#violation(CloseCode.Protocol, end - start);
      if (
        !control &&
        (size > this.#o.maxFrameSize || this.#fragmentBytes + size > this.#o.maxMessageSize)
      ) {
        return this.#violation(CloseCode.TooBig, end - start);
      }
      if (end - at < 4 + size) {
        this.#need = at - p + 4 + size;
        break;
      }
      this.#need = 0;
      // Unmask in place (the bytes are ours until we return) and look at them through a view.
      unmask(buf, at, size);
      const payload = buf.subarray(at + 4, at + 4 + size);
      p = at + 4 + size;
      if (control) {
        if (opcode === 0x8) {
          const code = size >= 2 ? (payload[0] << 8) | payload[1] : CloseCode.Normal;
          this.#closeReceived(
            code >= 1000 && code < 5000 && code !== 1005 ? code : CloseCode.Normal,
          );
          return end - start;
        }
        if (opcode === 0x9) this.#control(0xa, payload);
        else if (opcode !== 0xa) return this.#violation(CloseCode.Protocol, end - start);
        continue;
      }
      if (opcode === 0x0) {
        if (this.#fragmentOpcode === 0) return this.#violation(CloseCode.Protocol, end - start);
      } else if (this.#fragmentOpcode !== 0 || (opcode !== 0x1 && opcode !== 0x2)) {
        return this.#violation(CloseCode.Protocol, end - start);
      } else {
        this.#fragmentOpcode = opcode;
      }
      if (!fin) {
        // The buffer is reused by the next read: keep a copy.
        (this.#fragments ??= []).push(payload.slice());
        this.#fragmentBytes += size;
        continue;
      }
      const whole = this.#fragments === null ? payload : concat([...this.#fragments, payload]);
      const kind = this.#fragmentOpcode;
      this.#fragments = null;
      this.#fragmentBytes = 0;
      this.#fragmentOpcode = 0;
      // This protocol is JSON text only.
      if (kind === 0x2) return this.#violation(CloseCode.Unsupported, end - start);
      // Once the server is closing, further messages are not handled (only checked).
      if (this.#state === OPEN && this.#h.message(this, whole)) continue;
      let text: string;
      try {
        text = utf8.decode(whole);
      } catch {
        return this.#violation(CloseCode.InvalidData, end - start);
      }
      // Once the server is closing, further messages are not handled.
      if (this.#state === OPEN) this.#h.text(this, text);
    }
    return p - start;
  }

  /**
   * Handles the HTTP request head at the start of `buf[start..end)`: returns its length once
   * complete and upgraded, 0 while incomplete, -1 when answered (health, refusal) or failed.
   */
  #handshake(buf: Uint8Array, start: number, end: number): number {
    let headEnd = -1;
    for (let i = start; i + 3 < end; i++) {
      if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) {
        headEnd = i;
        break;
      }
    }
    if (headEnd < 0) {
      if (end - start >= MAX_HEAD) {
        this.#respond("431 Request Header Fields Too Large", "request head too large\n");
        return -1;
      }
      this.#need = Math.min(MAX_HEAD, end - start + 1024);
      return 0;
    }
    const lines = latin1.decode(buf.subarray(start, headEnd)).split("\r\n");
    const m = /^(\S+) (\S+) HTTP\/1\.[01]$/.exec(lines[0]);
    const headers = new Map<string, string>();
    let bad = m === null;
    for (let i = 1; i < lines.length && !bad; i++) {
      const c = lines[i].indexOf(":");
      if (c <= 0) bad = true;
      else headers.set(lines[i].slice(0, c).trim().toLowerCase(), lines[i].slice(c + 1).trim());
    }
    if (bad) {
      this.#respond("400 Bad Request", "bad request\n");
      return -1;
    }
    const [, method, path] = m!;
    if (!headerHas(headers, "upgrade", "websocket")) {
      if (this.#o.healthCheck && method === "GET" && path.split("?")[0] === "/health") {
        this.#respond("200 OK", "ok\n");
      } else {
        this.#respond(
          "426 Upgrade Required",
          "shoal: this is a WebTorrent tracker; connect with a WebSocket\n",
          "Upgrade: websocket\r\n",
        );
      }
      return -1;
    }
    const key = headers.get("sec-websocket-key");
    if (
      method !== "GET" || !headerHas(headers, "connection", "upgrade") || !key ||
      headers.get("sec-websocket-version") !== "13"
    ) {
      this.#respond("400 Bad Request", "bad WebSocket upgrade\n", "Sec-WebSocket-Version: 13\r\n");
      return -1;
    }
    const accept = btoa(String.fromCharCode(...sha1(enc.encode(key + GUID))));
    this.#writeText(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    this.#handshakeOver();
    this.#state = OPEN;
    this.#need = 0;
    const forwarded = this.#o.ipHeader ? headers.get(this.#o.ipHeader.toLowerCase()) : undefined;
    const ip = forwarded ? forwarded.split(",")[0].trim() : this.#peerIp;
    this.#peerIp = ""; // not needed any more: the connection table keeps the client's IP
    this.#opened = true;
    if (!this.#h.open(this, ip, path)) this.#violation(CloseCode.Policy, 0);
    return headEnd + 4 - start;
  }

  #writeText(text: string): void {
    const b = enc.encode(text);
    this.#t.write(b, 0, b.length);
  }

  #respond(status: string, body: string, extra = ""): void {
    this.#handshakeOver();
    this.#writeText(
      `HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n` +
        `Connection: close\r\n${extra}\r\n${body}`,
    );
    this.#state = DONE;
    this.#t.end();
  }

  /** Writes a text message. */
  send(text: string): void {
    if (this.#state !== OPEN) return;
    scratch.len = 0;
    writeTextFrame(scratch, text);
    this.#t.write(scratch.buf, 0, scratch.len);
  }

  /**
   * Writes the `len` bytes at `b[off]`: whole server frames (`frames.ts`), written by a
   * request worker. Read during the call only: what the kernel does not take is copied.
   */
  sendFrames(b: Uint8Array, off: number, len: number): void {
    if (this.#state !== OPEN) return;
    this.#t.write(b, off, len);
  }

  #control(opcode: number, payload: Uint8Array): void {
    // Control payloads are at most 125 bytes: scratch always has room.
    const h = writeFrameHead(scratch.buf, 0, opcode, payload.length);
    scratch.buf.set(payload, h);
    this.#t.write(scratch.buf, 0, h + payload.length);
  }

  /**
   * Starts the closing handshake: sends a close frame; the connection ends when the client
   * answers with its own, or after `CLOSE_MS`.
   */
  close(code: number = CloseCode.Normal, reason = ""): void {
    if (this.#state !== OPEN) return;
    this.#state = CLOSING;
    this.#closedCode = code;
    const r = enc.encode(reason).subarray(0, 120);
    const payload = new Uint8Array(2 + r.length);
    payload[0] = code >> 8;
    payload[1] = code & 0xff;
    payload.set(r, 2);
    this.#control(0x8, payload);
    this.#timer = setTimeout(() => this.#finish(code), CLOSE_MS);
  }

  #closeReceived(code: number): void {
    if (this.#state === OPEN) {
      this.close(code);
    }
    this.#finish(this.#closedCode);
  }

  /** The client broke the protocol: close with `code` and drop whatever else it sends. */
  #violation(code: number, consumed: number): number {
    this.close(code);
    if (this.#state === CLOSING) this.#state = DISCARDING;
    this.#pending = null;
    this.#pendingLen = 0;
    return consumed;
  }

  /** The client ended its stream (called by the transport): the connection ends too. */
  ended(): void {
    this.gone();
  }

  /** The TCP connection ended or failed (called by the transport). */
  gone(): void {
    this.#finish(
      this.#state === CLOSING || this.#state === DISCARDING
        ? this.#closedCode
        : CloseCode.GoingAway,
    );
  }

  /** Ends the connection (after the queued bytes) and reports the close once. */
  #finish(code: number): void {
    if (this.#state === DONE && !this.#opened) return;
    this.#state = DONE;
    clearTimeout(this.#timer);
    this.#handshakeOver();
    this.#pending = null;
    this.#t.end();
    if (this.#opened) {
      this.#opened = false;
      this.#h.closed(this, code);
    }
  }
}
