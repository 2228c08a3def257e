import assert from "node:assert/strict";
import {
  DELIVER_BYTES,
  DELIVER_CLONE,
  DELIVER_HEADER_LEN,
  ORIGIN_HEADER_LEN,
  RemoteOrigins,
  splitRecords,
} from "../../shared/runtime/remote_origins.ts";
import { HEADER_LEN, natsSubjects, WIRE_FORMAT } from "../../shared/runtime/nats_link.ts";
import type { Port } from "../../shared/runtime/link.ts";
import { ByteBuffer } from "../../shared/base/byte_buffer.ts";
import { beginFrames, endFrames } from "../../ws/messages.ts";

/** A request batch from another node: the header (time `time`, `count` records), then `body`. */
function batch(time: number, count: number, body = new Uint8Array(0)): Uint8Array {
  const m = new Uint8Array(ORIGIN_HEADER_LEN + body.length);
  const v = new DataView(m.buffer);
  m[0] = WIRE_FORMAT;
  v.setFloat64(1, time, true);
  v.setUint32(HEADER_LEN, count, true);
  m.set(body, ORIGIN_HEADER_LEN);
  return m;
}

function setup(max = 4) {
  const local: Port = { sendBytes: () => {}, postMessage: () => {} };
  const ports: Port[] = [local, local];
  const sent: { subject: string; m: Uint8Array }[] = [];
  const gone: number[] = [];
  const origins = new RemoteOrigins(ports, (subject, m) => sent.push({ subject, m }), (v) => {
    gone.push(v);
  }, max);
  return { ports, sent, gone, origins };
}

Deno.test("remote origins: each other node's socket worker is a port past the local ones", () => {
  const { ports, sent, origins } = setup();
  assert.equal(origins.take(batch(5, 3), "n.x.ans.i.0", 1), 2);
  assert.equal(origins.take(batch(6, 2), "n.y.ans.j.0", 1), 3);
  assert.equal(origins.take(batch(7, 1), "n.x.ans.i.0", 2), 2, "the same subject, the same index");
  assert.deepEqual(origins.counts, { batches: 3, requests: 6 });
  assert.equal(ports.length, 4);

  // Bytes to index 2 go to its subject, echoing the time of its last batch once.
  const b = new Uint8Array([1, 2, 3]);
  const w = new ByteBuffer(64);
  const at = beginFrames(w, 9);
  w.buf.set(b, w.take(3));
  endFrames(w, at, 1, 3);
  ports[2].sendBytes(w.buf, w.len);
  ports[2].sendBytes(w.buf, w.len);
  assert.equal(sent.length, 2);
  assert.equal(sent[0].subject, "n.x.ans.i.0");
  const v0 = new DataView(sent[0].m.buffer), v1 = new DataView(sent[1].m.buffer);
  assert.equal(v0.getFloat64(1, true), 7);
  assert.equal(v1.getFloat64(1, true), -1, "echoed once");
  assert.equal(sent[0].m[HEADER_LEN], DELIVER_BYTES);
  assert.deepEqual(sent[0].m.subarray(DELIVER_HEADER_LEN), w.buf.subarray(0, w.len));

  // Structured-clone batches go as JSON, binary strings intact.
  const scrape = [2, 9, 1, 1, "\u0000\u00ff\u0080" + "x".repeat(17), 1, 2, 3];
  ports[3].postMessage(scrape);
  const last = sent.at(-1)!;
  assert.equal(last.subject, "n.y.ans.j.0");
  assert.equal(last.m[HEADER_LEN], DELIVER_CLONE);
  assert.deepEqual(
    JSON.parse(new TextDecoder().decode(last.m.subarray(DELIVER_HEADER_LEN))),
    scrape,
  );
});

Deno.test("remote origins: what is not a batch of this format is not taken", () => {
  const { origins } = setup();
  assert.equal(origins.take(batch(1, 1), "", 1), -1, "no reply subject");
  assert.equal(origins.take(new Uint8Array(5), "s", 1), -1, "short");
  const other = batch(1, 1);
  other[0] = WIRE_FORMAT + 1;
  assert.equal(origins.take(other, "s", 1), -1, "another format");
  assert.equal(origins.size, 0);
});

