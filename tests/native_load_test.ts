/**
 * The C load generators build and measure real trackers: `ws_load.c` against `shoal ws`, and
 * `http_load.c` in both modes against opentracker (where it is installed). About a second each,
 * and no throughput thresholds: a slow machine must pass.
 */
import assert from "assert";
import { processTest } from "./helpers/shoal.ts";
import { buildNativeLoad, runHttpLoad, runNativeWsLoad } from "../harness/load/native_load.ts";
import { shoalTracker, startOpentracker } from "../harness/trackers.ts";

processTest(
  "ws_load.c drives shoal ws: replies, offers and answers come back, nothing fails",
  async () => {
    await buildNativeLoad("ws_load");
    // As the bench runs it: every client is 127.0.0.1, so the per-IP limit is lifted.
    const shoal = await shoalTracker("ws", {
      socket_workers: 1,
      request_workers: 1,
      limits: { max_connections_per_ip: 100000000 },
    });
    try {
      const r = await runNativeWsLoad({
        target: `127.0.0.1:${shoal.wsPort}`,
        seconds: 1,
        warmup: 0.3,
        connections: 32,
        progress: false,
      });
      assert.ok(r.byKind.replies > 0, JSON.stringify(r));
      assert.ok(r.byKind.offers > 0, JSON.stringify(r));
      assert.ok(r.byKind.answers > 0, JSON.stringify(r));
      assert.equal(r.byKind.failures, 0, JSON.stringify(r));
      assert.equal(r.closed, 0, JSON.stringify(r));
      assert.deepEqual(r.problems, []);
      assert.equal(
        r.messages,
        r.byKind.replies + r.byKind.offers + r.byKind.answers + r.byKind.failures,
      );
      assert.ok(r.total >= r.messages);
      assert.ok(r.generatorCpuMicros > 0, JSON.stringify(r));
    } finally {
      await shoal.stop();
    }
  },
);

const hasOpentracker = await Deno.stat("/usr/bin/opentracker").then(() => true, () => false);
if (!hasOpentracker) {
  console.log(
    "native load test: /usr/bin/opentracker is missing (apt-get install opentracker): " +
      "http_load.c is only built",
  );
}

processTest(
  "http_load.c announces and scrapes against opentracker, keep-alive and close modes",
  async () => {
    await buildNativeLoad("http_load");
    if (!hasOpentracker) return;
    const torrents = 1000;
    const t = await startOpentracker(torrents);
    try {
      for (const mode of ["keepalive", "close"] as const) {
        const r = await runHttpLoad({
          target: `127.0.0.1:${t.httpPort}`,
          seconds: 1,
          warmup: 0.3,
          connections: 16,
          torrents,
          peers: 10000,
          mode,
          progress: false,
        });
        const what = `${mode}: ${JSON.stringify(r)}`;
        assert.ok(r.byType.announce > 0, what);
        assert.ok(r.byType.scrape > 0, what);
        // Every hash is on opentracker's allow list: no failure reasons, no malformed replies.
        assert.equal(r.byType.failure, 0, what);
        assert.equal(r.errors, 0, what);
        assert.equal(r.mode, mode);
        assert.ok(r.generatorCpuMicros > 0, what);
        // opentracker closes every connection after its reply, whatever the mode.
        assert.ok(r.reconnects > 0, what);
      }
    } finally {
      await t.stop();
    }
  },
);
