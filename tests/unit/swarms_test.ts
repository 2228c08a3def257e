import assert from "assert";
import { Swarms } from "../../core/swarms.ts";
import { PeerLists } from "../../core/peer_list.ts";
import { HalfSipHash13 } from "../../shared/base/hash.ts";
import { AnnounceEvent, Refusal } from "../../core/records.ts";
import { announceRecord, readAnswer } from "../helpers/core_records.ts";
import { peersWanted } from "../../udp/codec.ts";

const KEY = new Uint32Array([5, 6, 7, 8]);
const NOW = 1_700_000_000;

function ih(n: number): Uint8Array {
  return new Uint8Array(20).fill(n);
}

function pid(n: number): Uint8Array {
  const p = new TextEncoder().encode("-TS0001-000000000000");
  new DataView(p.buffer).setUint32(16, n);
  return p;
}

interface Opts {
  torrent?: number;
  peer: number;
  host?: string;
  port?: number;
  left?: bigint;
  event?: number;
  numWant?: number;
  now?: number;
}

/** Announces through the store as a UDP announce arrives: `numWant` read as UDP reads it. */
function announce(s: Swarms, o: Opts, max = caps.get(s) ?? { 4: 50, 6: 50 }) {
  const host = o.host ?? `10.0.${o.peer >> 8}.${o.peer & 255}`;
  const family = host.includes(":") ? 6 : 4;
  const rec = announceRecord({
    infoHash: ih(o.torrent ?? 1),
    peerId: pid(o.peer),
    host,
    port: o.port ?? 6881,
    seeder: (o.left ?? 100n) === 0n,
    event: o.event ?? AnnounceEvent.None,
    want: peersWanted(o.numWant ?? -1, max[family]),
    token: 42,
  });
  const out = new Uint8Array(64 + 38 * 3000);
  s.announce(rec, 0, o.now ?? NOW, out, 0);
  const r = readAnswer(out);
  assert.equal(r.refusal, 0);
  return r;
}

/** The response caps each store was made with, as the UDP front would apply them. */
const caps = new Map<Swarms, { 4: number; 6: number }>();

function scrape(s: Swarms, torrent: number) {
  const out = new Uint8Array(12);
  s.scrape(ih(torrent), 0, out, 0);
  const v = new DataView(out.buffer);
  return { seeders: v.getInt32(0), completed: v.getInt32(4), leechers: v.getInt32(8) };
}

function swarms(maxResponsePeers = 50) {
  const s = new Swarms({ interval: 900 }, KEY);
  caps.set(s, { 4: maxResponsePeers, 6: maxResponsePeers });
  return s;
}

Deno.test("announce: the announcer is never in its own list, and counted as a scrape counts", () => {
  const s = swarms();
  let r = announce(s, { peer: 1, left: 0n });
  assert.deepEqual([r.seeders, r.leechers, r.peers.length, r.interval], [1, 0, 0, 900]);
  r = announce(s, { peer: 2 });
  assert.deepEqual([r.seeders, r.leechers], [1, 1]);
  assert.deepEqual(r.peers, ["10.0.0.1:6881"]);
  r = announce(s, { peer: 1, left: 0n });
  assert.deepEqual([r.seeders, r.leechers], [1, 1]);
  assert.deepEqual(r.peers, ["10.0.0.2:6881"]);
  assert.equal(s.peers, 2);
  assert.equal(s.seeders, 1);
  assert.deepEqual(scrape(s, 1), { seeders: 1, completed: 0, leechers: 1 });
  assert.deepEqual(scrape(s, 99), { seeders: 0, completed: 0, leechers: 0 });
});

Deno.test("announce: numwant bounds the list; <= 0 means max_response_peers", () => {
  const s = swarms(10);
  for (let p = 1; p <= 30; p++) announce(s, { peer: p });
  assert.equal(announce(s, { peer: 1, numWant: 5 }).peers.length, 5);
  assert.equal(announce(s, { peer: 1, numWant: 0 }).peers.length, 10);
  assert.equal(announce(s, { peer: 1, numWant: -1 }).peers.length, 10);
  assert.equal(announce(s, { peer: 1, numWant: 1000 }).peers.length, 10);
  const all = announce(s, { peer: 1, numWant: 29 });
  assert.ok(all.peers.length === 10);
});

