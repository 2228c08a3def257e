/**
 * The worker side of private tracking, without sockets: where a key lies in a path, BEP 41
 * options, the key table, and the per-peer accounting's rules (deltas, restarts, completed
 * once, revocation, stopped, a full table).
 */
import assert from "assert";
import { KeyPath, PathKind } from "../../shared/net/key_path.ts";
import { MALFORMED, MAX_URL_DATA, readUrlData } from "../../udp/url_data.ts";
import { KeyCheck, KeyState, KeyTable } from "../../shared/store/key_table.ts";
import { DRAIN_LEN, PeerAccounts, WHERE_LEN } from "../../shared/store/peer_accounts.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function path(p: string): [number, string] {
  const b = enc.encode(p), k = new KeyPath();
  const kind = k.parse(b, 0, b.length);
  return [kind, dec.decode(b.subarray(k.keyStart, k.keyEnd))];
}

Deno.test("key path: both forms, bare keys, queries, and what is not a key", () => {
  assert.deepEqual(path("/KEY/announce"), [PathKind.Announce, "KEY"]);
  assert.deepEqual(path("/KEY/scrape"), [PathKind.Scrape, "KEY"]);
  assert.deepEqual(path("/announce/KEY"), [PathKind.Announce, "KEY"]);
  assert.deepEqual(path("/scrape/KEY?info_hash=x"), [PathKind.Scrape, "KEY"]);
  assert.deepEqual(path("/KEY/announce?x=1"), [PathKind.Announce, "KEY"]);
  assert.deepEqual(path("/KEY/announce/"), [PathKind.Announce, "KEY"]);
  assert.deepEqual(path("/announce"), [PathKind.Announce, ""]);
  assert.deepEqual(path("/scrape?x"), [PathKind.Scrape, ""]);
  assert.deepEqual(path("/KEY"), [PathKind.Bare, "KEY"]);
  assert.deepEqual(path("/"), [PathKind.Root, ""]);
  assert.deepEqual(path(""), [PathKind.Other, ""]);
  assert.deepEqual(path("KEY/announce"), [PathKind.Other, ""]);
  assert.deepEqual(path("/a/b/announce"), [PathKind.Other, ""]);
  assert.deepEqual(path("/announce/scrape"), [PathKind.Other, ""]);
  assert.deepEqual(path("//announce"), [PathKind.Other, ""]);
  assert.deepEqual(path("/KEY/other"), [PathKind.Other, ""]);
});

function opts(...bytes: (number | string)[]): Uint8Array {
  const out: number[] = [];
  for (const x of bytes) {
    if (typeof x === "number") out.push(x);
    else out.push(...enc.encode(x));
  }
  return new Uint8Array(out);
}

function url(o: Uint8Array): string | number {
  const out = new Uint8Array(MAX_URL_DATA);
  const n = readUrlData(o, 0, o.length, out);
  return n === MALFORMED ? n : dec.decode(out.subarray(0, n));
}

Deno.test("BEP 41 options: URL data joined, NOP and end, unknown skipped, bounds", () => {
  assert.equal(url(opts(2, 4, "/abc")), "/abc");
  assert.equal(url(opts(2, 2, "/a", 1, 1, 2, 2, "bc", 0, 2, 3, "xyz")), "/abc");
  assert.equal(url(opts(9, 2, 0, 0, 2, 2, "/a")), "/a");
  assert.equal(url(opts(0, 2, 2, "/a")), "");
  assert.equal(url(opts(...new Array(1000).fill(1), 2, 1, "/")), "/");
  assert.equal(url(opts()), "");
  assert.equal(url(opts(2)), MALFORMED); // a type with no length
  assert.equal(url(opts(2, 5, "/ab")), MALFORMED); // past the packet
  assert.equal(url(opts(9, 200)), MALFORMED);
  const long: (number | string)[] = [];
  for (let i = 0; i < 5; i++) long.push(2, 255, "x".repeat(255));
  assert.equal(url(opts(...long)), MALFORMED); // over MAX_URL_DATA
});

function update(t: KeyTable, entries: [string, number, number, number][]): void {
  t.apply({
    keys: entries.map((e) => e[0]),
    index: new Uint32Array(entries.map((e) => e[1])),
    validUntil: new Float64Array(entries.map((e) => e[2])),
    state: new Uint8Array(entries.map((e) => e[3])),
  });
}

