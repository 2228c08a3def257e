import assert from "assert";
import {
  assignShards,
  ClusterShards,
  handOffArg,
  handOffTest,
  SHARDS,
  shardsOf,
} from "../../shared/store/cluster_shards.ts";
import { shardKeyOf } from "../../shared/config/cluster_section.ts";
import { FORMAT, Members, type NodeInfo, parseNodeInfo } from "../../cluster/members.ts";

const names = (n: number) => Array.from({ length: n }, (_, i) => `node-${i}`);

Deno.test("shards: every shard has one owner, the same whatever order the live set comes in", () => {
  const a = assignShards(["c", "a", "b"]), b = assignShards(["b", "c", "a", "a"]);
  assert.deepEqual(a.nodes, ["a", "b", "c"]);
  assert.deepEqual(a.owner, b.owner);
  assert.ok(a.owner.every((o) => o >= 0 && o < 3));
  assert.equal(shardsOf("a", a) + shardsOf("b", a) + shardsOf("c", a), SHARDS);
  assert.ok(assignShards([]).owner.every((o) => o === -1));
});

Deno.test("shards: a node joining takes only its own share; one leaving gives only its own", () => {
  for (const n of [1, 2, 3, 5, 8]) {
    const before = assignShards(names(n)), after = assignShards([...names(n), "new"]);
    let moved = 0;
    for (let s = 0; s < SHARDS; s++) {
      const was = before.nodes[before.owner[s]], now = after.nodes[after.owner[s]];
      if (was !== now) {
        assert.equal(now, "new", `shard ${s} moved from ${was} to ${now}, not to the joiner`);
        moved++;
      }
    }
    // Rendezvous hashing: about 1/(n+1) of the shards move (within a wide margin).
    const share = moved / SHARDS, fair = 1 / (n + 1);
    assert.ok(share > fair * 0.6 && share < fair * 1.4, `${n}+1 nodes: ${share} moved`);
    // And back: the joiner leaving returns exactly what it took.
    assert.deepEqual(assignShards(names(n)).owner, before.owner);
  }
});

Deno.test("shards: info hashes spread evenly whatever their bytes, under the secret's key", () => {
  const shards = new ClusterShards(shardKeyOf("a-cluster-secret-0123"));
  const other = new ClusterShards(shardKeyOf("another-secret-012345"));
  // Hashes a client could choose to pile up: equal but for their last byte pair.
  const counts = new Uint16Array(SHARDS);
  let same = 0;
  const h = new Uint8Array(20);
  for (let i = 0; i < 64 * SHARDS; i++) {
    h[18] = i >> 8;
    h[19] = i;
    const s = shards.of(h, 0);
    counts[s]++;
    if (other.of(h, 0) === s) same++;
  }
  // 64 per shard on average; no shard gets more than twice that.
  assert.ok(Math.max(...counts) < 128, `a shard got ${Math.max(...counts)} of ${64 * SHARDS}`);
  assert.ok(same < 64 * SHARDS / 100, "another secret's key places hashes the same way");
  // A handoff's argument names the same shards on the other side.
  const mask = new Uint8Array(SHARDS);
  mask[shards.of(h, 0)] = 1;
  const test = handOffTest(handOffArg(shards, mask));
  assert.ok(test(h, 0));
  h[19] ^= 1;
  assert.equal(test(h, 0), mask[shards.of(h, 0)] === 1);
});

function info(
  node: string,
  formatMin: number = FORMAT.min,
  formatMax: number = FORMAT.max,
): NodeInfo {
  return { node, formatMin, formatMax, started: 1, instance: node, version: "x" };
}

Deno.test("members: heard nodes are live until the timeout, a leaving one at once", () => {
  const m = new Members(3000);
  m.heard(info("b"), 0);
  m.heard(info("a"), 1000);
  assert.deepEqual(m.live(), ["a", "b"]);
  assert.deepEqual(m.expire(3000), []);
  assert.deepEqual(m.expire(3001), ["b"]);
  assert.deepEqual(m.live(), ["a"]);
  m.left("a");
  assert.deepEqual(m.live(), []);
});

Deno.test("members: a node speaking no format of ours is not live but foreign", () => {
  const m = new Members(3000);
  m.heard(info("a"), 0);
  m.heard(info("z", FORMAT.max + 1, FORMAT.max + 2), 0);
  m.heard(info("y", FORMAT.min, FORMAT.max + 1), 0);
  assert.deepEqual(m.live(), ["a", "y"]);
  assert.deepEqual(m.foreign().map((i) => i.node), ["z"]);
});

Deno.test("members: heartbeats that are not a node's are ignored", () => {
  assert.equal(parseNodeInfo("not json"), null);
  assert.equal(parseNodeInfo('{"node": 1}'), null);
  assert.deepEqual(parseNodeInfo(JSON.stringify(info("a"))), info("a"));
});
