import assert from "assert";
import { ConnectionIds } from "../../udp/connection_id.ts";
import { encodeAddr } from "../../shared/net/address.ts";
import { clusterIds } from "../../shared/config/cluster_section.ts";

function addr(host: string, port: number): Uint8Array {
  const a = new Uint8Array(18);
  assert.ok(encodeAddr(host, port, a, 0));
  return a;
}

const key = new Uint32Array([1, 2, 3, 4]);

Deno.test("a connection ID is valid for its IP until max age, from any port", () => {
  const ids = new ConnectionIds(key, 120);
  const id = new Uint8Array(8);
  const now = 1_700_000_000;
  ids.write(id, 0, addr("10.0.0.1", 1000), 0, now);
  assert.ok(ids.check(id, 0, addr("10.0.0.1", 1000), 0, now));
  assert.ok(ids.check(id, 0, addr("10.0.0.1", 2000), 0, now + 120));
  assert.ok(!ids.check(id, 0, addr("10.0.0.1", 1000), 0, now + 121), "expired");
  assert.ok(!ids.check(id, 0, addr("10.0.0.2", 1000), 0, now), "other IP");
  assert.ok(!ids.check(id, 0, addr("::1", 1000), 0, now), "IPv6");
});

Deno.test("forged, far-future and other-key connection IDs are refused", () => {
  const ids = new ConnectionIds(key, 300);
  const other = new ConnectionIds(new Uint32Array([1, 2, 3, 5]), 300);
  const a = addr("192.0.2.7", 6881);
  const now = 1_700_000_000;
  const id = new Uint8Array(8);
  other.write(id, 0, a, 0, now);
  assert.ok(!ids.check(id, 0, a, 0, now), "another key");
  ids.write(id, 0, a, 0, now + 60);
  assert.ok(!ids.check(id, 0, a, 0, now), "issued in the future");
  ids.write(id, 0, a, 0, now);
  for (let bit = 0; bit < 64; bit++) {
    const f = id.slice();
    f[bit >> 3] ^= 1 << (bit & 7);
    assert.ok(!ids.check(f, 0, a, 0, now), `bit ${bit} flipped`);
  }
  let accepted = 0;
  const r = new Uint8Array(8);
  for (let i = 0; i < 20000; i++) {
    crypto.getRandomValues(r.subarray(4));
    r.set(id.subarray(0, 4));
    if (ids.check(r, 0, a, 0, now)) accepted++;
  }
  assert.equal(accepted, 0, "random tags with a valid time");
});

Deno.test("a cluster's IDs: the same secret checks on every node, a rolled one beside the old", () => {
  const old = clusterIds({
    enabled: true,
    secret: "the-old-secret-0123456",
    previous_secret: "",
    max_clock_skew: 3,
  })!;
  const rolled = clusterIds({
    enabled: true,
    secret: "the-new-secret-6543210",
    previous_secret: "the-old-secret-0123456",
    max_clock_skew: 3,
  })!;
  assert.equal(
    clusterIds({ enabled: false, secret: "", previous_secret: "", max_clock_skew: 5 }),
    null,
  );
  const nodeA = new ConnectionIds(old.key, 120, old.skew, old.previousKey);
  const nodeB = new ConnectionIds(old.key, 120, old.skew, old.previousKey);
  const nodeC = new ConnectionIds(rolled.key, 120, rolled.skew, rolled.previousKey);
  const a = addr("192.0.2.7", 6881), now = 1_700_000_000, id = new Uint8Array(8);
  nodeA.write(id, 0, a, 0, now);
  assert.ok(nodeB.check(id, 0, a, 0, now + 1), "another node with the same secret");
  assert.ok(nodeC.check(id, 0, a, 0, now), "a node that has the old secret as its previous one");
  // Wall clocks differ between nodes: an ID up to the skew in the future is taken, not more.
  assert.ok(nodeB.check(id, 0, a, 0, now - 3));
  assert.ok(!nodeB.check(id, 0, a, 0, now - 4));
  nodeC.write(id, 0, a, 0, now);
  assert.ok(!nodeA.check(id, 0, a, 0, now), "the new secret is unknown to old nodes");
  assert.notDeepEqual(old.key, rolled.key);
});
