import assert from "assert";
import {
  type Batch,
  beginFrames,
  binaryString,
  endFrames,
  pushAccount,
  pushAccountKeyText,
  pushClosed,
  pushScanned,
  pushScrape,
  pushScrapeCounts,
  readFrames,
  readRequests,
  readResponses,
  type ScrapeEntry,
  type SocketHandlers,
} from "../../ws/messages.ts";
import { ByteBuffer } from "../../shared/base/byte_buffer.ts";
import { KeyTable } from "../../shared/store/key_table.ts";
import { writeTextFrame } from "../../ws/frames.ts";
import { readServerTexts } from "../helpers/server_frames.ts";
import type { AnnounceRequest, AnswerRequest } from "../../ws/protocol.ts";
import { fromRequest, Scanned } from "../../ws/scan.ts";

const bin = (c: number) => String.fromCharCode(...Array.from({ length: 20 }, (_, i) => c + i));

Deno.test("ws batches: every socket → request record comes back as it went, through bytes", () => {
  const ann: AnnounceRequest = {
    kind: "announce",
    infoHash: bin(200),
    peerId: bin(1),
    event: 3,
    seeder: true,
    uploaded: 0,
    downloaded: 0,
    offers: [
      { offerId: bin(50), offer: { type: "offer", sdp: 'v=0\r\no=- 1 "q" \\ \u0001' } },
      { offerId: bin(90), offer: { type: "offer", sdp: "" } },
    ],
  };
  const bare: AnnounceRequest = { ...ann, seeder: false, event: 0, offers: [] };
  const ans: AnswerRequest = {
    kind: "answer",
    infoHash: bin(0),
    peerId: bin(7),
    toPeerId: bin(9),
    offerId: bin(11),
    answer: { type: "answer", sdp: "v=0 ☃" },
  };
  const w = new ByteBuffer(8), m = new Scanned(), scratch = new ByteBuffer(8);
  const push = (conn: number, r: AnnounceRequest | AnswerRequest) => {
    fromRequest(r, m, scratch);
    pushScanned(w, conn, m);
  };
  push(5, ann);
  pushClosed(w, 6);
  push(7, ans);
  pushScrape(w, 8, 99, [bin(3), bin(4)]);
  push(9, bare);
  // An SDP is its JSON string text; ids are the bytes at their positions.
  const sdp = (b: Uint8Array, at: number, len: number) =>
    JSON.parse(`"${new TextDecoder().decode(b.subarray(at, at + len))}"`);
  const got: unknown[] = [];
  const batch = w.bytes();
  readRequests(batch, {
    announce: (c, r) => {
      assert.equal(binaryString(r.bytes, r.hashAt), r.infoHash);
      assert.equal(binaryString(r.bytes, r.peerAt), r.peerId);
      const offers = r.offerIdAt.slice(0, r.offers).map((_, k) => {
        const offerId = r.offerId(k);
        return { offerId, offer: { type: "offer", sdp: sdp(r.bytes, r.sdpAt[k], r.sdpLen[k]) } };
      });
      const { infoHash, peerId, event, seeder } = r;
      // Totals travel in the REQ_ACCOUNT record of a private tracker, not in the announce.
      const [uploaded, downloaded] = [0, 0];
      got.push(["announce", c, {
        kind: "announce",
        infoHash,
        peerId,
        event,
        seeder,
        uploaded,
        downloaded,
        offers,
      }]);
    },
    answer: (c, r) => {
      assert.equal(binaryString(r.bytes, r.offerIdAt), r.offerId);
      const { infoHash, peerId, toPeerId, offerId } = r;
      const answer = { type: "answer", sdp: sdp(r.bytes, r.sdpAt, r.sdpLen) };
      got.push(["answer", c, { kind: "answer", infoHash, peerId, toPeerId, offerId, answer }]);
    },
    scrape: (c, id, h) => got.push(["scrape", c, id, h]),
    closed: (c) => got.push(["closed", c]),
  });
  assert.deepEqual(got, [
    ["announce", 5, ann],
    ["closed", 6],
    ["answer", 7, ans],
    ["scrape", 8, 99, [bin(3), bin(4)]],
    ["announce", 9, bare],
  ]);
  // A truncated batch stops at the record it cuts.
  const cuts: [number, string[]][] = [
    [batch.length - 1, ["announce", "closed", "answer", "scrape"]],
    [47, []],
    [9, []],
  ];
  for (const [cut, expected] of cuts) {
    const kinds: string[] = [];
    const note = (k: string) => () => kinds.push(k);
    readRequests(batch.subarray(0, cut), {
      announce: note("announce"),
      answer: note("answer"),
      scrape: note("scrape"),
      closed: note("closed"),
    });
    assert.deepEqual(kinds, expected, `cut at ${cut}`);
  }
});

