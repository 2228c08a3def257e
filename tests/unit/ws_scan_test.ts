import assert from "assert";
import {
  ANSWER_SLOT,
  fromRequest,
  SCAN_ANNOUNCE,
  SCAN_ANSWER,
  scanMessage,
  Scanned,
} from "../../ws/scan.ts";
import { validate } from "../../ws/protocol.ts";
import { ByteBuffer } from "../../shared/base/byte_buffer.ts";
import { FUZZ_SEED, prng } from "../helpers/prng.ts";
import { stringEnd } from "../../ws/json_bytes.ts";

const enc = new TextEncoder();
const strict = new TextDecoder("utf-8", { fatal: true });
const LIMITS = { maxOffers: 4, maxScrapeTorrents: 10 };

/** What a scanned message means: its fields, with each SDP read back as a string. */
function meaning(m: Scanned) {
  const sdp = (slot: number) =>
    JSON.parse(`"${strict.decode(m.src.subarray(m.sdpAt[slot], m.sdpAt[slot] + m.sdpLen[slot]))}"`);
  const id = (b: Uint8Array, at = 0) => [...b.subarray(at, at + 20)];
  if (m.kind === SCAN_ANSWER) {
    return {
      kind: "answer",
      hash: id(m.hash),
      peer: id(m.peer),
      toPeer: id(m.toPeer),
      offerId: id(m.offerId),
      sdp: sdp(ANSWER_SLOT),
    };
  }
  assert.equal(m.kind, SCAN_ANNOUNCE);
  return {
    kind: "announce",
    hash: id(m.hash),
    peer: id(m.peer),
    event: m.event,
    seeder: m.seeder,
    offers: Array.from({ length: m.offers }, (_, i) => ({
      id: id(m.offerIds, 20 * i),
      sdp: sdp(i),
    })),
  };
}

/** The general path's meaning of `bytes` (decode, parse, validate), or why it has none. */
function general(bytes: Uint8Array) {
  let parsed: unknown;
  try {
    parsed = JSON.parse(strict.decode(bytes));
  } catch {
    return "not JSON text";
  }
  const r = validate(parsed, LIMITS);
  if (r.kind !== "announce" && r.kind !== "answer") return r.kind;
  const m = new Scanned();
  fromRequest(r, m, new ByteBuffer(16));
  return meaning(m);
}

/** Scans `bytes`; when the fast path takes it, checks the general path means the same. */
function agree(bytes: Uint8Array, note: string): boolean {
  const m = new Scanned();
  if (!scanMessage(bytes, LIMITS.maxOffers, m)) return false;
  assert.deepEqual(meaning(m), general(bytes), note);
  return true;
}

// WebTorrent's ids: 20 bytes from hex, as a string of code points 0–255.
const binary = (seed: number) =>
  String.fromCharCode(...Array.from({ length: 20 }, (_, i) => (seed * 53 + i * 97) & 0xff));
const SDP = "v=0\r\no=- 4327394824 2 IN IP4 127.0.0.1\r\ns=-\r\na=fingerprint:sha-256 AB:CD\r\n";

