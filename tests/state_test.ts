/**
 * The state file: swarms survive a restart (SIGTERM, start again), completed counts too; a
 * corrupt or truncated file is reported and ignored.
 */
import assert from "assert";
import { AnnounceEvent, encodeAnnounceRequest } from "../udp/codec.ts";
import { readState, shardEntries, writeState } from "../shared/config/state_file.ts";
import { Swarms } from "../core/swarms.ts";
import { SWARM_STATE } from "../core/saved_swarms.ts";
import { announceRecord } from "./helpers/core_records.ts";
import { WS_STATE } from "../ws/saved_torrents.ts";
import { monotonicSeconds } from "../shared/base/clock.ts";
import {
  type ConfigParts,
  configToml,
  startShoal,
  startShoalWith,
  testConfig,
  trackerUrl,
} from "./helpers/shoal.ts";
import { randomId, UdpClient } from "./helpers/udp_client.ts";
import { bin20, WsClient } from "../harness/ws_client.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An announce for `hash` from an IPv4 address, as the socket worker hands it over. */
function announceInto(s: Swarms, hash: Uint8Array, ip: number, left: bigint, now: number) {
  const rec = announceRecord({
    infoHash: hash,
    peerId: randomId(),
    host: `10.0.${ip >> 8}.${ip & 255}`,
    port: 6881,
    seeder: left === 0n,
    event: left === 0n ? AnnounceEvent.Completed : AnnounceEvent.None,
    want: 50,
  });
  s.announce(rec, 0, now, new Uint8Array(2048), 0);
}

Deno.test("state: swarms round-trip through save and load; expired peers are dropped", () => {
  const key = () => crypto.getRandomValues(new Uint32Array(4));
  const a = new Swarms({ interval: 1800 }, key());
  const hashes = Array.from({ length: 50 }, () => randomId());
  const now = monotonicSeconds();
  hashes.forEach((h, k) => {
    for (let p = 0; p < k % 7 + 1; p++) announceInto(a, h, k * 8 + p, p === 0 ? 0n : 5n, now);
    announceInto(a, h, 4000 + k, 5n, now - 1000); // seen long ago: expired by load time
  });
  const body = a.save();
  const b = new Swarms({ interval: 1800 }, key());
  const got = b.load(body, now - 500, now);
  assert.equal(got.torrents, 50);
  assert.equal(b.peers, a.peers - 50);
  assert.equal(b.seeders, a.seeders);
  for (const h of hashes) {
    const ia = a.torrents.find(h, 0), ib = b.torrents.find(h, 0);
    assert.equal(b.torrents.completed[ib], a.torrents.completed[ia]);
    assert.equal(b.seedersOf(ib), a.seedersOf(ia));
    assert.equal(b.leechersOf(ib), a.leechersOf(ia) - 1);
  }
  // Re-sharding over 3 workers keeps every entry exactly once.
  const parts = shardEntries(body, crypto.getRandomValues(new Uint32Array(2)), 3);
  const c = new Swarms({ interval: 1800 }, key());
  let torrents = 0;
  for (const p of parts) torrents += c.load(p, 0, monotonicSeconds()).torrents;
  assert.equal(torrents, 50);
  assert.equal(c.peers, a.peers);
});

