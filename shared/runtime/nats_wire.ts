/**
 * NATS's client protocol, the part a socket worker's data path needs (`nats_link.ts`): read
 * what the server sends (`INFO`, `MSG`, `PING`, `PONG`, `+OK`, `-ERR`) from bytes as they
 * come, and write `CONNECT`, `SUB`, `PUB`, `PING` and `PONG`. Messages reach their handler
 * as a view of the read buffer, valid during the call: no copy, no object per message. The
 * membership on the main thread uses the official client (`@nats-io/*`) instead; this is only
 * the hot path, where that client's per-message objects and Node-compatibility streams cost
 * more than the records it carries (measured in `bench/results/`).
 *
 * @module
 */

const CR = 13, LF = 10, SPACE = 32, TAB = 9;
const enc = new TextEncoder(), dec = new TextDecoder();

/** What the reader hands on. */
export interface NatsEvents {
  /** The server's `INFO` (parsed JSON). */
  info(info: Record<string, unknown>): void;
  /** A message on `sid`, with its reply subject ("" when none); `payload` is valid during the call. */
  msg(sid: number, reply: string, payload: Uint8Array): void;
  /** `PING`: answer `PONG`. */
  ping(): void;
  /** `PONG`. */
  pong(): void;
  /** `-ERR` with the server's text. */
  err(text: string): void;
}

/** Most bytes of a protocol line (a longer one is a broken stream). */
const MAX_LINE = 64 * 1024;

/** Reads the server's side of the protocol from chunks of bytes. */
export class NatsReader {
  #buf = new Uint8Array(64 * 1024);
  #len = 0;
  #on: NatsEvents;
  #maxPayload: number;
  /** A `MSG` line's fields, as [start, end) pairs (at most 4 are read). */
  #fields = new Int32Array(10);
  #replies = new Texts();

  /** Hands what it reads to `on`; a message longer than `maxPayload` is a broken stream. */
  constructor(on: NatsEvents, maxPayload = 8 << 20) {
    this.#on = on;
    this.#maxPayload = maxPayload;
  }

