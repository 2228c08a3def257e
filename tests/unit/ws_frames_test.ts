import assert from "assert";
import { ByteBuffer } from "../../shared/base/byte_buffer.ts";
import { writeAnnounceFrame, writeForwardFrame, writeTextFrame } from "../../ws/frames.ts";
import { announceReply, answerMessage, offerMessage } from "../../ws/protocol.ts";
import { readServerFrames } from "../helpers/server_frames.ts";
import { prng } from "../helpers/prng.ts";

const enc = new TextEncoder();

/** A request batch's worth of parts: three ids (latin1 bytes) and an SDP's JSON string text. */
function parts(h: string, p: string, o: string, sdp: string) {
  const text = enc.encode(JSON.stringify(sdp).slice(1, -1));
  const src = new Uint8Array(7 + 60 + text.length); // at an odd offset, as in a batch
  [h, p, o].forEach((id, k) => {
    for (let i = 0; i < 20; i++) src[7 + 20 * k + i] = id.charCodeAt(i);
  });
  src.set(text, 67);
  return [src, 7, 27, 47, 67, text.length] as const;
}

Deno.test("ws frames: a forwarded offer or answer is byte for byte the UTF-8 of its JSON", () => {
  const rnd = prng(13);
  // Every code point an id may hold (0–255) turns up, escapes and quotes included.
  const all = Array.from({ length: 256 }, (_, c) => String.fromCharCode(c)).join("");
  const id = (k: number) => all.slice(k * 20, k * 20 + 20).padEnd(20, "\u00ff");
  const random = () => String.fromCharCode(...Array.from({ length: 20 }, () => rnd.below(256)));
  const sdps = [
    "",
    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n",
    'quote " backslash \\ tab \t ünïcode ☃ 🐟 \u0001 \u001f \u007f \u0080 \u07ff \u0800 \uffff',
    "lone surrogates: \ud800 x \udfff \udbff\udfff \udc00\ud800", // the third is a pair
    String.fromCharCode(...Array.from({ length: 256 }, (_, c) => c)),
    "s".repeat(70000), // a 10-byte frame header
  ];
  const w = new ByteBuffer(16);
  const expected: string[] = [];
  for (let k = 0; k < 20; k++) {
    for (const sdp of sdps) {
      const [h, p, o] = k < 13
        ? [id(k), id((k + 5) % 13), random()]
        : [random(), random(), random()];
      writeForwardFrame(w, "offer", ...parts(h, p, o, sdp));
      expected.push(offerMessage(h, p, o, { type: "offer", sdp }));
      writeForwardFrame(w, "answer", ...parts(h, p, o, sdp));
      expected.push(answerMessage(h, p, o, { type: "answer", sdp }));
    }
  }
  writeTextFrame(w, "short");
  expected.push("short");
  const frames = readServerFrames(w.buf, 0, w.len);
  assert.equal(frames.length, expected.length);
  frames.forEach(([op, payload], i) => {
    assert.equal(op, 1);
    assert.deepEqual(payload, enc.encode(expected[i]), `message ${i}: ${expected[i].slice(0, 80)}`);
  });
});

Deno.test("ws frames: an announce reply is byte for byte announceReply's JSON in UTF-8", () => {
  const rnd = prng(17);
  const all = Array.from({ length: 256 }, (_, c) => c);
  const hashes = [
    ...Array.from({ length: 13 }, (_, k) => all.slice(k * 20, k * 20 + 20)),
    ...Array.from({ length: 20 }, () => Array.from({ length: 20 }, () => rnd.below(256))),
  ].map((h) => h.concat(Array(20 - h.length).fill(255)));
  // Numbers around every digit count's edges, and the largest a counter reaches.
  const numbers = [0, 1, 9, 10, 99, 100, 120, 999, 1000, 86400, 4294967295, 2 ** 53 - 1];
  const w = new ByteBuffer(16);
  const expected: string[] = [];
  const src = new Uint8Array(23);
  for (const [k, h] of hashes.entries()) {
    src.set(h, 3);
    const [interval, complete, incomplete] = [0, 1, 2].map((j) =>
      numbers[(k + 5 * j) % numbers.length]
    );
    writeAnnounceFrame(w, src, 3, interval, complete, incomplete);
    expected.push(announceReply(String.fromCharCode(...h), interval, complete, incomplete));
  }
  const frames = readServerFrames(w.buf, 0, w.len);
  assert.equal(frames.length, expected.length);
  frames.forEach(([op, payload], i) => {
    assert.equal(op, 1);
    assert.deepEqual(payload, enc.encode(expected[i]), `message ${i}: ${expected[i]}`);
  });
});

Deno.test("ws frames: the payload length returned is the frame's", () => {
  const w = new ByteBuffer(4);
  const sizes = [0, 125, 126, 65535, 65536].map((n) =>
    writeTextFrame(w, "é".repeat(n / 2 | 0) + "a".repeat(n % 2))
  );
  const frames = readServerFrames(w.buf, 0, w.len);
  assert.deepEqual(sizes, frames.map(([, p]) => p.length));
  assert.deepEqual(sizes, [0, 125, 126, 65535, 65536]);
});
