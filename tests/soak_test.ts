/**
 * The short soak that CI runs: a minute of mixed UDP and WebSocket load with churn against the
 * real trackers (`harness/soak.ts`; `deno task soak` runs it for five minutes).
 */
import assert from "assert";
import { soak } from "../harness/soak.ts";
import { processTest } from "./helpers/shoal.ts";

processTest(
  "soak: a minute of mixed load with churn; all answered, live memory level after warm-up",
  async () => {
    const r = await soak({ seconds: 60, warmup: 0.5 });
    console.log(JSON.stringify({ udp: r.udp, ws: r.ws, memory: r.memory }));
    assert.deepEqual(r.failures, []);
    assert.equal(r.udp.answered, r.udp.sent);
    assert.equal(r.ws.answered, r.ws.sent);
  },
);