Deno.test("ws batches: request → socket records come back as they went; unknown kinds stop", () => {
  const files: ScrapeEntry[] = [[bin(1), 3, 4, 5], [bin(2), 0, 0, 0]];
  const b: Batch = [];
  pushScrapeCounts(b, 2, 77, files);
  pushScrapeCounts(b, 3, 78, []);
  b.push(99, 5, "never read");
  const got: unknown[] = [];
  const handlers: SocketHandlers = {
    frames: (c, bytes, at, len, n, payload) =>
      got.push(["frames", c, readServerTexts(bytes, at, len), n, payload]),
    scrape: (c, id, f) => got.push(["scrape", c, id, f]),
  };
  readResponses(structuredClone(b), handlers);
  assert.deepEqual(got, [["scrape", 2, 77, files], ["scrape", 3, 78, []]]);

  // Frames: one record per connection, read back from a copy as a ring would hand it over.
  got.length = 0;
  const w = new ByteBuffer(8);
  const record = (conn: number, texts: string[]) => {
    const at = beginFrames(w, conn);
    let payload = 0;
    for (const t of texts) payload += writeTextFrame(w, t);
    endFrames(w, at, texts.length, payload);
  };
  record(1, ['{"action":"announce"}', "sécond"]);
  record(4, ["x".repeat(70000)]);
  record(6, []);
  const whole = w.bytes();
  readFrames(whole, handlers);
  assert.deepEqual(got, [
    ["frames", 1, ['{"action":"announce"}', "sécond"], 2, 21 + 7],
    ["frames", 4, ["x".repeat(70000)], 1, 70000],
    ["frames", 6, [], 0, 0],
  ]);
  // A truncated record, or one of an unknown kind, ends the batch.
  got.length = 0;
  readFrames(whole.subarray(0, whole.length - 1), handlers);
  assert.equal(got.length, 2);
  got.length = 0;
  const odd = whole.slice();
  odd[0] = 9;
  readFrames(odd, handlers);
  assert.deepEqual(got, []);

  const requests: unknown[] = [];
  const none = () => requests.push("called");
  readRequests(new Uint8Array([42, 0, 0, 0, 1, 0, 0, 0]), {
    announce: none,
    answer: none,
    scrape: none,
    closed: none,
  });
  assert.deepEqual(requests, []);
});

/** An announce of info hash `bin(3)` as the socket worker scans it. */
function scannedAnnounce(): Scanned {
  const m = new Scanned();
  fromRequest(
    {
      kind: "announce",
      infoHash: bin(3),
      peerId: bin(4),
      event: 0,
      seeder: false,
      uploaded: 4000,
      downloaded: 10,
      offers: [],
    },
    m,
    new ByteBuffer(8),
  );
  return m;
}

/** Handlers that note each announce, answer, scrape and close they read in `seen`. */
function recording(seen: string[]) {
  return {
    announce: () => seen.push("announce"),
    answer: () => seen.push("answer"),
    scrape: () => seen.push("scrape"),
    closed: (conn: number) => seen.push(`closed ${conn}`),
  };
}

Deno.test("ws batches: an accounting record to another node carries its key's text", () => {
  const keys = new KeyTable();
  keys.apply({
    keys: ["first-key-0123456789", "second-key-0123456789"],
    index: new Uint32Array([0, 1]),
    validUntil: new Float64Array([Infinity, Infinity]),
    state: new Uint8Array(2),
  });
  const m = scannedAnnounce(), w = new ByteBuffer(8);
  pushAccountKeyText(w, 12, keys, 1, m);
  pushAccount(w, 13, 0, m);
  pushClosed(w, 14);
  const seen: string[] = [];
  readRequests(w.buf.subarray(0, w.len), {
    ...recording(seen),
    account: (b, p) => seen.push(`account key ${b[p + 8]}`),
    accountKeyText: (b, p, start, end) => {
      const text = new TextDecoder().decode(b.subarray(start, end));
      seen.push(`account text ${text} = ${keys.find(b, start, end)}, ${binaryString(b, p + 12)}`);
    },
  });
  assert.deepEqual(seen, [
    `account text second-key-0123456789 = 1, ${bin(3)}`,
    "account key 0",
    "closed 14",
  ]);
});

Deno.test("ws batches: an accounting record whose key has no text is left out, not half-written", () => {
  const m = scannedAnnounce(), w = new ByteBuffer(8);
  pushAccountKeyText(w, 12, new KeyTable(), 7, m);
  pushClosed(w, 14);
  const seen: string[] = [];
  readRequests(w.buf.subarray(0, w.len), {
    ...recording(seen),
    accountKeyText: () => seen.push("account"),
  });
  assert.deepEqual(seen, ["closed 14"]);
});
