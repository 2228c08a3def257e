import assert from "assert";
import { HalfSipHash13, SipHash24 } from "../../shared/base/hash.ts";

// Reference vectors from the SipHash paper (vectors.h): key 00..0f, message 00..(len-1).
const SIPHASH24_VECTORS: [number, bigint][] = [
  [0, 0x726fdb47dd0e0e31n],
  [1, 0x74f839c593dc67fdn],
  [7, 0xab0200f58b01d137n],
  [8, 0x93f5f5799a932462n],
  [15, 0xa129ca6149be45e5n],
  [63, 0x958a324ceb064572n],
];

function keyWords(): Uint32Array {
  const k = new Uint8Array(16).map((_, i) => i);
  return new Uint32Array(k.buffer);
}

Deno.test("SipHash-2-4 matches the reference vectors", () => {
  const h = new SipHash24(keyWords());
  const msg = new Uint8Array(64).map((_, i) => i);
  for (const [len, want] of SIPHASH24_VECTORS) {
    const lo = h.hash(msg, 0, len);
    const got = (BigInt(h.hi) << 32n) | BigInt(lo);
    assert.equal(got.toString(16), want.toString(16), `length ${len}`);
  }
});

Deno.test("SipHash-2-4 reads from an offset", () => {
  const h = new SipHash24(keyWords());
  const msg = new Uint8Array(40).map((_, i) => i);
  const padded = new Uint8Array(50);
  padded.set(msg, 7);
  assert.equal(h.hash(msg, 0, 15), h.hash(padded, 7, 15));
});

Deno.test("HalfSipHash-1-3 depends on key, every byte and length", () => {
  const a = new HalfSipHash13(1, 2), b = new HalfSipHash13(1, 3);
  const msg = new Uint8Array(20).map((_, i) => i * 7);
  const base = a.hash(msg, 0, 20);
  assert.notEqual(base, b.hash(msg, 0, 20));
  for (let i = 0; i < 20; i++) {
    const m = msg.slice();
    m[i] ^= 1;
    assert.notEqual(a.hash(m, 0, 20), base, `byte ${i}`);
  }
  assert.notEqual(a.hash(new Uint8Array(4), 0, 3), a.hash(new Uint8Array(4), 0, 4));
  assert.ok(base >= 0 && base <= 0xffffffff && Number.isInteger(base));
});

Deno.test("HalfSipHash-1-3 spreads sequential keys over buckets", () => {
  const h = new HalfSipHash13(0x12345678, 0x9abcdef0);
  const buckets = new Uint32Array(64);
  const key = new Uint8Array(20);
  for (let i = 0; i < 64000; i++) {
    key[0] = i;
    key[1] = i >> 8;
    buckets[h.hash(key, 0, 20) & 63]++;
  }
  for (const n of buckets) assert.ok(n > 800 && n < 1200, `bucket count ${n}`);
});
