/** Bencoding: the allocation-free writer, `encode`, and the strict `decode`. */
import assert from "assert";
import {
  bencodedString,
  BencodeError,
  binaryToBytes,
  ByteBuffer,
  bytesToBinary,
  compareBytes,
  decode,
  encode,
  MAX_DECODE_DEPTH,
  writeAsciiString,
  writeByteString,
  writeDictStart,
  writeEnd,
  writeInt,
  writeListStart,
  writeRaw,
} from "../../http/bencode.ts";
import { BatchWriter } from "../../shared/runtime/channel.ts";

const enc = new TextEncoder();
const text = (b: Uint8Array) => new TextDecoder("latin1").decode(b);
const bytes = (s: string) => binaryToBytes(s);

Deno.test("writer: integers, byte strings, lists and dictionaries, byte-exact", () => {
  const w = new ByteBuffer(16); // small: it must grow
  writeDictStart(w);
  writeAsciiString(w, "a");
  writeInt(w, 0);
  writeAsciiString(w, "b");
  writeInt(w, -42);
  writeAsciiString(w, "big");
  writeInt(w, Number.MAX_SAFE_INTEGER);
  writeAsciiString(w, "l");
  writeListStart(w);
  writeByteString(w, enc.encode("xxspamyy"), 2, 4);
  writeByteString(w, new Uint8Array(0), 0, 0);
  writeInt(w, Number.MIN_SAFE_INTEGER);
  writeEnd(w);
  const key = bencodedString("min interval");
  writeRaw(w, key, 0, key.length);
  writeInt(w, 1234567890);
  writeEnd(w);
  assert.equal(
    text(w.bytes()),
    "d1:ai0e1:bi-42e3:bigi9007199254740991e1:ll4:spam0:i-9007199254740991ee" +
      "12:min intervali1234567890ee",
  );
  assert.equal(text(bencodedString("")), "0:");
});

Deno.test("writer: digits of every magnitude", () => {
  for (let n = 1; n < Number.MAX_SAFE_INTEGER; n = n * 7 + 3) {
    const w = new ByteBuffer(4);
    writeInt(w, n);
    writeInt(w, -n);
    assert.equal(text(w.bytes()), `i${n}ei-${n}e`);
  }
  for (const n of [9, 10, 99, 100, 999999, 1000000, 2 ** 32, 2 ** 32 - 1, 2 ** 53 - 1]) {
    const w = new ByteBuffer(4);
    writeInt(w, n);
    assert.equal(text(w.bytes()), `i${n}e`);
  }
});

Deno.test("writer: appends to a channel's BatchWriter like any ByteSink", () => {
  const w = new BatchWriter(8);
  w.len = 3; // something already in the batch
  writeInt(w, 12345);
  writeByteString(w, enc.encode("hello world"), 0, 11);
  assert.equal(text(w.buf.subarray(3, w.len)), "i12345e11:hello world");
});

Deno.test("encode: keys sorted as raw bytes, strings as UTF-8, bigint, nesting", () => {
  const hi = new Uint8Array([0xff, 0x00]), lo = new Uint8Array([0x01]);
  const v = new Map<string | Uint8Array, unknown>([
    ["zeta", 1],
    [hi, "é"],
    ["Alpha", [1n << 70n, -5n, 3]],
    [lo, new Map()],
    ["", []],
  ]);
  assert.equal(
    text(encode(v as Parameters<typeof encode>[0])),
    "d0:le1:\x01de5:Alphali1180591620717411303424ei-5ei3ee4:zetai1e2:\xff\x002:\xc3\xa9e",
  );
  // Plain objects too, sorted the same way.
  assert.equal(text(encode({ b: 1, a: "x", ab: new Uint8Array([0]) })), "d1:a1:x2:ab1:\x001:bi1ee");
});

Deno.test("encode: refuses what bencode cannot say", () => {
  assert.throws(() => encode(1.5), BencodeError);
  assert.throws(() => encode(Number.MAX_SAFE_INTEGER + 1), BencodeError);
  assert.throws(() => encode(NaN), BencodeError);
  // Two keys with the same bytes (string and Uint8Array).
  assert.throws(
    () => encode(new Map<string | Uint8Array, number>([["a", 1], [enc.encode("a"), 2]])),
    /duplicate/,
  );
  let deep: unknown = [];
  for (let i = 0; i < 600; i++) deep = [deep];
  assert.throws(() => encode(deep as Parameters<typeof encode>[0]), /nested/);
});

