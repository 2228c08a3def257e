import assert from "assert";
import {
  connectOp,
  NatsReader,
  pubHead,
  pubLength,
  subOp,
  writePub,
} from "../../shared/runtime/nats_wire.ts";

const enc = new TextEncoder(), dec = new TextDecoder();

function reader() {
  const seen: string[] = [];
  const r = new NatsReader({
    info: (i) => seen.push(`info ${i.server_id}`),
    msg: (sid, reply, payload) => seen.push(`msg ${sid} ${reply || "-"} ${dec.decode(payload)}`),
    ping: () => seen.push("ping"),
    pong: () => seen.push("pong"),
    err: (t) => seen.push(`err ${t}`),
  }, 64);
  return { r, seen };
}

Deno.test("nats wire: operations are read whole however the bytes are cut", () => {
  const stream = enc.encode(
    'INFO {"server_id":"S1","max_payload":1048576}\r\n+OK\r\nPING\r\n' +
      "MSG a.b 1 5\r\nhello\r\nMSG a.c 2 _INBOX.x 3\r\n\r\n\r\r\nPONG\r\n-ERR 'Authorization Violation'\r\n",
  );
  const want = [
    "info S1",
    "ping",
    "msg 1 - hello",
    "msg 2 _INBOX.x \r\n\r",
    "pong",
    "err Authorization Violation",
  ];
  for (const cut of [1, 2, 3, 7, 16, stream.length]) {
    const { r, seen } = reader();
    for (let i = 0; i < stream.length; i += cut) r.push(stream.subarray(i, i + cut));
    assert.deepEqual(seen, want, `cut every ${cut} bytes`);
  }
});

Deno.test("nats wire: each message has its own reply subject, however many and alike", () => {
  // Subjects alike but for a byte here and there, more of them than the reader keeps decoded,
  // each more than once, in an order that makes kept ones collide.
  const subjects: string[] = [];
  for (let n = 0; n < 300; n++) {
    subjects.push(`shoal.c.bt.node${n % 7}.ans.${"u".repeat(n % 3)}${n}.${n % 5}`);
  }
  const { r, seen } = reader();
  const want: string[] = [];
  for (let round = 0; round < 3; round++) {
    for (let k = 0; k < subjects.length; k++) {
      const s = subjects[(k * 37 + round * 11) % subjects.length];
      r.push(enc.encode(`MSG x ${k % 9 + 1} ${s} 1\r\n${k % 10}\r\n`));
      want.push(`msg ${k % 9 + 1} ${s} ${k % 10}`);
    }
  }
  assert.deepEqual(seen, want);
});

Deno.test("nats wire: a broken stream throws instead of growing", () => {
  assert.throws(() => reader().r.push(enc.encode("MSG a 1 999999\r\n")), /bad size/);
  assert.throws(() => reader().r.push(enc.encode("MSG a\r\n")), /malformed MSG/);
  assert.throws(() => reader().r.push(enc.encode("MSG a 1 r s t 5\r\n")), /malformed MSG/);
  assert.throws(() => reader().r.push(enc.encode("HELLO\r\n")), /unknown operation/);
  assert.throws(() => reader().r.push(new Uint8Array(70 * 1024).fill(65)), /too long/);
});

Deno.test("nats wire: what is written is what the protocol says", () => {
  assert.equal(dec.decode(subOp("s.t", 2, "q")), "SUB s.t q 2\r\n");
  assert.equal(dec.decode(subOp("s.t", 1)), "SUB s.t 1\r\n");
  assert.match(dec.decode(connectOp({ user: "u" })), /^CONNECT \{"user":"u"\}\r\nPING\r\n$/);
  const head = pubHead("a.b", "r.s"), payload = enc.encode("xyz");
  const out = new Uint8Array(pubLength(head, payload.length));
  const end = writePub(out, 0, head, payload);
  assert.equal(dec.decode(out.subarray(0, end)), "PUB a.b r.s 3\r\nxyz\r\n");
});