Deno.test("ws scan: WebTorrent's announces and answers take the fast path and mean what they say", () => {
  // As bittorrent-tracker's client writes them (key order included), with binary ids.
  const announce = {
    numwant: 5,
    uploaded: 0,
    downloaded: 0,
    left: null,
    event: "started",
    action: "announce",
    info_hash: binary(1),
    peer_id: binary(2),
    offers: [0, 1, 2, 3, 4, 5].map((k) => ({
      offer: { type: "offer", sdp: SDP + k },
      offer_id: binary(10 + k),
    })),
  };
  const answer = {
    action: "announce",
    info_hash: binary(1),
    peer_id: binary(3),
    to_peer_id: binary(2),
    answer: { type: "answer", sdp: SDP },
    offer_id: binary(10),
  };
  const texts = [
    JSON.stringify(announce),
    JSON.stringify({ ...announce, left: 0, event: "completed", offers: null }),
    JSON.stringify({ ...announce, left: 0.0, event: undefined, trackerid: "abc", x: [{}] }),
    JSON.stringify(answer),
    JSON.stringify(answer, null, 2), // whitespace everywhere
    JSON.stringify({ ...announce, answer: null, to_peer_id: binary(4), offer_id: binary(5) }),
    JSON.stringify({ ...answer, answer: { type: "answer", sdp: "s=ünïcode ☃ 🐟 \ud800" } }),
  ];
  for (const t of texts) assert.ok(agree(enc.encode(t), t.slice(0, 60)), t.slice(0, 200));
  const m = new Scanned();
  scanMessage(enc.encode(texts[0]), LIMITS.maxOffers, m);
  assert.equal(m.offers, LIMITS.maxOffers, "offers past max_offers are left out");
  scanMessage(enc.encode(texts[1]), LIMITS.maxOffers, m);
  assert.ok(m.seeder && m.offers === 0);
});

Deno.test("ws scan: what the fast path leaves to the general path", () => {
  const base = {
    action: "announce",
    info_hash: "h".repeat(20),
    peer_id: "p".repeat(20),
  };
  const j = (o: Record<string, unknown>) => JSON.stringify({ ...base, ...o });
  const declined = [
    JSON.stringify({ action: "scrape", info_hash: "h".repeat(20) }),
    j({ info_hash: "h".repeat(19) }), // refused
    j({ peer_id: "ā".repeat(20) }), // refused: code points over 255
    j({ left: -1 }), // refused
    j({ left: 1e400 }).replace("null", "1e400"), // an exponent
    j({ numwant: "5" }), // refused
    j({ event: "sideways" }), // refused
    j({ offers: [{ offer_id: "o".repeat(20), offer: { type: "answer", sdp: "x" } }] }),
    j({ answer: { type: "answer", sdp: "x" }, offer_id: "o".repeat(20) }), // no to_peer_id
    j({}).replace('"action"', '"act\\u0069on"'), // an escaped key
    j({}).replace("{", '{"peer_id":"' + "q".repeat(20) + '",'), // a repeated key
    j({}) + " x", // trailing text
    "\ufeff" + j({}), // a byte-order mark
    j({ deep: JSON.parse("[".repeat(40) + "]".repeat(40)) }),
  ];
  for (const t of declined) {
    assert.equal(scanMessage(enc.encode(t), 10, new Scanned()), false, t.slice(0, 100));
  }
  assert.ok(scanMessage(enc.encode(j({})), 10, new Scanned()), "the base is taken");
});