Deno.test("decode: values, keys as binary strings, round trip", () => {
  const b = bytes("d8:completei5e10:incompletei-3e5:peers6:\x01\x02\x03\x04\x1a\xe1e");
  const d = decode(b) as Map<string, unknown>;
  assert.ok(d instanceof Map);
  assert.deepEqual([...d.keys()], ["complete", "incomplete", "peers"]);
  assert.equal(d.get("complete"), 5);
  assert.equal(d.get("incomplete"), -3);
  assert.deepEqual(d.get("peers"), new Uint8Array([1, 2, 3, 4, 0x1a, 0xe1]));
  assert.deepEqual(encode(d as Parameters<typeof encode>[0]), b);
  // Raw byte keys, as in a scrape's files dictionary.
  const h = new Uint8Array(20).fill(0xfe);
  const files = decode(encode(new Map([[h, 1]]))) as Map<string, unknown>;
  assert.equal(files.get(bytesToBinary(h)), 1);
  assert.deepEqual(binaryToBytes([...files.keys()][0]), h);
  // Large integers become bigint; safe ones stay numbers.
  assert.equal(decode(bytes("i9007199254740991e")), Number.MAX_SAFE_INTEGER);
  assert.equal(decode(bytes("i9007199254740992e")), 9007199254740992n);
  assert.equal(decode(bytes("i-9223372036854775808e")), -9223372036854775808n);
  assert.equal(decode(bytes("i0e")), 0);
  assert.deepEqual(decode(bytes("le")), []);
  assert.deepEqual(decode(bytes("de")), new Map());
  assert.deepEqual(decode(bytes("0:")), new Uint8Array(0));
  assert.deepEqual(decode(bytes("lli1eee")), [[1]]);
});

Deno.test("decode: strict, every non-canonical or broken input is refused", () => {
  const bad: [string, RegExp][] = [
    ["", /end of input/],
    ["i03e", /leading zero/],
    ["i-0e", /-0/],
    ["i-03e", /leading zero/],
    ["ie", /digit/],
    ["i-e", /digit/],
    ["i1", /unterminated/],
    ["i1.5e", /unterminated/],
    ["i+1e", /digit/],
    ["03:abc", /leading zero/],
    ["00:", /leading zero/],
    ["4:abc", /longer than the input/],
    ["3abc", /unterminated/],
    ["-1:a", /unexpected byte/],
    ["l", /unterminated list/],
    ["li1e", /unterminated list/],
    ["d", /unterminated dict/],
    ["d1:ai1e", /unterminated dict/],
    ["d1:a", /end of input/],
    ["di1ei2ee", /not a string/],
    ["d1:bi1e1:ai2ee", /not sorted/],
    ["d1:ai1e1:ai2ee", /duplicate/],
    ["d2:abi1e1:ai2ee", /not sorted/],
    ["i1ei2e", /trailing data/],
    ["0:x", /trailing data/],
    ["lee", /trailing data/],
    ["x", /unexpected byte/],
    ["99999999999999999999:", /longer than the input/],
  ];
  for (const [input, why] of bad) {
    assert.throws(() => decode(bytes(input)), (e: unknown) => {
      assert.ok(e instanceof BencodeError, input);
      assert.match(e.message, why, `${JSON.stringify(input)}: ${e.message}`);
      return true;
    });
  }
  // Keys are compared as unsigned bytes: 0x7f sorts before 0x80.
  assert.ok(decode(bytes("d1:\x7fi1e1:\x80i2ee")) instanceof Map);
  assert.throws(() => decode(bytes("d1:\x80i1e1:\x7fi2ee")), /not sorted/);
  // Nesting is bounded instead of overflowing the stack.
  const deep = "l".repeat(MAX_DECODE_DEPTH + 1) + "e".repeat(MAX_DECODE_DEPTH + 1);
  assert.throws(() => decode(bytes(deep)), /nested too deeply/);
  assert.throws(() => decode(bytes("l".repeat(100000))), /nested too deeply/);
  const ok = "l".repeat(MAX_DECODE_DEPTH) + "e".repeat(MAX_DECODE_DEPTH);
  assert.ok(Array.isArray(decode(bytes(ok))));
});

Deno.test("compareBytes orders like memcmp, then by length", () => {
  const c = (a: number[], b: number[]) =>
    Math.sign(compareBytes(new Uint8Array(a), new Uint8Array(b)));
  assert.equal(c([1, 2], [1, 2]), 0);
  assert.equal(c([1], [1, 2]), -1);
  assert.equal(c([0xff], [0x00, 0xff]), 1);
  assert.equal(c([], []), 0);
});
