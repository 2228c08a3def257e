import assert from "assert";
import {
  type Batch,
  pushAnnounce,
  pushAnswer,
  pushClosed,
  pushMessages,
  pushScrape,
  pushScrapeCounts,
  readRequests,
  readResponses,
  type ScrapeEntry,
} from "../../ws/messages.ts";
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
  pushMessages(b, 1, ['{"action":"announce"}', "second"]);
  pushScrapeCounts(b, 2, 77, files);
  pushScrapeCounts(b, 3, 78, []);
  pushMessages(b, 4, ["x"]);
  pushMessages(b, 6, []);
  b.push(99, 5, "never read");
  const got: unknown[] = [];
  readResponses(structuredClone(b), {
    messages: (c, m, at, n) => got.push(["messages", c, m.slice(at, at + n)]),
    scrape: (c, id, f) => got.push(["scrape", c, id, f]),
  });
  assert.deepEqual(got, [
    ["messages", 1, ['{"action":"announce"}', "second"]],
    ["scrape", 2, 77, files],
    ["scrape", 3, 78, []],
    ["messages", 4, ["x"]],
    ["messages", 6, []],
  ]);
  const requests: unknown[] = [];
  const none = () => requests.push("called");
  readRequests([42, 1, 2, 3], { announce: none, answer: none, scrape: none, closed: none });
  assert.deepEqual(requests, []);
});
