import assert from "assert";
import {
  type Batch,
  beginFrames,
  endFrames,
  pushAnnounce,
  pushAnswer,
  pushClosed,
  pushScrape,
  pushScrapeCounts,
  readFrames,
  readRequests,
  readResponses,
  type ScrapeEntry,
  type SocketHandlers,
} from "../../ws/messages.ts";
import { ByteBuffer } from "../../shared/base/byte_buffer.ts";
import { writeTextFrame } from "../../ws/frames.ts";
import { readServerTexts } from "../helpers/server_frames.ts";
import type { AnnounceRequest, AnswerRequest } from "../../ws/protocol.ts";

const bin = (c: number) => String.fromCharCode(...Array.from({ length: 20 }, (_, i) => c + i));

Deno.test("ws batches: every socket → request record comes back as it went, after a clone", () => {
  const ann: AnnounceRequest = {
    kind: "announce",
    infoHash: bin(200),
    peerId: bin(1),
    event: 3,
    seeder: true,
    offers: [
      { offerId: bin(50), offer: { type: "offer", sdp: "v=0\r\no=- 1" } },
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
  const b: Batch = [];
  pushAnnounce(b, 5, ann);
  pushClosed(b, 6);
  pushAnswer(b, 7, ans);
  pushScrape(b, 8, 99, [bin(3), bin(4)]);
  pushAnnounce(b, 9, bare);
  const got: unknown[] = [];
  readRequests(structuredClone(b), {
    announce: (c, r) => got.push(["announce", c, r]),
    answer: (c, r) => got.push(["answer", c, r]),
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
  readRequests([42, 1, 2, 3], { announce: none, answer: none, scrape: none, closed: none });
  assert.deepEqual(requests, []);
});