Deno.test("state: a truncated, corrupt or foreign file is refused with the reason", async () => {
  const s = new Swarms({ interval: 1800 }, new Uint32Array(4));
  for (let k = 0; k < 10; k++) announceInto(s, randomId(), k, 0n, monotonicSeconds());
  const path = await Deno.makeTempFile({ suffix: ".state" });
  await writeState(path, SWARM_STATE, [s.save()]);
  const good = await Deno.readFile(path);
  assert.equal((await readState(path, SWARM_STATE))!.length, good.length - 24);
  await assert.rejects(readState(path, WS_STATE), /written by shoal udp, not ws/);
  await assert.rejects(
    readState(path, { kind: "udp", format: 9 }),
    /udp entries in format 1; this shoal reads format 9/,
  );
  await Deno.writeFile(path, good.subarray(0, good.length - 30));
  await assert.rejects(readState(path, SWARM_STATE), /truncated/);
  const flipped = good.slice();
  flipped[100] ^= 1;
  await Deno.writeFile(path, flipped);
  await assert.rejects(readState(path, SWARM_STATE), /checksum mismatch/);
  await Deno.writeFile(path, new TextEncoder().encode("peers = 12\n"));
  await assert.rejects(readState(path, SWARM_STATE), /not a shoal state file/);
  // Files of older shoals (versions 1 and 2) are refused, saying so.
  for (const v of ["1", "2"]) {
    const old = good.slice();
    old[7] = v.charCodeAt(0);
    await Deno.writeFile(path, old);
    await assert.rejects(
      readState(path, SWARM_STATE),
      new RegExp(`state file version ${v}, written by an older shoal; this one reads version 3`),
    );
  }
  await Deno.remove(path);
  assert.equal(await readState(path, SWARM_STATE), null);
});

const UDP = (workers: number, path: string, saveInterval?: number): ConfigParts => ({
  socket_workers: 2,
  request_workers: workers,
  network: { use_ipv6: false, io: "ffi" },
  state: { path, save_interval: saveInterval },
});

