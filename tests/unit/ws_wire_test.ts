/** The WebSocket engine alone, with a recording transport: handshake, frames, limits, closes. */
import assert from "assert";
import { prng } from "../helpers/prng.ts";
import { CloseCode, HANDSHAKE_MS, WireConnection, type WireOptions } from "../../ws/wire.ts";
import { unmask } from "../../ws/mask.ts";
import type { Transport } from "../../shared/net/tcp.ts";
import { ByteBuffer } from "../../shared/base/byte_buffer.ts";
import { writeTextFrame } from "../../ws/frames.ts";
import { readServerFrames } from "../helpers/server_frames.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

class Recorder implements Transport {
  out: number[] = [];
  queued = 0;
  ended = false;
  write(b: Uint8Array, off: number, len: number): void {
    for (let i = 0; i < len; i++) this.out.push(b[off + i]);
  }
  end(): void {
    this.ended = true;
  }
  pause(): void {}
  text(): string {
    return dec.decode(new Uint8Array(this.out));
  }
  /** Server frames written after the HTTP head: [opcode, payload]. */
  frames(): [number, Uint8Array][] {
    const b = new Uint8Array(this.out);
    const head = new TextDecoder("latin1").decode(b).indexOf("\r\n\r\n") + 4;
    return readServerFrames(b, head);
  }
}

const OPTS: WireOptions = {
  maxFrameSize: 1000,
  maxMessageSize: 3000,
  healthCheck: true,
  ipHeader: "x-forwarded-for",
};
const UPGRADE =
  "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Forwarded-For: 203.0.113.9, 10.0.0.1\r\n\r\n";

function frame(opcode: number, payload: Uint8Array, fin = true, masked = true): Uint8Array {
  const n = payload.length;
  const head = [(fin ? 0x80 : 0) | opcode];
  if (n < 126) head.push((masked ? 0x80 : 0) | n);
  else head.push((masked ? 0x80 : 0) | 126, n >> 8, n & 255);
  const mask = masked ? [0x11, 0x22, 0x33, 0x44] : [];
  const body = payload.map((x, i) => (masked ? x ^ mask[i & 3] : x));
  return new Uint8Array([...head, ...mask, ...body]);
}

function setup(opts = OPTS, takes = (_b: Uint8Array) => false) {
  const t = new Recorder();
  const texts: string[] = [];
  const taken: string[] = [];
  const closes: number[] = [];
  let ip = "";
  const ws = new WireConnection(t, opts, {
    open: (_w, i) => {
      ip = i;
      return true;
    },
    message: (_w, b) => takes(b) && taken.push(new TextDecoder().decode(b)) > 0,
    text: (_w, s) => texts.push(s),
    closed: (_w, code) => closes.push(code),
  }, "192.0.2.1");
  return { t, ws, texts, taken, closes, ip: () => ip };
}

function feed(ws: WireConnection, bytes: Uint8Array, step = bytes.length) {
  for (let i = 0; i < bytes.length; i += step) {
    const chunk = bytes.slice(i, i + step); // a fresh buffer each time, as a reused read buffer
    ws.receive(chunk, 0, chunk.length);
  }
}

