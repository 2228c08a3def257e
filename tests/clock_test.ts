/**
 * Ages use the monotonic clock: with the wall clock stepped a day forward and back again
 * (libfaketime under the real process), connection IDs stay valid, peers stay in their
 * swarms, and idle WebSocket connections stay open.
 */
import assert from "assert";
import { type RunningShoal, startShoal, writeConfig } from "./helpers/shoal.ts";
import { randomId, UdpClient } from "./helpers/udp_client.ts";
import { bin20, WsClient } from "./helpers/ws_client.ts";

const LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
const haveFaketime = await Deno.stat(LIB).then(() => true, () => false);
if (!haveFaketime) console.log(`SKIPPED the clock tests: ${LIB} is missing (apt install faketime)`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts shoal with its wall clock read from a file the test rewrites (`+0`, `+1d`, ...). */
async function startFaked(args: string[], listening: number) {
  const clock = await Deno.makeTempFile({ prefix: "shoal-clock-" });
  await Deno.writeTextFile(clock, "+0\n");
  const shoal = await startShoal(args, listening, 15000, {
    LD_PRELOAD: LIB,
    FAKETIME_TIMESTAMP_FILE: clock,
    FAKETIME_NO_CACHE: "1",
    FAKETIME_DONT_FAKE_MONOTONIC: "1",
  });
  const step = (offset: string) => Deno.writeTextFile(clock, `${offset}\n`);
  return { shoal, step, clock };
}

async function done(shoal: RunningShoal, files: string[]) {
  assert.equal(await shoal.stop(), 0, shoal.output.join("\n"));
  for (const f of files) await Deno.remove(f);
}

Deno.test({
  name: "udp: a wall-clock step expires no connection ID and drops no peer",
  ignore: !haveFaketime,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const file = await writeConfig(`[network]
address = "127.0.0.1:0"
use_ipv6 = false
[cleaning]
interval = 1
max_peer_age = 60
max_connection_age = 60
[statistics]
interval = 0
`);
    const { shoal, step, clock } = await startFaked(["udp", "-c", file], 1);
    const c = new UdpClient(shoal.listening[0]);
    try {
      const cid = await c.connect();
      const info = randomId();
      await c.announce(cid, { infoHash: info, peerId: randomId(), left: 0n });
      for (const offset of ["+1d", "-1d", "+0"]) {
        await step(offset);
        await sleep(2500); // two cleaning passes
        const s = await c.scrape(cid, [info]);
        assert.ok(s.action === 2, `the connection ID still works after ${offset}`);
        assert.deepEqual(s.torrents, [{ seeders: 1, completed: 0, leechers: 0 }], offset);
      }
    } finally {
      c.close();
      await done(shoal, [file, clock]);
    }
  },
});

Deno.test({
  name: "ws: a wall-clock step drops no peer and closes no connection as idle",
  ignore: !haveFaketime,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const file = await writeConfig(`[network]
address = "127.0.0.1:0"
[cleaning]
interval = 1
max_peer_age = 60
max_connection_idle = 60
[statistics]
interval = 0
`);
    const { shoal, step, clock } = await startFaked(["ws", "-c", file], 1);
    const l = shoal.listening[0];
    const url = `ws://${l.hostname}:${l.port}/`;
    const a = await WsClient.connect(url), b = await WsClient.connect(url);
    try {
      const info = bin20();
      a.send({ action: "announce", info_hash: info, peer_id: bin20(), left: 0 });
      await a.next((m) => m.info_hash === info);
      await step("+1d");
      await sleep(11_000); // idle connections are swept every 10 s
      b.send({ action: "scrape", info_hash: info });
      const files = (await b.next((m) => m.action === "scrape")).files;
      assert.deepEqual(files[info], { complete: 1, incomplete: 0, downloaded: 0 });
      a.send({ action: "scrape", info_hash: info });
      assert.equal((await a.next((m) => m.action === "scrape")).action, "scrape", "a still open");
    } finally {
      await Promise.all([a.close(), b.close()]);
      await done(shoal, [file, clock]);
    }
  },
});