Deno.test("announce: selections are random, distinct, and exclude the announcer", () => {
  const s = swarms(200);
  for (let p = 1; p <= 100; p++) announce(s, { peer: p });
  const firsts = new Set<string>();
  const seen = new Set<string>();
  // Runs from a random start: 200 draws over 100 starts find ~87 distinct ones on average
  // (standard deviation ~2), and cover nearly every peer.
  for (let i = 0; i < 200; i++) {
    const r = announce(s, { peer: 7, numWant: 10 });
    assert.equal(new Set(r.peers).size, 10, "no duplicates");
    assert.ok(!r.peers.includes("10.0.0.7:6881"));
    firsts.add(r.peers.join());
    r.peers.forEach((p) => seen.add(p));
  }
  assert.ok(firsts.size > 60, `only ${firsts.size} distinct selections`);
  assert.ok(seen.size > 80, `only ${seen.size} peers ever returned`);
  const every = announce(s, { peer: 7, numWant: 200 });
  assert.equal(every.peers.length, 99);
});

Deno.test("announce: stopped removes, completed counts once per peer", () => {
  const s = swarms();
  announce(s, { peer: 1 });
  announce(s, { peer: 2 });
  let r = announce(s, { peer: 2, left: 0n, event: AnnounceEvent.Completed });
  assert.deepEqual([r.seeders, r.leechers], [1, 1]);
  announce(s, { peer: 2, left: 0n, event: AnnounceEvent.Completed });
  assert.deepEqual(scrape(s, 1), { seeders: 1, completed: 1, leechers: 1 });
  r = announce(s, { peer: 1, event: AnnounceEvent.Stopped });
  assert.deepEqual([r.seeders, r.leechers, r.peers.length], [1, 0, 0]);
  assert.deepEqual(scrape(s, 1), { seeders: 1, completed: 1, leechers: 0 });
  announce(s, { peer: 3, event: AnnounceEvent.Stopped });
  announce(s, { torrent: 5, peer: 3, event: AnnounceEvent.Stopped });
  assert.equal(s.torrents.find(ih(5), 0), -1, "stopped does not create a torrent");
  assert.equal(s.peers, 1);
  assert.equal(s.seeders, 1);
});

Deno.test("announce: families are separate lists but counted together", () => {
  const s = swarms();
  announce(s, { peer: 1, host: "10.0.0.1" });
  announce(s, { peer: 2, host: "2001:db8::2", left: 0n });
  const r4 = announce(s, { peer: 3, host: "10.0.0.3" });
  assert.deepEqual(r4.peers, ["10.0.0.1:6881"]);
  assert.deepEqual([r4.seeders, r4.leechers], [1, 2]);
  const r6 = announce(s, { peer: 4, host: "2001:db8::4" });
  assert.deepEqual(r6.peers, ["[2001:db8:0:0:0:0:0:2]:6881"]);
  assert.deepEqual([r6.seeders, r6.leechers], [1, 3]);
});

Deno.test("announce: a peer is its address (IP, port); a new peer id replaces the record", () => {
  const s = swarms();
  announce(s, { peer: 1, host: "10.0.0.1", port: 1000, left: 0n });
  announce(s, { peer: 2, host: "10.0.0.2", port: 1000 });
  // The client at 10.0.0.1:1000 restarts with a new peer id (and is now a leecher).
  let r = announce(s, { peer: 11, host: "10.0.0.1", port: 1000 });
  assert.equal(s.peers, 2, "the restarted client replaced its record");
  assert.deepEqual(r.peers, ["10.0.0.2:1000"], "it never gets its own address back");
  assert.deepEqual([r.seeders, r.leechers], [0, 2], "counts do not grow");
  assert.equal(s.seeders, 0, "its seeder flag was replaced too");
  r = announce(s, { peer: 3, host: "10.0.0.3", port: 1000 });
  assert.deepEqual(r.peers.sort(), ["10.0.0.1:1000", "10.0.0.2:1000"], "nobody sees it twice");
  assert.deepEqual(s.details(10, 100).clients.length > 0, true);
  // Another port on the same IP is another peer.
  announce(s, { peer: 1, host: "10.0.0.1", port: 2000 });
  assert.equal(s.peers, 4);
  // Another host cannot stop it: the address is the key, not the peer id.
  announce(s, { peer: 11, host: "10.0.0.66", port: 1000, event: AnnounceEvent.Stopped });
  assert.equal(s.peers, 4);
  announce(s, { peer: 99, host: "10.0.0.1", port: 1000, event: AnnounceEvent.Stopped });
  assert.equal(s.peers, 3, "stopped from its own address removes it, whatever the peer id");
});

Deno.test("announce: at most max_response_peers of the announcer's family, whatever numwant", () => {
  const s = new Swarms({ interval: 900 }, KEY);
  caps.set(s, { 4: 200, 6: 66 });
  for (let p = 1; p <= 300; p++) {
    announce(s, { peer: p, host: `10.1.${p >> 8}.${p & 255}` });
    announce(s, { peer: p, host: `2001:db8::${p.toString(16)}` });
  }
  for (const numWant of [-1, 0, 201, 1000, 100000]) {
    assert.equal(announce(s, { peer: 1000, host: "10.9.9.9", numWant }).peers.length, 200);
    assert.equal(announce(s, { peer: 1000, host: "2001:db8::ffff", numWant }).peers.length, 66);
  }
  assert.equal(announce(s, { peer: 1000, host: "2001:db8::ffff", numWant: 10 }).peers.length, 10);
});