Deno.test("wire: the upgrade answers RFC 6455's accept and takes the proxy's client IP", () => {
  const { t, ws, ip } = setup();
  feed(ws, enc.encode(UPGRADE));
  assert.match(t.text(), /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.match(t.text(), /Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/);
  assert.equal(ip(), "203.0.113.9");
  ws.gone();
});

Deno.test("wire: messages in any split, fragmented, with pings; replies framed", () => {
  const { t, ws, texts } = setup();
  const msg = '{"a":"é😀"}'.repeat(20);
  const bytes = new Uint8Array([
    ...enc.encode(UPGRADE),
    ...frame(1, enc.encode("hello")),
    ...frame(9, enc.encode("pi")),
    ...frame(1, enc.encode(msg).slice(0, 100), false),
    ...frame(9, enc.encode("ng")), // a control frame between fragments
    ...frame(0, enc.encode(msg).slice(100, 250), false),
    ...frame(0, enc.encode(msg).slice(250), true),
  ]);
  for (const step of [bytes.length, 1, 7, 64]) {
    const s = setup();
    feed(s.ws, bytes, step);
    assert.deepEqual(s.texts, ["hello", msg], `step ${step}`);
    assert.deepEqual(s.t.frames().map(([op, p]) => [op, dec.decode(p)]), [[10, "pi"], [10, "ng"]]);
    s.ws.gone();
  }
  // A handler that takes messages as bytes gets them whole (fragments joined) and undecoded.
  const bytesFirst = setup(OPTS, (b) => b[0] === 0x7b);
  feed(bytesFirst.ws, bytes, 7);
  assert.deepEqual(bytesFirst.taken, [msg]);
  assert.deepEqual(bytesFirst.texts, ["hello"]);
  bytesFirst.ws.gone();
  feed(ws, enc.encode(UPGRADE));
  ws.send("ünïcode ".repeat(40));
  const [[op, payload]] = t.frames();
  assert.equal(op, 1);
  assert.equal(dec.decode(payload), "ünïcode ".repeat(40));
  assert.equal(texts.length, 0);
  ws.gone();
});

Deno.test("wire: violations close with the right code, judged from the frame header", () => {
  const cases: [string, Uint8Array, number][] = [
    ["binary", frame(2, new Uint8Array(3)), CloseCode.Unsupported],
    ["unmasked", frame(1, enc.encode("x"), true, false), CloseCode.Protocol],
    ["reserved bits", new Uint8Array([0xc1, 0x81, 0, 0, 0, 0, 0x78]), CloseCode.Protocol],
    ["continuation first", frame(0, enc.encode("x")), CloseCode.Protocol],
    ["unknown opcode", frame(3, enc.encode("x")), CloseCode.Protocol],
    ["long ping", frame(9, new Uint8Array(126)), CloseCode.Protocol],
    ["invalid UTF-8", frame(1, new Uint8Array([0xc3, 0x28])), CloseCode.InvalidData],
    // Only the header of a 1001-byte frame: refused before the payload arrives.
    ["frame too big", frame(1, new Uint8Array(1001)).slice(0, 8), CloseCode.TooBig],
    ["64-bit length", new Uint8Array([0x81, 0xff, 0, 0, 1, 0, 0, 0, 0, 0]), CloseCode.TooBig],
    [
      "message too big",
      new Uint8Array([
        ...frame(1, new Uint8Array(900), false),
        ...frame(0, new Uint8Array(900), false),
        ...frame(0, new Uint8Array(900), false),
        ...frame(0, new Uint8Array(900)),
      ]),
      CloseCode.TooBig,
    ],
  ];
  for (const [name, bytes, code] of cases) {
    const { t, ws, texts, closes } = setup();
    feed(ws, enc.encode(UPGRADE));
    feed(ws, bytes);
    feed(ws, frame(1, enc.encode("ignored after the violation")));
    const frames = t.frames();
    assert.equal(frames.length, 1, name);
    assert.equal(frames[0][0], 8, `${name}: a close frame`);
    assert.equal((frames[0][1][0] << 8) | frames[0][1][1], code, name);
    assert.deepEqual(texts, [], name);
    ws.gone();
    assert.deepEqual(closes, [code], `${name}: closed once with the code`);
  }
});

Deno.test("wire: the closing handshake, both ways", () => {
  const a = setup();
  feed(a.ws, enc.encode(UPGRADE));
  feed(a.ws, frame(8, new Uint8Array([0x03, 0xe8])));
  assert.deepEqual(a.t.frames()[0][0], 8, "the close is answered");
  assert.ok(a.t.ended);
  assert.deepEqual(a.closes, [1000]);
  const b = setup();
  feed(b.ws, enc.encode(UPGRADE));
  b.ws.close(4000, "bye");
  b.ws.send("not after close");
  assert.equal(b.t.frames().length, 1);
  assert.equal(b.t.ended, false, "waits for the client's close");
  feed(b.ws, frame(8, new Uint8Array([0x0f, 0xa0])));
  assert.ok(b.t.ended);
  assert.deepEqual(b.closes, [4000]);
});

Deno.test("wire: HTTP without an upgrade: health check, 426, bad requests, huge heads", () => {
  const cases: [string, RegExp][] = [
    ["GET /health HTTP/1.1\r\nHost: x\r\n\r\n", /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nok\n$/],
    ["GET /health?x=1 HTTP/1.1\r\n\r\n", /^HTTP\/1\.1 200 OK/],
    ["GET / HTTP/1.1\r\nHost: x\r\n\r\n", /^HTTP\/1\.1 426 Upgrade Required/],
    ["garbage\r\n\r\n", /^HTTP\/1\.1 400 Bad Request/],
    [
      "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
      /^HTTP\/1\.1 400 Bad Request/,
    ],
    ["GET / HTTP/1.1\r\nX: " + "y".repeat(9000), /^HTTP\/1\.1 431/],
  ];
  for (const [req, re] of cases) {
    const { t, ws, closes } = setup();
    feed(ws, enc.encode(req), 100);
    assert.match(t.text(), re, req.slice(0, 40));
    assert.ok(t.ended, "the connection ends after the response");
    ws.gone();
    assert.deepEqual(closes, [], "never opened");
  }
  const noHealth = setup({ ...OPTS, healthCheck: false });
  feed(noHealth.ws, enc.encode("GET /health HTTP/1.1\r\n\r\n"));
  assert.match(noHealth.t.text(), /^HTTP\/1\.1 426/);
});

Deno.test("wire: frames written elsewhere go out as they are, after what was sent before", () => {
  const { t, ws } = setup();
  ws.receive(enc.encode(UPGRADE), 0, UPGRADE.length);
  ws.send("one");
  const frames = new ByteBuffer(16);
  writeTextFrame(frames, "x".repeat(300)); // a 126-length header
  writeTextFrame(frames, "two");
  const at = 5, bytes = new Uint8Array(at + frames.len);
  bytes.set(frames.buf.subarray(0, frames.len), at);
  ws.sendFrames(bytes, at, frames.len);
  ws.close(CloseCode.Normal, "bye");
  ws.sendFrames(bytes, at, frames.len); // closing: nothing more goes
  assert.deepEqual(
    t.frames().map(([op, p]) => [op, op === 1 ? dec.decode(p) : p.length]),
    [[1, "one"], [1, "x".repeat(300)], [1, "two"], [8, 5]],
  );
});

Deno.test("wire: unmasking by words gives the bytes a byte at a time would, at every alignment", () => {
  const rnd = prng(31);
  for (let trial = 0; trial < 400; trial++) {
    const size = trial < 200 ? trial % 50 : rnd.below(3000);
    const offset = rnd.below(4), at = rnd.below(8);
    const backing = new Uint8Array(offset + at + 4 + size + rnd.below(5));
    for (let i = 0; i < backing.length; i++) backing[i] = rnd.below(256);
    const buf = backing.subarray(offset); // a view that does not start on a word
    const expected = buf.slice();
    for (let i = 0; i < size; i++) expected[at + 4 + i] ^= buf[at + (i & 3)];
    unmask(buf, at, size);
    assert.deepEqual(buf, expected, `size ${size}, offset ${offset}, at ${at}`);
  }
});

/**
 * Runs `fn` with the wall clock (`Date.now`) and the monotonic one (`performance.now`, which
 * the process clock reads) moved by what it sets in `shift`; both are put back after.
 */
async function withClocks(
  fn: (shift: { wallMs: number; monotonicMs: number }) => Promise<void>,
): Promise<void> {
  const realDate = Date.now, realNow = performance.now.bind(performance);
  const shift = { wallMs: 0, monotonicMs: 0 };
  Date.now = () => realDate() + shift.wallMs;
  Object.defineProperty(performance, "now", {
    value: () => realNow() + shift.monotonicMs,
    configurable: true,
  });
  try {
    await fn(shift);
  } finally {
    Date.now = realDate;
    delete (performance as { now?: unknown }).now; // the prototype's again
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Handshakes are swept every HANDSHAKE_MS / 20: two sweeps and a margin. */
const TWO_SWEEPS = HANDSHAKE_MS / 10 + 200;

Deno.test("wire: a handshake too slow is closed though the wall clock stepped back", async () => {
  await withClocks(async (shift) => {
    const { t, ws } = setup();
    feed(ws, enc.encode("GET / HTTP/1.1\r\nHost: x\r\n")); // and the head never ends
    shift.wallMs = -86_400_000; // the wall clock steps a day back
    shift.monotonicMs = HANDSHAKE_MS + 1; // while the handshake takes too long
    await sleep(TWO_SWEEPS);
    assert.ok(t.ended && ws.done, "the slow handshake was closed");
    assert.equal(t.out.length, 0, "without an answer");
  });
});

Deno.test("wire: a wall-clock step forward does not close a handshake just begun", async () => {
  await withClocks(async (shift) => {
    const { t, ws } = setup();
    shift.wallMs = 86_400_000;
    await sleep(TWO_SWEEPS);
    assert.ok(!t.ended && !ws.done, "still waiting for its head");
    feed(ws, enc.encode(UPGRADE));
    assert.match(t.text(), /^HTTP\/1\.1 101 /);
    ws.gone();
  });
});
