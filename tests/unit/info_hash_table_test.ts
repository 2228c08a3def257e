import assert from "assert";
import { InfoHashTable } from "../../shared/store/info_hash_table.ts";

Deno.test("InfoHashTable: finds what a Map finds through inserts, removes, growth and compaction", () => {
  let grown = 0;
  const table = new InfoHashTable(9, 10, (ids) => (grown = ids));
  const live = new Map<number, number>(); // key number -> id
  const key = (n: number) => {
    const b = new Uint8Array(20);
    new DataView(b.buffer).setUint32(4, n);
    b[0] = n & 0xff;
    return b;
  };
  let seed = 3;
  const rand = (m: number) => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % m;
  for (let step = 0; step < 60000; step++) {
    // Grow to ~3000 keys, shrink to ~100 (compacting on the way), grow again.
    const phase = Math.floor(step / 20000);
    const n = rand(phase === 1 ? 150 : 4000);
    const id = table.find(key(n), 0);
    assert.equal(id, live.get(n) ?? -1, `find ${n} at step ${step}`);
    const removing = phase === 1 ? rand(4) !== 0 : rand(3) === 0;
    if (id >= 0 && removing) {
      table.remove(id);
      live.delete(n);
    } else if (id < 0 && !(phase === 1 && removing)) {
      live.set(n, table.insert(key(n), 0));
    }
    if (phase === 1 && step % 1000 === 0) {
      // Drop keys outside the small range, then shrink the index as a cleaning pass does.
      for (const [k, i] of live) {
        if (k >= 150) {
          table.remove(i);
          live.delete(k);
        }
      }
      table.compact();
    }
  }
  assert.equal(table.size, live.size);
  assert.ok(grown >= 2048, "the id space grew");
  const out = new Uint8Array(20);
  for (const [n, id] of live) {
    assert.ok(table.isLive(id));
    assert.equal(table.find(key(n), 0), id);
    table.keyOf(id, out, 0);
    assert.deepEqual(out, key(n));
  }
});
