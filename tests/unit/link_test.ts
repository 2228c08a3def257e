import assert from "assert";
import { Link, ringBytes } from "../../shared/runtime/link.ts";

/**
 * Two links over one channel; `got` collects what `b` receives, as copies; `deliveredAll`
 * waits until `b` got as many batches as were sent, asserts they are those, and closes both.
 */
function pair(ring: number) {
  const ch = new MessageChannel();
  const a = new Link(ch.port1, ring), b = new Link(ch.port2, ring);
  const got: Uint8Array[] = [];
  b.onmessage = (d) => got.push((d as Uint8Array).slice());
  const deliveredAll = async (sent: Uint8Array[]) => {
    await until(() => got.length === sent.length);
    assert.deepEqual(got, sent);
    a.close();
    b.close();
  };
  return { a, b, got, deliveredAll };
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
  const { a, deliveredAll } = pair(4096);
  const sent: Uint8Array[] = [];
  // Odd lengths (padding), a burst larger than the ring (the rest waits in the writer), then
  // more while the reader drains.
  for (let i = 0; i < 300; i++) {
    const x = batch(i, 1 + ((i * 37) % 1000));
    sent.push(x);
    a.sendBytes(x, x.length);
    if (i % 50 === 49) await new Promise((r) => setTimeout(r, 0));
  }
  await deliveredAll(sent);
});

Deno.test("link: only the first `len` bytes go; batches larger than the ring cross in pieces, in order", async () => {
  const { a, deliveredAll } = pair(4096);
  const reused = batch(1, 100);
  a.sendBytes(reused, 10);
  reused.fill(0); // the link copied it
  // Larger than a quarter of the ring (pieces), than the whole ring (pieces wait for room),
  // exactly one piece, and small ones between them: all arrive whole, in the order sent.
  const sent = [batch(1, 10)];
  for (const len of [3000, 20000, 1020, 8, 1021, 5000, 0, 4]) {
    const x = batch(len, len);
    sent.push(x);
    a.sendBytes(x, len);
  }
  await deliveredAll(sent);
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