Deno.test("ws scan: mutated messages the fast path takes mean the same on the general path", () => {
  const rnd = prng(29);
  const pick = <T>(a: T[]) => a[rnd.below(a.length)];
  // Mostly valid, so that mutations reach the fast path's corners.
  const id = () =>
    rnd.chance(0.9) ? binary(rnd.below(1000)) : pick([
      () => "a".repeat(19) + pick(['"', "\\", "\n", "\u0000", "\u007f", "\u0080", "ÿ", "ā"]),
      () => "a".repeat(rnd.below(3) + 19),
    ])();
  const sdpValue = () =>
    rnd.chance(0.9) ? pick([SDP, "", "x", SDP + '"\\/\t\u0001', "é ☃ 🐟"]) : pick([5, null]);
  const value = () =>
    pick([null, true, false, 0, -0, 1.5, -3, 1e21, "", "x", [], {}, [1, [2]], { a: { b: 1 } }]);
  const template = () => {
    const m: Record<string, unknown> = {
      action: rnd.chance(0.9) ? "announce" : pick(["scrape", "x"]),
      info_hash: id(),
      peer_id: id(),
    };
    if (rnd.chance(0.5)) m.event = pick(["started", "stopped", "completed", "update", "", "x"]);
    if (rnd.chance(0.5)) m.left = pick([0, 1, 1000, null, -1, 0.5]);
    if (rnd.chance(0.3)) m.numwant = pick([5, null, "5", -1]);
    if (rnd.chance(0.6)) {
      m.offers = Array.from({ length: rnd.below(7) }, () => ({
        offer_id: id(),
        offer: { type: rnd.chance(0.95) ? "offer" : "answer", sdp: sdpValue() },
      }));
    }
    if (rnd.chance(0.3)) {
      m.answer = rnd.chance(0.1) ? null : {
        type: rnd.chance(0.95) ? "answer" : "offer",
        sdp: sdpValue(),
      };
      m.to_peer_id = id();
      m.offer_id = id();
    }
    if (rnd.chance(0.2)) m[pick(["x", "trackerid", "offers", "left"])] = value();
    return m;
  };
  // Textual mutations JSON.stringify never makes: spacing, escapes, numbers, repeats, cuts.
  const mutations: ((t: string) => string)[] = [
    (t) => t,
    (t) =>
      t.replace(/[,:{}[\]]/g, (c) => (rnd.chance(0.3) ? pick([" ", "\n", "\t", "\r"]) : "") + c),
    (t) => t.replace(/[a-z]/, (c) => `\\u00${c.charCodeAt(0).toString(16)}`),
    (t) =>
      t.replace(
        /"(\w)/g,
        (s, c) => (rnd.chance(0.1) ? `"\\u00${c.charCodeAt(0).toString(16)}` : s),
      ),
    (t) => t.replace(/\//g, "\\/"),
    (t) =>
      t.replace(/(:)(\d+)/, (_, c, n) => c + pick([`${n}.0`, `${n}e0`, `0${n}`, `-${n}`, `${n}.`])),
    (t) => t.replace("{", `{"${pick(["left", "event", "offers", "action", "info_hash"])}":null,`),
    (t) => t.slice(0, rnd.below(t.length + 1)),
    (t) => t + pick(["", " ", "}", ",", "x"]),
  ];
  let taken = 0, n = 0;
  for (; n < 20_000; n++) {
    const text = pick(mutations)(JSON.stringify(template()));
    const bytes = enc.encode(text);
    // Now and then, raw bytes: broken UTF-8 must never be taken.
    if (rnd.chance(0.1) && bytes.length > 0) bytes[rnd.below(bytes.length)] = rnd.below(256);
    if (agree(bytes, text.slice(0, 200))) taken++;
  }
  console.log(`ws scan: ${n} mutated messages, ${taken} taken by the fast path`);
  assert.ok(taken > n / 10 && taken < n, "both paths were exercised");
});

Deno.test("scan: strings read four bytes at a time end where the byte loop ends them", () => {
  // The byte-at-a-time reading, as the reference: plain printable ASCII, escapes, UTF-8.
  const reference = (b: Uint8Array, p: number, end: number): number => {
    const text = new TextDecoder("utf-8", { fatal: true });
    for (let q = p; q < end; q++) {
      if (b[q] === 0x5c) {
        q++;
        continue;
      }
      if (b[q] !== 0x22) continue;
      try {
        JSON.parse(`"${text.decode(b.subarray(p, q))}"`);
        return q;
      } catch {
        return -1;
      }
    }
    return -1;
  };
  const alphabet = [0x41, 0x61, 0x20, 0x7e, 0x7f, 0x1f, 0x22, 0x5c, 0x6e, 0xc3, 0xa9, 0x80, 0x00];
  const rnd = prng(FUZZ_SEED + 77);
  const backing = new Uint8Array(512);
  for (let round = 0; round < 20000; round++) {
    const n = 16 + rnd.below(80), start = rnd.below(8);
    const b = backing.subarray(start, start + n + 1);
    for (let i = 0; i < n; i++) {
      // Mostly plain, as an SDP is; now and then a byte that is not.
      b[i] = rnd.chance(0.9) ? 0x41 + rnd.below(26) : alphabet[rnd.below(alphabet.length)];
    }
    b[n] = 0x22;
    const want = reference(b, 0, n + 1);
    assert.equal(stringEnd(b, 0, n + 1), want, `${[...b]}`);
  }
});
