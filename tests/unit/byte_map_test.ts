import assert from "assert";
import { ByteMap } from "../../shared/byte_map.ts";

function key(n: number): Uint8Array {
  const k = new Uint8Array(20);
  new DataView(k.buffer).setUint32(3, n);
  return k;
}

Deno.test("ByteMap: insert, get, delete and iterate like a Map", () => {
  const m = new ByteMap<number>(20, 11, 22);
  const ref = new Map<number, number>();
  let seed = 1;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  for (let step = 0; step < 50000; step++) {
    const n = rand() % 3000;
    const k = key(n);
    if (rand() % 3 === 0) {
      for (let i = 0; i < m.capacity; i++) {
        if (m.valueAt(i) === n) {
          m.deleteAt(i);
          break;
        }
      }
      ref.delete(n);
    } else if (m.get(k, 0) === undefined) {
      m.insert(k, 0, n);
      ref.set(n, n);
    }
    if (step % 5000 === 0) m.compact();
  }
  assert.equal(m.size, ref.size);
  for (const n of ref.keys()) assert.equal(m.get(key(n), 0), n);
  for (let n = 0; n < 3000; n++) if (!ref.has(n)) assert.equal(m.get(key(n), 0), undefined);
  const seen = new Set<number>();
  const out = new Uint8Array(20);
  for (let i = 0; i < m.capacity; i++) {
    const v = m.valueAt(i);
    if (v === undefined) continue;
    seen.add(v);
    m.keyAt(i, out, 0);
    assert.deepEqual(out, key(v));
  }
  assert.equal(seen.size, ref.size);
});

Deno.test("ByteMap: reads keys at an offset and shrinks when emptied", () => {
  const m = new ByteMap<string>(20, 1, 2);
  const buf = new Uint8Array(100);
  for (let i = 0; i < 1000; i++) {
    buf.set(key(i), 37);
    m.insert(buf, 37, `v${i}`);
  }
  const grown = m.capacity;
  assert.ok(grown >= 2000);
  buf.set(key(500), 50);
  assert.equal(m.get(buf, 50), "v500");
  for (let i = 0; i < m.capacity;) {
    if (m.valueAt(i) !== undefined) m.deleteAt(i);
    else i++;
  }
  assert.equal(m.size, 0);
  m.compact();
  assert.ok(m.capacity < grown);
});
