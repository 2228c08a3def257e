/**
 * Ages use the monotonic clock: with the wall clock stepped a day forward and back again
 * (libfaketime under the real process), connection IDs stay valid, peers stay in their
 * swarms, and idle WebSocket connections stay open; with it stepped back, a WebSocket
 * handshake that takes too long is still closed.
 */
import assert from "assert";
import {
  type ConfigParts,
  processTest,
  type RunningShoal,
  startShoalWith,
  trackerUrl,
} from "./helpers/shoal.ts";
import { randomId, UdpClient } from "./helpers/udp_client.ts";
import { bin20, WsClient } from "../harness/ws_client.ts";

const LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
const haveFaketime = await Deno.stat(LIB).then(() => true, () => false);
if (!haveFaketime) console.log(`SKIPPED the clock tests: ${LIB} is missing (apt install faketime)`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `shoal protocol` on 127.0.0.1 with `parts` and its wall clock read from a file the test
 * rewrites (`+0`, `+1d`, ...).
 */
async function startFaked(protocol: "udp" | "ws", parts: ConfigParts) {
  const clock = await Deno.makeTempFile({ prefix: "shoal-clock-" });
  await Deno.writeTextFile(clock, "+0\n");
  const shoal = await startShoalWith(protocol, parts, 1, {
    env: {
      LD_PRELOAD: LIB,
      FAKETIME_TIMESTAMP_FILE: clock,
      FAKETIME_NO_CACHE: "1",
      FAKETIME_DONT_FAKE_MONOTONIC: "1",
    },
  });
  const step = (offset: string) => Deno.writeTextFile(clock, `${offset}\n`);
  return { shoal, step, files: [clock] };
}

async function done(shoal: RunningShoal, files: string[]) {
  assert.equal(await shoal.stop(), 0, shoal.output.join("\n"));
  for (const f of files) await Deno.remove(f);
}

/** Cleaning every second, with ages far longer than the test. */
const cleaning = { interval: 1, max_peer_age: 60 };
const ignore = !haveFaketime;

processTest("udp: a wall-clock step expires no connection ID and drops no peer", async () => {
  const { shoal, step, files } = await startFaked("udp", {
    network: { use_ipv6: false },
    cleaning: { ...cleaning, max_connection_age: 60 },
  });
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
    await done(shoal, files);
  }
}, { ignore });

processTest("ws: a wall-clock step drops no peer and closes no connection as idle", async () => {
  const { shoal, step, files } = await startFaked("ws", {
    cleaning: { ...cleaning, max_connection_idle: 60 },
  });
  const url = trackerUrl(shoal);
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
    await done(shoal, files);
  }
}, { ignore });

processTest("ws: a wall-clock step back still closes a handshake that takes too long", async () => {
  const { shoal, step, files } = await startFaked("ws", {});
  const l = shoal.listening[0];
  const conn = await Deno.connect({ hostname: l.hostname, port: l.port });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    // A request head that never ends, then the wall clock a day back.
    await conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n"));
    await step("-1d");
    // The server gives up on the handshake 10 s (HANDSHAKE_MS) after it began: end of stream.
    const read = conn.read(new Uint8Array(64)).catch(() => null);
    const silence = new Promise((r) => timer = setTimeout(() => r("silence"), 14_000));
    assert.equal(await Promise.race([read, silence]), null, "the server closed it");
  } finally {
    clearTimeout(timer);
    conn.close();
    await done(shoal, files);
  }
}, { ignore });
