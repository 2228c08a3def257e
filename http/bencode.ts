/**
 * Bencoding (BEP 3), exact both ways.
 *
 * The writer half is for the hot path: free functions that append to a caller-owned growable
 * buffer (any `ByteSink`, such as `ByteBuffer` here or the `BatchWriter` of a channel) and
 * allocate nothing: integers are written digit by digit, byte strings are copied from slices,
 * constant keys can be pre-encoded once with `bencodedString` and copied with `writeRaw`.
 *
 * The value half (`encode`, `decode`) is for tests and tools. `decode` is strict: it accepts
 * only the one canonical encoding of a value (no leading zeros, no `-0`, dictionary keys
 * sorted as raw bytes and unique, nothing after the value) and throws `BencodeError`
 * otherwise.
 *
 * @module
 */

export { ByteBuffer, type ByteSink } from "../shared/base/byte_buffer.ts";
import { ByteBuffer, type ByteSink } from "../shared/base/byte_buffer.ts";
import { putDigits } from "../shared/base/bytes.ts";

const I = 0x69, L = 0x6c, D = 0x64, E = 0x65, COLON = 0x3a, MINUS = 0x2d, ZERO = 0x30;

/** Copies short runs byte by byte: `set(subarray(…))` creates a view object per call. */
function copy(src: Uint8Array, off: number, len: number, dst: Uint8Array, at: number): void {
  if (len > 64) {
    dst.set(src.subarray(off, off + len), at);
  } else {
    for (let i = 0; i < len; i++) dst[at + i] = src[off + i];
  }
}

/** Writes the integer `n` (`i…e`); `n` must be a safe integer. */
export function writeInt(w: ByteSink, n: number): void {
  let o = w.reserve(19);
  const b = w.buf;
  b[o++] = I;
  if (n < 0) {
    b[o++] = MINUS;
    n = -n;
  }
  o = putDigits(b, o, n);
  b[o] = E;
  w.len = o + 1;
}

/** Writes the `len` bytes of `src` from `off` as a byte string (`len:bytes`). */
export function writeByteString(w: ByteSink, src: Uint8Array, off: number, len: number): void {
  let o = w.reserve(len + 17);
  const b = w.buf;
  o = putDigits(b, o, len);
  b[o] = COLON;
  copy(src, off, len, b, o + 1);
  w.len = o + 1 + len;
}

/** Writes the string `s`, whose characters must all be below U+0100, one byte each. */
export function writeAsciiString(w: ByteSink, s: string): void {
  let o = w.reserve(s.length + 17);
  const b = w.buf;
  o = putDigits(b, o, s.length);
  b[o] = COLON;
  for (let i = 0; i < s.length; i++) b[o + 1 + i] = s.charCodeAt(i);
  w.len = o + 1 + s.length;
}

/** Copies `len` already-encoded bytes of `src` from `off` (e.g. a key from `bencodedString`). */
export function writeRaw(w: ByteSink, src: Uint8Array, off: number, len: number): void {
  const o = w.reserve(len);
  copy(src, off, len, w.buf, o);
  w.len = o + len;
}

function writeByte(w: ByteSink, c: number): void {
  const o = w.reserve(1);
  w.buf[o] = c;
  w.len = o + 1;
}

/** Starts a dictionary (`d`); the caller writes key/value pairs in sorted key order. */
export function writeDictStart(w: ByteSink): void {
  writeByte(w, D);
}

/** Starts a list (`l`). */
export function writeListStart(w: ByteSink): void {
  writeByte(w, L);
}

/** Ends the innermost dictionary or list (`e`). */
export function writeEnd(w: ByteSink): void {
  writeByte(w, E);
}

/** The bencoding of the string `s` (characters below U+0100, one byte each), for `writeRaw`. */
export function bencodedString(s: string): Uint8Array {
  const w = new ByteBuffer(s.length + 12);
  writeAsciiString(w, s);
  return w.bytes();
}

// ---------------------------------------------------------------------------------------------
// Values, for tests and tools.

/**
 * A value `encode` accepts: integers (`number`, which must be a safe integer, or `bigint`),
 * byte strings (`Uint8Array`, or a `string`, encoded as UTF-8), lists, and dictionaries
 * (a `Map` whose keys are `Uint8Array` or `string`, or a plain object).
 */
export type BencodeInput =
  | number
  | bigint
  | string
  | Uint8Array
  | readonly BencodeInput[]
  | ReadonlyMap<string | Uint8Array, BencodeInput>
  | { readonly [key: string]: BencodeInput };

/**
 * A decoded value: integers are `number` when safe and `bigint` otherwise, byte strings are
 * `Uint8Array`, dictionaries are `Map`s keyed by *binary strings* (one character per byte,
 * U+0000–U+00FF, as `latin1` decodes), in their sorted order.
 */
export type BencodeValue =
  | number
  | bigint
  | Uint8Array
  | BencodeValue[]
  | Map<string, BencodeValue>;

/** Why `encode` or `decode` refused its input; `offset` is where decoding stopped. */
export class BencodeError extends Error {
  /** Byte offset in the input of the problem (-1 for `encode`). */
  readonly offset: number;
  /** Creates the error. */
  constructor(message: string, offset: number) {
    super(offset >= 0 ? `${message} at byte ${offset}` : message);
    this.name = "BencodeError";
    this.offset = offset;
  }
}

const utf8 = new TextEncoder();

/** One byte per character (U+0000–U+00FF) of a binary string, as `decode` gives its keys. */
export function binaryToBytes(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

/** The binary string of `b` (one character per byte), as `decode` gives dictionary keys. */
export function bytesToBinary(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 4096) {
    s += String.fromCharCode(...b.subarray(i, Math.min(b.length, i + 4096)));
  }
  return s;
}

