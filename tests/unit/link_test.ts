import assert from "assert";
import { Link, ringBytes } from "../../shared/runtime/link.ts";

/** Two links over one channel; `got` collects what `b` receives, as copies. */
function pair(ring: number) {
  const ch = new MessageChannel();
  const a = new Link(ch.port1, ring), b = new Link(ch.port2, ring);
  const got: Uint8Array[] = [];
  b.onmessage = (d) => got.push((d as Uint8Array).slice());
  return { a, b, got };
}

/** Batch `i`: `len` bytes, each `(i + k) & 0xff`. */
function batch(i: number, len: number): Uint8Array<ArrayBuffer> {
  return Uint8Array.from({ length: len }, (_, k) => (i + k) & 0xff);
}

async function until(f: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 2));
  }
}

Deno.test("link: batches cross a small ring in order, through many wrap-arounds and a full ring", async () => {
  const { a, b, got } = pair(4096);
  const sent: Uint8Array[] = [];
  // Odd lengths (padding), a burst larger than the ring (the rest waits in the writer), then
  // more while the reader drains.
  for (let i = 0; i < 300; i++) {
    const x = batch(i, 1 + ((i * 37) % 1000));
    sent.push(x);
    a.sendBytes(x, x.length);
    if (i % 50 === 49) await new Promise((r) => setTimeout(r, 0));
  }
  await until(() => got.length === sent.length);
  assert.deepEqual(got, sent);
  a.close();
  b.close();
});

Deno.test("link: only the first `len` bytes go; a batch too large for the ring takes the port", async () => {
  const { a, b, got } = pair(4096);
  const big = batch(7, 3000), reused = batch(1, 100);
  a.sendBytes(reused, 10);
  reused.fill(0); // the link copied it
  a.sendBytes(big, big.length);
  await until(() => got.length === 2);
  // The large one went over the port: it may overtake the ring's.
  got.sort((x, y) => x.length - y.length);
  assert.deepEqual(got, [batch(1, 10), big]);
  a.close();
  b.close();
});

Deno.test("link: a closed link neither delivers nor sends", async () => {
  const { a, b, got } = pair(4096);
  a.sendBytes(batch(0, 8), 8);
  await until(() => got.length === 1);
  b.close();
  a.sendBytes(batch(1, 8), 8);
  a.close();
  a.sendBytes(batch(2, 8), 8);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(got.length, 1);
});

Deno.test("link: structured-clone messages pass through the port untouched", async () => {
  const ch = new MessageChannel();
  const a = new Link(ch.port1, 4096), b = new Link(ch.port2, 4096);
  const got: unknown[] = [];
  b.onmessage = (d) => got.push(d);
  a.postMessage([1, "two", 3]);
  await until(() => got.length === 1);
  assert.deepEqual(got, [[1, "two", 3]]);
  a.close();
  b.close();
});

Deno.test("link: ring sizes keep a worker's rings near 2 MiB, within bounds", () => {
  assert.equal(ringBytes(1), 512 << 10);
  assert.equal(ringBytes(16), 128 << 10);
  assert.equal(ringBytes(1000), 64 << 10);
});
