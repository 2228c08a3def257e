/**
 * Access lists against the running tracker: allow and deny for udp and ws, a reload on SIGUSR1
 * while clients keep announcing, torrents no longer allowed dropped at the next cleaning, and
 * bad files refused at start.
 */
import assert from "assert";
import {
  assertRefused,
  processTest,
  runWithConfig,
  startShoalWith,
  trackerUrl,
} from "./helpers/shoal.ts";
import { randomId, UdpClient } from "./helpers/udp_client.ts";
import { bin20, WsClient } from "../harness/ws_client.ts";

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

processTest(
  "udp: allow list, reloaded on SIGUSR1 under load; dropped torrents leave at cleaning",
  async () => {
    const [a, b] = [randomId(), randomId()];
    const list = await Deno.makeTempFile({ suffix: ".txt" });
    await Deno.writeTextFile(list, `# only A\n${hex(a)}\n`);
    const shoal = await startShoalWith("udp", {
      request_workers: 2,
      network: { use_ipv6: false },
      cleaning: { interval: 1 },
      access_list: { mode: "allow", path: list },
    });
    const c = new UdpClient(shoal.listening[0]);
    let loadErrors = 0, loadAnswers = 0, stop = false;
    try {
      const cid = await c.connect();
      let r = await c.announce(cid, { infoHash: a, peerId: randomId(), left: 0n });
      assert.equal(r.action, 1);
      r = await c.announce(cid, { infoHash: b, peerId: randomId(), left: 0n });
      assert.ok(r.action === 3 && r.message === "info hash not allowed");
      let s = await c.scrape(cid, [a, b]);
      assert.ok(s.action === 2);
      assert.deepEqual(s.torrents.map((t) => t.seeders), [1, 0]);

      // Clients keep announcing A on their own sockets while the list changes to B only.
      const load = (async () => {
        const lc = new UdpClient(shoal.listening[0]);
        const lcid = await lc.connect();
        while (!stop) {
          const x = await lc.announce(lcid, { infoHash: a, peerId: randomId(), left: 1n }).catch(
            () => null,
          );
          if (x === null) loadErrors++;
          else loadAnswers++;
        }
        lc.close();
      })();
      await new Promise((r) => setTimeout(r, 200));
      await Deno.writeTextFile(list, `${hex(b)}\n`);
      shoal.child.kill("SIGUSR1");
      await shoal.waitFor(/access list reloaded \(1 info hashes\)/);
      // Each request worker applies it when the message arrives: wait for B to be accepted.
      const deadline = Date.now() + 5000;
      do {
        r = await c.announce(cid, { infoHash: b, peerId: randomId(), left: 0n });
      } while (r.action !== 1 && Date.now() < deadline);
      assert.equal(r.action, 1, "B is allowed now");
      r = await c.announce(cid, { infoHash: a, peerId: randomId(), left: 0n });
      assert.ok(r.action === 3, "A is not");
      stop = true;
      await load;
      assert.ok(loadAnswers > 10, `the load was answered throughout (${loadAnswers})`);
      assert.equal(loadErrors, 0, "no request went unanswered during the reload");
      // A's peers are dropped by the next cleaning pass (interval 1 s): its scrape shows zeros
      // (the scrape of a refused hash is zeros anyway), and the metric-free way to see the drop
      // is that allowing A again brings back an empty swarm.
      await new Promise((r) => setTimeout(r, 2500));
      await Deno.writeTextFile(list, `${hex(a)}\n${hex(b)}\n`);
      shoal.child.kill("SIGUSR1");
      await shoal.waitFor(/access list reloaded \(2 info hashes\)/);
      await new Promise((r) => setTimeout(r, 300));
      s = await c.scrape(cid, [a, b]);
      assert.ok(s.action === 2);
      assert.deepEqual(s.torrents[0], { seeders: 0, completed: 0, leechers: 0 }, "A was dropped");
      assert.equal(s.torrents[1].seeders, 1, "B kept its peer");

      // A bad edit is refused and the old list stays.
      await Deno.writeTextFile(list, "not a hash\n");
      shoal.child.kill("SIGUSR1");
      await shoal.waitFor(
        /SIGUSR1: .*:1: not a 40-character hex info hash.*keeping the old access list/,
      );
      r = await c.announce(cid, { infoHash: a, peerId: randomId(), left: 0n });
      assert.equal(r.action, 1);
    } finally {
      stop = true;
      c.close();
      assert.equal(await shoal.stop(), 0);
      await Deno.remove(list);
    }
  },
);

processTest(
  "ws: deny list refuses announces with a failure reason, scrapes answer zeros",
  async () => {
    const denied = bin20(), other = bin20();
    const list = await Deno.makeTempFile({ suffix: ".txt" });
    await Deno.writeTextFile(list, `${hex(Uint8Array.from(denied, (c) => c.charCodeAt(0)))}\n`);
    const shoal = await startShoalWith("ws", { access_list: { mode: "deny", path: list } });
    const c = await WsClient.connect(trackerUrl(shoal));
    try {
      c.send({ action: "announce", info_hash: denied, peer_id: bin20(), left: 0 });
      const f = await c.next((m) => m["failure reason"] !== undefined);
      assert.deepEqual(f, {
        "failure reason": "info hash not allowed",
        action: "announce",
        info_hash: denied,
      });
      c.send({ action: "announce", info_hash: other, peer_id: bin20(), left: 0 });
      await c.next((m) => m.info_hash === other && m.interval !== undefined);
      c.send({ action: "scrape", info_hash: [denied, other] });
      const files = (await c.next((m) => m.action === "scrape")).files;
      assert.deepEqual(files[denied], { complete: 0, incomplete: 0, downloaded: 0 });
      assert.equal(files[other].complete, 1);
    } finally {
      await c.close();
      assert.equal(await shoal.stop(), 0);
      await Deno.remove(list);
    }
  },
);

Deno.test("access lists: a missing or bad file at start is a one-line error, exit status 2", async () => {
  const bad = await Deno.makeTempFile({ suffix: ".txt" });
  await Deno.writeTextFile(bad, `${"a".repeat(40)}\n\nzzz\n`);
  const cases: [Record<string, string>, RegExp][] = [
    [{ mode: "allow" }, /access_list\.path must be set when access_list\.mode = "allow"/],
    [
      { mode: "deny", path: "/nonexistent/list.txt" },
      /access_list\.path: cannot read \/nonexistent\/list\.txt: no such file/,
    ],
    [
      { mode: "allow", path: bad },
      new RegExp(`${bad}:3: not a 40-character hex info hash: "zzz"`),
    ],
  ];
  for (const proto of ["udp", "ws"]) {
    for (const [access_list, re] of cases) {
      assertRefused(await runWithConfig(proto, { access_list }), re);
    }
  }
  await Deno.remove(bad);
});
