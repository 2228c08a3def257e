/** `shoal udp` start-up, shutdown, supervision, cleaning and statistics. */
import assert from "assert";
import { startShoalWith } from "./helpers/shoal.ts";
import { randomId, UdpClient } from "./helpers/udp_client.ts";

const BASE = { request_workers: 2, network: { use_ipv6: false, io: "ffi" } };

Deno.test("SIGTERM and SIGINT stop the tracker cleanly and promptly", async () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    const shoal = await startShoalWith("udp", { ...BASE, socket_workers: 2 });
    const started = performance.now();
    shoal.child.kill(signal);
    const status = await shoal.child.status;
    const ms = performance.now() - started;
    assert.equal(status.code, 0, `${signal}: ${shoal.output.join("\n")}`);
    // The issue asks for one second; allow slack for a loaded CI machine.
    assert.ok(ms < 3000, `${signal} took ${ms} ms`);
    await shoal.stop();
  }
});

Deno.test("cleaning drops peers after max_peer_age; statistics are printed", async () => {
  const shoal = await startShoalWith("udp", {
    ...BASE,
    socket_workers: 1,
    cleaning: { interval: 1, max_peer_age: 2 },
    statistics: { interval: 1 },
  });
  const c = new UdpClient(shoal.listening[0]);
  try {
    const cid = await c.connect();
    const info = randomId();
    await c.announce(cid, { infoHash: info, peerId: randomId(), left: 0n });
    let s = await c.scrape(cid, [info]);
    assert.ok(s.action === 2);
    assert.deepEqual(s.torrents[0], { seeders: 1, completed: 0, leechers: 0 });
    const line = await shoal.waitFor(
      /stats: .*torrents 1, peers 1 \(seeders 1, leechers 0\)/,
      5000,
    );
    assert.match(line, /requests\/s/);
    const deadline = Date.now() + 8000;
    do {
      await new Promise((r) => setTimeout(r, 500));
      s = await c.scrape(cid, [info]);
      assert.ok(s.action === 2);
    } while (s.torrents[0].seeders !== 0 && Date.now() < deadline);
    assert.deepEqual(s.torrents[0], { seeders: 0, completed: 0, leechers: 0 });
    await shoal.waitFor(/stats: .*torrents 0, peers 0/, 5000);
  } finally {
    c.close();
    await shoal.stop();
  }
});