/** Compares byte arrays as unsigned bytes, like `memcmp` then length. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function encodeInto(w: ByteBuffer, v: BencodeInput, depth: number): void {
  if (depth > 512) throw new BencodeError("value nested too deeply", -1);
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw new BencodeError(`not a safe integer: ${v}`, -1);
    writeInt(w, v);
  } else if (typeof v === "bigint") {
    const s = `i${v}e`;
    const o = w.reserve(s.length);
    for (let i = 0; i < s.length; i++) w.buf[o + i] = s.charCodeAt(i);
    w.len = o + s.length;
  } else if (typeof v === "string") {
    const b = utf8.encode(v);
    writeByteString(w, b, 0, b.length);
  } else if (v instanceof Uint8Array) {
    writeByteString(w, v, 0, v.length);
  } else if (Array.isArray(v)) {
    writeListStart(w);
    for (const x of v) encodeInto(w, x, depth + 1);
    writeEnd(w);
  } else {
    const entries: [Uint8Array, BencodeInput][] = [];
    const source = v instanceof Map
      ? [...(v as ReadonlyMap<string | Uint8Array, BencodeInput>)]
      : Object.entries(v as { [key: string]: BencodeInput });
    for (const [k, x] of source) {
      entries.push([typeof k === "string" ? utf8.encode(k) : k, x]);
    }
    entries.sort((a, b) => compareBytes(a[0], b[0]));
    writeDictStart(w);
    for (let i = 0; i < entries.length; i++) {
      if (i > 0 && compareBytes(entries[i - 1][0], entries[i][0]) === 0) {
        throw new BencodeError("duplicate dictionary key", -1);
      }
      writeByteString(w, entries[i][0], 0, entries[i][0].length);
      encodeInto(w, entries[i][1], depth + 1);
    }
    writeEnd(w);
  }
}

/** Bencodes `v`, with dictionary keys sorted as raw bytes; throws `BencodeError` on bad input. */
export function encode(v: BencodeInput): Uint8Array {
  const w = new ByteBuffer(256);
  encodeInto(w, v, 0);
  return w.bytes();
}

/** Most nesting `decode` accepts before it refuses the input. */
export const MAX_DECODE_DEPTH = 512;

class Decoder {
  p = 0;
  constructor(readonly b: Uint8Array) {}

  fail(what: string): never {
    throw new BencodeError(what, this.p);
  }

  /** Reads digits up to `stop`; canonical (no leading zero unless the number is 0). */
  number(stop: number, what: string): number | bigint {
    const b = this.b, start = this.p;
    let p = start;
    while (p < b.length && b[p] >= ZERO && b[p] <= ZERO + 9) p++;
    if (p === start) this.fail(`${what}: expected a digit`);
    if (p >= b.length || b[p] !== stop) this.fail(`${what}: unterminated`);
    if (b[start] === ZERO && p - start > 1) this.fail(`${what}: leading zero`);
    let s = "";
    for (let i = start; i < p; i++) s += String.fromCharCode(b[i]);
    this.p = p + 1;
    const n = Number(s);
    return Number.isSafeInteger(n) ? n : BigInt(s);
  }

  string(): Uint8Array {
    const n = this.number(COLON, "string length");
    const start = this.p;
    if (typeof n !== "number" || n > this.b.length - start) {
      this.p = start;
      this.fail("string longer than the input");
    }
    this.p = start + n;
    return this.b.subarray(start, start + n);
  }

  value(depth: number): BencodeValue {
    const b = this.b;
    if (this.p >= b.length) this.fail("unexpected end of input");
    const c = b[this.p];
    if (c === I) {
      this.p++;
      const negative = this.p < b.length && b[this.p] === MINUS;
      if (negative) this.p++;
      const at = this.p;
      const n = this.number(E, "integer");
      if (negative && n === 0) {
        this.p = at;
        this.fail("integer: -0");
      }
      return negative ? -n : n;
    }
    if (c >= ZERO && c <= ZERO + 9) return this.string().slice();
    if (depth >= MAX_DECODE_DEPTH) this.fail("nested too deeply");
    if (c === L) {
      this.p++;
      const list: BencodeValue[] = [];
      while (this.p < b.length && b[this.p] !== E) list.push(this.value(depth + 1));
      if (this.p >= b.length) this.fail("unterminated list");
      this.p++;
      return list;
    }
    if (c === D) {
      this.p++;
      const dict = new Map<string, BencodeValue>();
      let last: Uint8Array | null = null;
      while (this.p < b.length && b[this.p] !== E) {
        const at = this.p;
        if (b[at] < ZERO || b[at] > ZERO + 9) this.fail("dictionary key is not a string");
        const key = this.string();
        if (last !== null) {
          const order = compareBytes(last, key);
          if (order >= 0) {
            this.p = at;
            this.fail(order === 0 ? "duplicate dictionary key" : "dictionary keys not sorted");
          }
        }
        last = key;
        dict.set(bytesToBinary(key), this.value(depth + 1));
      }
      if (this.p >= b.length) this.fail("unterminated dictionary");
      this.p++;
      return dict;
    }
    this.fail(`unexpected byte 0x${c.toString(16)}`);
  }
}

/** Decodes exactly one canonical bencoded value filling all of `b`; throws `BencodeError`. */
export function decode(b: Uint8Array): BencodeValue {
  const d = new Decoder(b);
  const v = d.value(0);
  if (d.p !== b.length) d.fail("trailing data");
  return v;
}