Deno.test("state: udp swarms and completed counts survive a restart under load", async () => {
  const dir = await Deno.makeTempDir();
  const statePath = `${dir}/swarms.state`;
  const file = await testConfig(UDP(2, statePath));
  let shoal = await startShoal(["udp", "-c", file], 1);
  // Torrents announced only before the restart: they can only come back from the file.
  const kept = Array.from({ length: 40 }, () => randomId());
  const c = new UdpClient(shoal.listening[0]);
  let cid = await c.connect();
  for (const [k, h] of kept.entries()) {
    for (let p = 0; p <= k % 3; p++) {
      const peerId = randomId();
      // A peer is its address: each peer of a torrent announces its own port.
      const port = 20000 + p;
      await c.announce(cid, { infoHash: h, peerId, left: 100n, port });
      if (p === 0) {
        await c.announce(cid, {
          infoHash: h,
          peerId,
          left: 0n,
          port,
          event: AnnounceEvent.Completed,
        });
      }
    }
  }
  const before = await c.scrape(cid, kept);
  c.close();
  assert.ok(before.action === 2);

  // Load that keeps going across the restart, on other torrents.
  let running = true, sent = 0;
  const load = (async () => {
    const hashes = Array.from({ length: 16 }, () => randomId());
    while (running) {
      const target = shoal.listening[0];
      const lc = new UdpClient(target);
      try {
        const lcid = await lc.connect();
        while (running && target === shoal.listening[0]) {
          for (const h of hashes) {
            const bytes = encodeAnnounceRequest({
              connectionId: lcid,
              transactionId: lc.nextTid(),
              infoHash: h,
              peerId: h,
              left: 1n,
              port: lc.port,
            });
            lc.conn.send(bytes, lc.tracker).catch(() => {});
            sent++;
          }
          await sleep(5);
        }
      } catch { /* the tracker is restarting */ }
      lc.close();
      await sleep(20);
    }
  })();
  await sleep(300);
  assert.equal(await shoal.stop(), 0, shoal.output.join("\n"));
  assert.ok(shoal.output.some((l) => /state saved to .*swarms\.state/.test(l)));

  // Start again with a different number of request workers: the file is re-sharded.
  await Deno.writeTextFile(file, configToml(UDP(3, statePath)));
  shoal = await startShoal(["udp", "-c", file], 1);
  try {
    await shoal.waitFor(/loaded \d+ torrents, \d+ live peers from the state file/);
    const c2 = new UdpClient(shoal.listening[0]);
    cid = await c2.connect();
    const after = await c2.scrape(cid, kept);
    c2.close();
    assert.ok(after.action === 2);
    assert.deepEqual(after.torrents, before.torrents);
    assert.ok(before.torrents.some((t) => t.completed === 1 && t.leechers === 2));
    await sleep(300);
  } finally {
    running = false;
    await load;
    assert.ok(sent > 1000, `load sent ${sent}`);
    assert.equal(await shoal.stop(), 0, shoal.output.join("\n"));
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("state: a corrupt state file is reported and the tracker starts empty", async () => {
  const dir = await Deno.makeTempDir();
  const statePath = `${dir}/swarms.state`;
  await Deno.writeFile(statePath, crypto.getRandomValues(new Uint8Array(5000)));
  const shoal = await startShoalWith("udp", UDP(2, statePath));
  try {
    await shoal.waitFor(/state\.path: ignoring .*swarms\.state: not a shoal state file; starting/);
    const c = new UdpClient(shoal.listening[0]);
    const cid = await c.connect();
    const h = randomId();
    const r = await c.announce(cid, { infoHash: h, peerId: randomId() });
    assert.ok(r.action === 1);
    c.close();
  } finally {
    assert.equal(await shoal.stop(), 0, shoal.output.join("\n"));
    // The shutdown replaced the corrupt file with a good one.
    assert.ok((await readState(statePath, SWARM_STATE)) !== null);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("state: ws completed counts survive a restart", async () => {
  const dir = await Deno.makeTempDir();
  const file = await testConfig({ request_workers: 2, state: { path: `${dir}/ws.state` } });
  const info = bin20();
  let shoal = await startShoal(["ws", "-c", file], 1);
  // Three peers (one connection each) complete the torrent.
  const peers: WsClient[] = [];
  for (let k = 0; k < 3; k++) {
    const o = await WsClient.connect(trackerUrl(shoal));
    o.send({ action: "announce", info_hash: info, peer_id: bin20(), left: 0, event: "completed" });
    await o.next((m) => m.action === "announce" && "interval" in m);
    peers.push(o);
  }
  let c = peers[0];
  c.send({ action: "scrape", info_hash: info });
  const before = (await c.next((m) => m.action === "scrape")).files[info];
  assert.equal(before.downloaded, 3);
  await Promise.all(peers.map((o) => o.close()));
  assert.equal(await shoal.stop(), 0, shoal.output.join("\n"));

  shoal = await startShoal(["ws", "-c", file], 1);
  try {
    c = await WsClient.connect(trackerUrl(shoal));
    c.send({ action: "scrape", info_hash: info });
    const after = (await c.next((m) => m.action === "scrape")).files[info];
    assert.deepEqual(after, { complete: 0, incomplete: 0, downloaded: 3 });
    await c.close();
  } finally {
    assert.equal(await shoal.stop(), 0, shoal.output.join("\n"));
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("state: periodic saves bound what a crash (SIGKILL) loses", async () => {
  const dir = await Deno.makeTempDir();
  const statePath = `${dir}/swarms.state`;
  const file = await testConfig(UDP(2, statePath, 1));
  let shoal = await startShoal(["udp", "-c", file], 1);
  const hashes = Array.from({ length: 10 }, () => randomId());
  try {
    const c = new UdpClient(shoal.listening[0]);
    const cid = await c.connect();
    for (const h of hashes) await c.announce(cid, { infoHash: h, peerId: randomId() });
    c.close();
    await shoal.waitFor(/state saved to .*swarms\.state/, 5000);
    shoal.child.kill("SIGKILL");
    await shoal.stop();
    shoal = await startShoal(["udp", "-c", file], 1);
    await shoal.waitFor(/loaded \d+ torrents, \d+ live peers from the state file/);
    const c2 = new UdpClient(shoal.listening[0]);
    const s = await c2.scrape(await c2.connect(), hashes);
    c2.close();
    assert.ok(s.action === 2);
    assert.deepEqual(s.torrents.map((t) => t.seeders), hashes.map(() => 1));
  } finally {
    assert.equal(await shoal.stop(), 0, shoal.output.join("\n"));
    await Deno.remove(dir, { recursive: true });
  }
});
