import assert from "assert";
import { History, HISTORY_INTERVAL_S, HISTORY_POINTS } from "../../shared/observe/history.ts";
import { sampleEvery } from "../../shared/observe/endpoint.ts";
import { Logger } from "../../shared/base/log.ts";

/** A sample with one socket worker (index 0) and one request worker. */
const one = (requests: number, responses = requests, peers = 0) => ({
  requests: { 0: requests },
  responses: { 0: responses },
  peers: { 0: peers },
});

Deno.test("history: one hour of 5 s samples, rates from cumulative counters", () => {
  assert.equal(HISTORY_INTERVAL_S * HISTORY_POINTS, 3600);
  const h = new History();
  h.add(one(1000, 990, 3), 0);
  assert.equal(h.length, 0, "the first sample is only the baseline");
  h.add(one(1500, 1480, 4), 5000);
  h.add(one(1500, 1480, 2), 10000);
  h.add(one(1501, 1481, 2), 12500); // a late tick: its own dt
  const j = h.toJson(12500, 1_700_000_012_500);
  assert.equal(j.interval, 5);
  assert.equal(j.now, 1_700_000_012.5);
  assert.deepEqual(j.points, [
    [1_700_000_005, 100, 98, 4],
    [1_700_000_010, 0, 0, 2],
    [1_700_000_013, 0.4, 0.4, 2], // 12.5 s rounds up
  ]);
});

Deno.test("history: the ring wraps around at its capacity and stays bounded", () => {
  const h = new History(4, 1000);
  for (let s = 0; s <= 10; s++) h.add(one(s * s), s * 1000);
  assert.equal(h.length, 4);
  const j = h.toJson(10_000, 10_000);
  assert.deepEqual(j.points.map((p) => p[0]), [7, 8, 9, 10], "the newest four, oldest first");
  // (s² − (s−1)²) per second = 2s − 1.
  assert.deepEqual(j.points.map((p) => p[1]), [13, 15, 17, 19]);
  const full = new History();
  for (let s = 0; s < 3 * HISTORY_POINTS; s++) full.add(one(s), s * 5000);
  assert.equal(full.length, HISTORY_POINTS);
  assert.equal(full.toJson(0, 0).points.length, HISTORY_POINTS);
});

Deno.test("history: a replaced worker's counters restart without a negative rate or a spike", () => {
  const h = new History(10, 1000);
  const two = (a: number, b: number) => ({
    requests: { 0: a, 1: b },
    responses: { 0: a, 1: b },
    peers: { 0: 5, 1: 5 },
  });
  h.add(two(1_000_000, 2_000_000), 0);
  h.add(two(1_000_100, 2_000_100), 1000); // 100/s each
  h.add(two(1_000_200, 30), 2000); // worker 1 replaced: 30 since its restart
  h.add(two(1_000_300, 130), 3000);
  const rates = h.toJson(3000, 3000).points.map((p) => p[1]);
  assert.deepEqual(rates, [200, 130, 200]);
  // A sum of the two could not tell: it would have fallen by almost 2 000 000.
});

Deno.test("history: a worker missing from one collection counts at its last rate", () => {
  const h = new History(10, 1000);
  h.add({ requests: { 0: 0, 1: 0 }, responses: { 0: 0, 1: 0 }, peers: { 0: 7, 1: 3 } }, 0);
  h.add({ requests: { 0: 10, 1: 50 }, responses: { 0: 10, 1: 50 }, peers: { 0: 7, 1: 3 } }, 1000);
  h.add({ requests: { 0: 20 }, responses: { 0: 20 }, peers: { 0: 8 } }, 2000); // 1 silent
  h.add({ requests: { 0: 30, 1: 150 }, responses: { 0: 30, 1: 150 }, peers: {} }, 3000);
  const j = h.toJson(3000, 3000).points;
  assert.deepEqual(j.map((p) => p[1]), [60, 60, 60], "no dip, and no spike when it is back");
  assert.deepEqual(j.map((p) => p[3]), [10, 11, 11], "peers at their last count");
  // Silent for longer than three intervals: it no longer counts.
  h.add({ requests: { 0: 40 }, responses: { 0: 40 }, peers: { 0: 8 } }, 7100);
  assert.deepEqual(h.toJson(7100, 7100).points.at(-1), [7, 2.439, 2.439, 8]);
});

Deno.test("history: no socket worker answered, no point (a gap); unknown rates are null", () => {
  const h = new History(10, 1000);
  h.add({ requests: {}, responses: {}, peers: {} }, 0);
  h.add({ requests: {}, responses: {}, peers: { 0: 1 } }, 1000);
  assert.equal(h.length, 0);
  h.add(one(5, 5, 1), 2000); // first reading of worker 0: no rate yet
  h.add(one(7, 7, 1), 3000);
  assert.deepEqual(h.toJson(3000, 3000).points, [[2, null, null, 1], [3, 2, 2, 1]]);
  assert.equal(JSON.stringify(h.toJson(3000, 3000).points[0]), "[2,null,null,1]");
});

Deno.test("history sampler: a baseline at once, one sample at a time, errors leave a gap", async () => {
  const h = new History(100, 20);
  let calls = 0, inFlight = 0, most = 0;
  let release: () => void = () => {};
  const slow = new Promise<void>((r) => release = r);
  const stop = sampleEvery(h, async () => {
    const n = ++calls;
    inFlight++;
    most = Math.max(most, inFlight);
    try {
      if (n === 2) await slow; // ticks during this one are skipped
      if (n === 3) throw new Error("workers busy");
      return one(10 * n);
    } finally {
      inFlight--;
    }
  }, new Logger("error"));
  assert.equal(calls, 1, "the baseline is taken when the sampler starts");
  while (calls < 2) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 100)); // several ticks pass while sample 2 waits
  assert.equal(calls, 2);
  release();
  while (h.length < 3) await new Promise((r) => setTimeout(r, 5));
  stop();
  assert.equal(most, 1);
  const n = calls;
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(calls, n, "stopped");
});