  /** Takes `chunk` (copied in); hands on every complete operation. Throws on a broken stream. */
  push(chunk: Uint8Array): void {
    if (this.#len + chunk.length > this.#buf.length) {
      const grown = new Uint8Array(Math.max(2 * this.#buf.length, this.#len + chunk.length));
      grown.set(this.#buf.subarray(0, this.#len));
      this.#buf = grown;
    }
    this.#buf.set(chunk, this.#len);
    this.#len += chunk.length;
    const b = this.#buf;
    let p = 0;
    for (;;) {
      const eol = indexOfCrlf(b, p, this.#len);
      if (eol < 0) {
        if (this.#len - p > MAX_LINE) throw new Error("NATS: a protocol line too long");
        break;
      }
      const op = b[p] | 0x20; // lower case
      if (op === 0x6d) { // MSG subject sid [reply] size
        const n = fields(b, p + 3, eol, this.#fields);
        if (n !== 3 && n !== 4) throw new Error("NATS: a malformed MSG");
        const f = this.#fields;
        const size = toInt(b, f[2 * n - 2], f[2 * n - 1]);
        if (size < 0 || size > this.#maxPayload) throw new Error("NATS: a MSG of a bad size");
        const start = eol + 2, end = start + size;
        if (end + 2 > this.#len) break; // the payload is not all here yet
        const sid = toInt(b, f[2], f[3]);
        const reply = n === 4 ? this.#replies.text(b, f[4], f[5]) : "";
        this.#on.msg(sid, reply, b.subarray(start, end));
        p = end + 2;
        continue;
      }
      const line = dec.decode(b.subarray(p, eol));
      p = eol + 2;
      const word = line.split(/[ \t]/, 1)[0].toUpperCase();
      if (word === "PING") this.#on.ping();
      else if (word === "PONG") this.#on.pong();
      else if (word === "+OK") continue;
      else if (word === "-ERR") this.#on.err(line.slice(4).trim().replace(/^'|'$/g, ""));
      else if (word === "INFO") this.#on.info(JSON.parse(line.slice(4)));
      else throw new Error(`NATS: an unknown operation "${word.slice(0, 20)}"`);
    }
    // Keep what is not complete at the front.
    if (p > 0) {
      b.copyWithin(0, p, this.#len);
      this.#len -= p;
    }
  }
}

/** `CONNECT` with the options `o` (credentials among them), then `PING`. */
export function connectOp(o: Record<string, unknown>): Uint8Array {
  return enc.encode(`CONNECT ${JSON.stringify(o)}\r\nPING\r\n`);
}

/** `SUB subject [queue] sid`. */
export function subOp(subject: string, sid: number, queue = ""): Uint8Array {
  return enc.encode(`SUB ${subject}${queue ? ` ${queue}` : ""} ${sid}\r\n`);
}

/** The start of a `PUB` to `subject` (with `reply`), up to the size: made once per destination. */
export function pubHead(subject: string, reply = ""): Uint8Array {
  return enc.encode(`PUB ${subject}${reply ? ` ${reply}` : ""} `);
}

/** `PONG`. */
export const PONG = enc.encode("PONG\r\n");

/** Appends a whole `PUB` (head from `pubHead`, then size, payload) to `out` at `o`; returns the end. */
export function writePub(
  out: Uint8Array,
  o: number,
  head: Uint8Array,
  payload: Uint8Array,
): number {
  out.set(head, o);
  o += head.length;
  o = writeDecimal(out, o, payload.length);
  out[o++] = CR;
  out[o++] = LF;
  out.set(payload, o);
  o += payload.length;
  out[o++] = CR;
  out[o++] = LF;
  return o;
}

/** Bytes `writePub` needs at most for `head` and a payload of `size`. */
export function pubLength(head: Uint8Array, size: number): number {
  return head.length + 10 + 2 + size + 2;
}

function writeDecimal(out: Uint8Array, o: number, v: number): number {
  const s = String(v);
  for (let i = 0; i < s.length; i++) out[o++] = s.charCodeAt(i);
  return o;
}

function indexOfCrlf(b: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 1 < to; i++) if (b[i] === CR && b[i + 1] === LF) return i;
  return -1;
}

/**
 * The whitespace-separated fields of `b[from, to)`, as [start, end) pairs in `out`; returns
 * how many there are (counting past what `out` holds, so a line of too many fields shows).
 */
function fields(b: Uint8Array, from: number, to: number, out: Int32Array): number {
  let i = from, n = 0;
  while (i < to) {
    while (i < to && (b[i] === SPACE || b[i] === TAB)) i++;
    if (i >= to) break;
    const s = i;
    while (i < to && b[i] !== SPACE && b[i] !== TAB) i++;
    if (2 * n + 1 < out.length) {
      out[2 * n] = s;
      out[2 * n + 1] = i;
    }
    n++;
  }
  return n;
}

/**
 * Texts decoded, by their bytes, in a small direct-mapped cache: the reply subjects of a link's
 * messages are few (one per socket worker that sends to it), so each is decoded once, not per
 * message. Subjects share long prefixes, so the slot comes from the length and the last bytes,
 * and the bytes are compared from the end.
 */
class Texts {
  #bytes: (Uint8Array | null)[] = new Array(TEXTS).fill(null);
  #texts: string[] = new Array(TEXTS).fill("");

  /** The text of `b[s, e)`. */
  text(b: Uint8Array, s: number, e: number): string {
    const n = e - s;
    if (n === 0) return "";
    const k = (n * 31 + b[e - 1] * 7 + (n > 1 ? b[e - 2] : 0) + (n > 9 ? b[e - 10] : 0)) &
      (TEXTS - 1);
    const c = this.#bytes[k];
    if (c !== null && c.length === n) {
      let j = n - 1;
      while (j >= 0 && c[j] === b[s + j]) j--;
      if (j < 0) return this.#texts[k];
    }
    const text = dec.decode(b.subarray(s, e));
    this.#bytes[k] = b.slice(s, e);
    this.#texts[k] = text;
    return text;
  }
}

/** Slots of `Texts` (a power of two). */
const TEXTS = 64;

function toInt(b: Uint8Array, s: number, e: number): number {
  if (e - s > 10 || e === s) return -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const d = b[i] - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}