Deno.test("cleaning removes old peers, then empty torrents, in slices", () => {
  const s = swarms();
  for (let t = 1; t <= 50; t++) {
    announce(s, { torrent: t, peer: 1, now: NOW });
    if (t % 2 === 0) announce(s, { torrent: t, peer: 2, now: NOW + 100, left: 0n });
  }
  assert.equal(s.torrents.size, 50);
  let slices = 0;
  while (!s.clean(NOW + 50, NOW + 50, 4)) slices++;
  assert.ok(slices > 3, "the pass was sliced");
  assert.equal(s.torrents.size, 25);
  assert.equal(s.peers, 25);
  assert.equal(s.seeders, 25);
  assert.deepEqual(scrape(s, 2), { seeders: 1, completed: 0, leechers: 0 });
  assert.deepEqual(scrape(s, 1), { seeders: 0, completed: 0, leechers: 0 });
  while (!s.clean(NOW + 200, NOW + 200, 1000));
  assert.equal(s.torrents.size, 0);
  assert.equal(s.peers, 0);
  assert.equal(s.seeders, 0);
});

Deno.test("cleaning keeps the completed count of a torrent whose peers are all gone", () => {
  const s = swarms();
  announce(s, { torrent: 1, peer: 1, now: NOW });
  announce(s, { torrent: 1, peer: 1, left: 0n, event: AnnounceEvent.Completed, now: NOW });
  announce(s, { torrent: 1, peer: 2, left: 0n, event: AnnounceEvent.Completed, now: NOW });
  announce(s, { torrent: 2, peer: 1, now: NOW });
  while (!s.clean(NOW + 1000, NOW + 1000, 1000));
  assert.equal(s.peers, 0);
  assert.deepEqual(scrape(s, 1), { seeders: 0, completed: 2, leechers: 0 });
  assert.equal(s.torrents.size, 1, "torrent 2 had nothing to keep");
  assert.equal(s.empty.size, 1);
  // It comes back to life with its count, and leaves the empty list.
  const r = announce(s, { torrent: 1, peer: 3, now: NOW + 1000 });
  assert.equal(s.empty.size, 0);
  assert.deepEqual(scrape(s, 1), { seeders: 0, completed: 2, leechers: 1 });
  assert.equal(r.leechers, 1);
});

Deno.test("a full table makes room by evicting the torrent emptied longest ago", () => {
  const s = new Swarms({ interval: 900, maxTorrents: 3 }, KEY);
  const done = (torrent: number, now: number) =>
    announce(s, { torrent, peer: 1, left: 0n, event: AnnounceEvent.Completed, now });
  done(1, NOW);
  done(2, NOW + 10);
  while (!s.clean(NOW + 15, NOW + 15, 1000)); // torrent 1 is empty now, then 2
  while (!s.clean(NOW + 30, NOW + 30, 1000));
  done(3, NOW + 30);
  assert.equal(s.torrents.size, 3);
  announce(s, { torrent: 4, peer: 1, now: NOW + 31 });
  assert.equal(s.torrents.size, 3);
  assert.deepEqual(scrape(s, 1), { seeders: 0, completed: 0, leechers: 0 }, "1 was evicted");
  assert.deepEqual(scrape(s, 2), { seeders: 0, completed: 1, leechers: 0 });
  announce(s, { torrent: 5, peer: 1, now: NOW + 31 });
  assert.deepEqual(scrape(s, 2), { seeders: 0, completed: 0, leechers: 0 }, "then 2");
  // Only torrents with peers are left: the next new one is refused.
  assert.equal(s.refusedTorrents, 0);
  const rec = announceRecord({
    infoHash: ih(6),
    peerId: pid(1),
    host: "10.0.0.1",
    port: 6881,
    seeder: false,
    event: AnnounceEvent.None,
    want: 50,
  });
  const out = new Uint8Array(2000);
  s.announce(rec, 0, NOW + 32, out, 0);
  assert.equal(readAnswer(out).refusal, Refusal.TooManyTorrents);
  assert.equal(s.refusedTorrents, 1);
});