Deno.test("remote origins: the silent are forgotten with their peers; the table stays bounded", () => {
  const { ports, sent, gone, origins } = setup(3);
  origins.take(batch(0, 1), "a", 10);
  origins.take(batch(0, 1), "b", 20);
  origins.take(batch(0, 1), "c", 30);
  assert.equal(origins.sweep(15), 1);
  assert.deepEqual(gone, [2]);
  ports[2].postMessage([1]);
  assert.equal(sent.length, 0, "nothing goes to a forgotten origin");
  assert.equal(origins.take(batch(0, 1), "d", 40), 2, "its index is taken again");
  // Full: a new one pushes out the one silent longest ("b", heard at 20).
  assert.equal(origins.take(batch(0, 1), "e", 50), 3);
  assert.deepEqual(gone, [2, 3]);
  assert.equal(origins.size, 3);
  for (let k = 0; k < 100; k++) origins.take(batch(0, 1), `s${k}`, 60 + k);
  assert.equal(origins.size, 3);
  assert.ok(ports.length <= 2 + 3, `ports stay bounded (${ports.length})`);
});

Deno.test("remote origins: a large byte batch is split where its records end", () => {
  const w = new ByteBuffer(1 << 12);
  const sizes = [100, 300, 50, 700, 10];
  for (const [k, n] of sizes.entries()) {
    const at = beginFrames(w, k);
    w.take(n);
    endFrames(w, at, 1, n);
  }
  const parts: [number, number][] = [];
  splitRecords(w.buf, w.len, 500, (from, to) => parts.push([from, to]));
  // Records of 120, 320, 70, 720, 30 bytes: [120+320], [70], [720 alone], [30].
  assert.deepEqual(parts, [[0, 440], [440, 510], [510, 1230], [1230, 1260]]);
  const whole: [number, number][] = [];
  splitRecords(w.buf, w.len, 1 << 20, (from, to) => whole.push([from, to]));
  assert.deepEqual(whole, [[0, w.len]]);
});

Deno.test("remote origins: all are forgotten at once when the link goes down", () => {
  const { gone, origins } = setup();
  origins.take(batch(0, 1), "a", 1);
  origins.take(batch(0, 1), "b", 1);
  assert.equal(origins.clear(), 2);
  assert.deepEqual(gone.sort(), [2, 3]);
  assert.equal(origins.size, 0);
  assert.equal(origins.take(batch(0, 1), "c", 2), 3, "indices are taken again");
});

Deno.test("remote origins: those of nodes that left are forgotten, the others kept", () => {
  const { gone, origins } = setup();
  const p = "shoal.t.ws";
  // (A ws socket worker's subject: `answers`, then a token of its start.)
  origins.take(batch(0, 1), `${natsSubjects.answers(p, "a", "i1", 0)}.s`, 1);
  origins.take(batch(0, 1), `${natsSubjects.answers(p, "b", "i2", 0)}.s`, 1);
  origins.take(batch(0, 1), `${natsSubjects.answers(p, "b", "i2", 1)}.s`, 1);
  assert.equal(origins.keepNodes(["a"], (s) => natsSubjects.nodeOfAnswers(p, s)), 2);
  assert.deepEqual(gone.sort(), [3, 4]);
  assert.equal(origins.keepNodes(["a"], (s) => natsSubjects.nodeOfAnswers(p, s)), 0);
  assert.equal(origins.size, 1);
});

Deno.test("remote origins: a socket worker's replacement takes the place of its predecessor", () => {
  const { ports, sent, gone, origins } = setup();
  assert.equal(origins.take(batch(0, 1), "p.a.ans.i.0.start1", 1), 2);
  assert.equal(origins.take(batch(0, 1), "p.a.ans.i.1.start1", 1), 3);
  // Worker 0 of the same process, started again: its predecessor's peers go at once.
  const v = origins.take(batch(0, 1), "p.a.ans.i.0.start2", 2);
  assert.deepEqual(gone, [2]);
  assert.equal(origins.size, 2);
  ports[v].postMessage([1]);
  assert.equal(sent.at(-1)?.subject, "p.a.ans.i.0.start2");
  // Another process of the node (a new instance) is another socket worker.
  origins.take(batch(0, 1), "p.a.ans.j.0.start1", 3);
  assert.deepEqual(gone, [2]);
  assert.equal(origins.size, 3);
});
