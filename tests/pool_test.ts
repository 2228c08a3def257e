/**
 * Collections from real workers: replies are keyed by (collection id, worker), so a reply
 * that comes after its collection gave up is dropped rather than counted in the next one,
 * collections run at once, a slow one holding up no other, and the heartbeat does not take a
 * main thread that was busy for seconds for silent workers.
 */
import assert from "assert";
import { Pool } from "../shared/runtime/pool.ts";
import { Logger } from "../shared/base/log.ts";
import type { CollectWorkerInit, CollectWorkerStats } from "./fixtures/collect_worker.ts";

const URL_ = new URL("./fixtures/collect_worker.ts", import.meta.url);

async function pool(slow: Partial<CollectWorkerInit>) {
  const p = new Pool<CollectWorkerStats>(new Logger("error"));
  for (const [name, extra] of [["request worker 0", {}], ["request worker 1", slow]] as const) {
    const init: CollectWorkerInit = { name, delayMs: 0, slowRounds: 0, ...extra };
    await p.spawn<CollectWorkerInit, string>({
      name,
      url: URL_,
      init: () => ({ init, transfer: [] }),
      fault: () => "",
    });
  }
  return p;
}

Deno.test("pool: a late reply is dropped, never counted in the next collection", async () => {
  // Worker 1 takes 3 s over its first answer; collections wait 1 s.
  const p = await pool({ delayMs: 3000, slowRounds: 1 });
  try {
    const first = await p.collect("stats", "", 1000);
    assert.deepEqual(first.map((r) => r.what === "stats" && r.body.name), ["request worker 0"]);
    await new Promise((r) => setTimeout(r, 2500)); // worker 1's late reply arrives meanwhile
    const second = (await p.stats()).sort((a, b) => a.name.localeCompare(b.name));
    // Each worker once, with its second answer; worker 1's first (late) one is gone.
    assert.deepEqual(second, [
      { name: "request worker 0", round: 2 },
      { name: "request worker 1", round: 2 },
    ]);
  } finally {
    p.terminate();
  }
});

Deno.test("pool: collections run at once; a slow one holds up no other", async () => {
  const p = await pool({ delayMs: 3000, slowRounds: 0 });
  try {
    const order: string[] = [];
    const saving = p.saves(10000).then((parts) => { // worker 1 takes 3 s to save
      order.push("saved");
      return parts;
    });
    const stats = await p.collect("stats", "request worker 0");
    order.push("stats");
    assert.equal(stats.length, 1);
    assert.equal((await saving)?.length, 2, "both saved");
    // Worker 0's stats did not wait behind worker 1's save (one queue would have made them).
    assert.deepEqual(order, ["stats", "saved"]);
  } finally {
    p.terminate();
  }
});

Deno.test("pool: a main thread busy for seconds does not take its workers for dead", async () => {
  const p = await pool({});
  try {
    const before = p.workers.map((w) => w.worker);
    p.heartbeat(200);
    await new Promise((r) => setTimeout(r, 500));
    const end = performance.now() + 1500; // 7 beats with this thread stuck, as a long write
    while (performance.now() < end) { /* busy */ }
    await new Promise((r) => setTimeout(r, 800));
    // The same workers: none was replaced.
    assert.deepEqual(p.workers.map((w) => w.worker), before);
  } finally {
    p.terminate();
  }
});
