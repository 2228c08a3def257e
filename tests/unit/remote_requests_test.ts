import assert from "node:assert/strict";
import { Forwarder } from "../../core/forward.ts";
import { RemoteRequests } from "../../core/remote.ts";
import { ANNOUNCE_PEER_IDS } from "../../core/records.ts";
import { assignShards, ClusterShards } from "../../shared/store/cluster_shards.ts";
import { HEADER_LEN } from "../../shared/runtime/nats_link.ts";

const KEY = new Uint32Array([7, 9]);

/** A forwarder of node "a" in a cluster of "a" and "b" (two request workers each). */
function setup() {
  const forward = new Forwarder(KEY, 2, 74);
  const remote = new RemoteRequests(forward, new ClusterShards(KEY), (n, j) => `${n}.rw${j}`);
  const sent: { subject: string; bytes: number }[] = [];
  const send = (subject: string, m: Uint8Array) => sent.push({ subject, bytes: m.length });
  remote.send = send;
  remote.setOwners({ ...assignShards(["a", "b"]), workers: [2, 2] }, "a");
  return { forward, remote, sent, send };
}

/** An info hash that node "b" owns. */
function ofB(): Uint8Array {
  const owners = assignShards(["a", "b"]), shards = new ClusterShards(KEY);
  for (;;) {
    const h = crypto.getRandomValues(new Uint8Array(20));
    if (owners.nodes[owners.owner[shards.of(h, 0)]] === "b") return h;
  }
}

function announce(f: Forwarder, h: Uint8Array, family: 4 | 6, want: number, flags = 0) {
  f.announce(family, new Uint8Array(16), 0, h, 0, new Uint8Array(20), 0, 6881, 0, flags, want, 1);
}

Deno.test("remote requests: one batch per turn while its answers fit one NATS message", () => {
  const { forward, remote, sent, send } = setup();
  const h = ofB();
  for (let i = 0; i < 50; i++) announce(forward, h, 4, 50);
  assert.equal(sent.length, 0, "nothing leaves before the turn ends");
  remote.flushRemote(send, 0);
  assert.equal(sent.length, 1);
  assert.match(sent[0].subject, /^b\.rw[01]$/);
  assert.equal(remote.counts.requestsOut, 50);
});

Deno.test("remote requests: a batch whose answers could outgrow a NATS message leaves early", () => {
  const { forward, remote, sent, send } = setup();
  const h = ofB();
  // IPv6, 200 peers with their ids: up to 7.6 kB of answer each.
  const n = 1000;
  for (let i = 0; i < n; i++) announce(forward, h, 6, 200, ANNOUNCE_PEER_IDS);
  remote.flushRemote(send, 0);
  assert.ok(sent.length >= 9, `split into ${sent.length} batches`);
  assert.equal(remote.counts.requestsOut, n, "every request sent once");
  const perBatch = Math.ceil(n / sent.length);
  assert.ok(perBatch * (16 + 200 * 38) < 1 << 20, "each batch's answers fit 1 MiB");
  for (const s of sent) assert.ok(s.bytes - HEADER_LEN < 1 << 20);
});

Deno.test("remote requests: scrape parts reach every remote request worker, however many", () => {
  const forward = new Forwarder(KEY, 2, 74);
  const remote = new RemoteRequests(forward, new ClusterShards(KEY), (n, j) => `${n}.rw${j}`);
  // Node b runs 400 request workers: more remote batches than nodes may be (255).
  remote.setOwners({ ...assignShards(["a", "b"]), workers: [2, 400] }, "a");
  const shards = new ClusterShards(KEY);
  let h = ofB();
  while (shards.hash(h, 0) % 400 < 300) h = ofB();
  const ok = forward.scrape(h, 0, 1, 4, new Uint8Array(16), 0, 1, 0);
  assert.ok(ok);
  const sent: string[] = [];
  remote.flushRemote((subject) => sent.push(subject), 0);
  assert.deepEqual(sent, [`b.rw${shards.hash(h, 0) % 400}`]);
  assert.equal(remote.counts.requestsOut, 1);
});