Deno.test("PeerLists: the index stays consistent through adds, removes, growth and ageing", () => {
  const lists = new PeerLists(4, new HalfSipHash13(3, 4), 4);
  const key = (n: number) => new Uint8Array([10, 1, n >> 8, n & 255, 0x1a, 0xe1]);
  // Two torrents side by side in the same arena, so blocks of both move around.
  const live = [new Set<number>(), new Set<number>()];
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  for (let step = 0; step < 30000; step++) {
    const id = rand() % 2, n = rand() % 600;
    const r = lists.find(id, key(n), 0);
    assert.equal(r >= 0, live[id].has(n), `find ${n} in ${id} at step ${step}`);
    if (r >= 0 && rand() % 2 === 0) {
      lists.remove(id, r);
      live[id].delete(n);
    } else if (r < 0) {
      assert.ok(lists.add(id, key(n), 0, pid(n), 0, n % 3 === 0 ? 1 : 0, step) >= 0);
      live[id].add(n);
    }
  }
  for (const id of [0, 1]) {
    assert.equal(lists.n[id], live[id].size);
    assert.equal(lists.seeders[id], [...live[id]].filter((n) => n % 3 === 0).length);
    for (const n of live[id]) assert.ok(lists.find(id, key(n), 0) >= 0);
    const removed = lists.removeOlderThan(id, 20000);
    assert.equal(lists.n[id], live[id].size - removed);
    for (let r = 0; r < lists.n[id]; r++) assert.ok(lists.seen(id, r) >= 20000);
    const out = new Uint8Array(6 * lists.n[id]);
    assert.equal(lists.select(id, out, 0, lists.n[id], -1), lists.n[id]);
  }
  // Released lists give their blocks back for reuse.
  const used = lists.arena.usedBytes;
  lists.release(0);
  assert.ok(lists.arena.usedBytes < used);
  assert.equal(lists.n[0], 0);
  assert.equal(lists.find(0, key(1), 0), -1);
});

Deno.test("PeerLists: a selection is a run of the list (wrapping, less the skipped peer), ids in step", () => {
  const lists = new PeerLists(4, new HalfSipHash13(3, 4), 4);
  const key = (n: number) => new Uint8Array([10, 2, n >> 8, n & 255, 0x1a, 0xe1]);
  const peerOf = (b: Uint8Array, o: number) => (b[o + 2] << 8) | b[o + 3];
  let seed = 11;
  const rand = (m: number) => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % m;
  for (let round = 0; round < 400; round++) {
    // Lists of every size around the index threshold and the block classes, in one arena.
    const id = round % 4, target = 1 + rand(90);
    while (lists.n[id] > target) lists.remove(id, rand(lists.n[id]));
    for (let n = 1; lists.n[id] < target; n++) {
      if (lists.find(id, key(n), 0) < 0) lists.add(id, key(n), 0, pid(n), 0, 0, round);
    }
    const n = lists.n[id];
    const order: number[] = []; // the list's order: record r holds peer order[r]
    const all = new Uint8Array(6 * n);
    assert.equal(lists.select(id, all, 0, n, -1), n);
    for (let r = 0; r < n; r++) order.push(peerOf(all, 6 * r));
    const skip = rand(3) === 0 ? -1 : rand(n), want = 1 + rand(n + 2);
    const avail = skip >= 0 ? n - 1 : n;
    const out = new Uint8Array(6 * want), ids = new Uint8Array(20 * want);
    const got = lists.select(id, out, 0, want, skip, ids, 0);
    assert.equal(got, Math.min(want, avail));
    const picked = Array.from({ length: got }, (_, i) => peerOf(out, 6 * i));
    for (let i = 0; i < got; i++) {
      assert.deepEqual(ids.subarray(20 * i, 20 * i + 20), pid(picked[i]), "peer id in step");
    }
    const rest = order.filter((_, r) => r !== skip);
    assert.equal(new Set(picked).size, got, "distinct");
    if (skip >= 0) assert.ok(!picked.includes(order[skip]), "the skipped peer is left out");
    // A run of `rest` from some start, wrapping.
    const start = rest.indexOf(picked[0]);
    assert.deepEqual(picked, picked.map((_, i) => rest[(start + i) % rest.length]));
  }
});

Deno.test("Swarms: a million peer records cost no object each (arena, typed arrays)", () => {
  const s = swarms();
  for (let p = 1; p <= 3000; p++) announce(s, { torrent: 1 + (p % 200), peer: p });
  assert.equal(s.torrents.size, 200);
  assert.equal(s.peers, 3000);
  // All records sit in the IPv4 arena's one chunk.
  assert.equal(s.v4.arena.chunks.length, 1);
  assert.ok(s.v4.arena.usedBytes >= 3000 * s.v4.recLen);
  assert.ok(s.v4.arena.usedBytes <= 2 * 3000 * s.v4.recLen, "size classes waste less than half");
});