Deno.test("key table: find by bytes, checks, updates in place, many keys", () => {
  const t = new KeyTable();
  const keys = Array.from({ length: 5000 }, (_, i) => `key-${String(i).padStart(12, "0")}`);
  update(t, keys.map((k, i) => [k, i, Infinity, KeyState.Active]));
  for (let i = 0; i < keys.length; i += 97) {
    const b = enc.encode(`xx${keys[i]}yy`);
    assert.equal(t.find(b, 2, b.length - 2), i);
  }
  const miss = enc.encode("key-999999999999");
  assert.equal(t.find(miss, 0, miss.length), -1);
  assert.equal(t.check(-1, 0), KeyCheck.Unknown);
  assert.equal(t.check(3, 0), KeyCheck.Valid);
  update(t, [[keys[3], 3, 100, KeyState.Active], [keys[4], 4, Infinity, KeyState.Revoked]]);
  assert.equal(t.check(3, 99), KeyCheck.Valid);
  assert.equal(t.check(3, 101), KeyCheck.Expired);
  assert.equal(t.check(4, 0), KeyCheck.Revoked);
  update(t, [[keys[5], 5, Infinity, KeyState.Deleted]]);
  assert.equal(t.check(5, 0), KeyCheck.Unknown);
  assert.equal(t.size, keys.length);
  const none = new Uint8Array(0);
  assert.equal(t.checkBytes(none, 0, 0, 0), KeyCheck.Missing);
});

const WHERE = new Uint8Array(WHERE_LEN);
WHERE[0] = 4;

interface Drained {
  key: number;
  up: number;
  down: number;
  done: number;
  seeded: boolean;
}

function drain(a: PeerAccounts): Drained[] {
  const b = a.drain(), v = new DataView(b.buffer);
  const out: Drained[] = [];
  for (let o = 0; o < b.length; o += DRAIN_LEN) {
    out.push({
      key: v.getUint32(o, true),
      up: v.getFloat64(o + 24, true),
      down: v.getFloat64(o + 32, true),
      done: v.getUint32(o + 40, true),
      seeded: b[o + 44] === 1,
    });
  }
  return out;
}

Deno.test("peer accounts: deltas, a client restart, completed once, stopped, baseline", () => {
  const a = new PeerAccounts();
  const rec = new Uint8Array(40).fill(7); // info hash at 0, peer id at 20
  const ann = (key: number, up: number, down: number, event: number, seeder = false) =>
    a.record(key, rec, 0, 20, up, down, event, seeder, 1, WHERE, 0);
  ann(1, 0, 0, 2);
  ann(1, 100, 1000, 0);
  ann(1, 150, 3000, 1);
  ann(1, 150, 3000, 1); // completed again: counted once
  ann(1, 20, 0, 0, true); // restarted: 20 more
  assert.deepEqual(drain(a), [{ key: 1, up: 170, down: 3000, done: 1, seeded: true }]);
  assert.deepEqual(drain(a), []);
  ann(1, 50, 0, 3); // stopped: counts, then forgets
  assert.deepEqual(drain(a).map((d) => d.up), [30]);
  assert.equal(a.size, 0);
  // Not started and never seen: a baseline, nothing counted.
  ann(2, 5000, 5000, 0);
  assert.deepEqual(drain(a), []);
  ann(2, 5100, 5000, 0);
  assert.deepEqual(drain(a).map((d) => [d.key, d.up]), [[2, 100]]);
  // Another key with the same torrent and peer id is another peer.
  ann(3, 0, 0, 2);
  ann(3, 7, 0, 0);
  assert.deepEqual(drain(a).map((d) => [d.key, d.up]), [[3, 7]]);
});

Deno.test("peer accounts: revocation drops the key's peers; the table is bounded", () => {
  const a = new PeerAccounts(1000);
  const rec = new Uint8Array(40);
  for (let i = 0; i < 1500; i++) {
    rec[20] = i & 0xff;
    rec[21] = i >> 8;
    a.record(i % 3, rec, 0, 20, 0, 0, 2, false, 1, WHERE, 0);
  }
  assert.equal(a.size, 1000);
  assert.equal(a.overflow, 500);
  const dropped: number[] = [];
  assert.equal(a.revoke(1, (_w, _at, id, ih) => dropped.push(id[ih])), 333);
  assert.equal(a.size, 667);
  assert.equal(dropped.length, 333);
  a.clean(2); // every peer was last seen at 1
  assert.equal(a.size, 0);
  // Room again, and entries reused.
  for (let i = 0; i < 1000; i++) {
    rec[20] = i & 0xff;
    rec[21] = i >> 8;
    a.record(5, rec, 0, 20, 0, 0, 2, false, 3, WHERE, 0);
  }
  assert.equal(a.size, 1000);
  assert.equal(a.overflow, 500);
});
