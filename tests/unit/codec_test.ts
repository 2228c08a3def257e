import assert from "assert";
import {
  Action,
  ANNOUNCE_LEN,
  AnnounceEvent,
  announceProblem,
  classify,
  decodeResponse,
  encodeAnnounceRequest,
  encodeConnectRequest,
  encodeScrapeRequest,
  isSeeder,
  Kind,
  OFF_EVENT,
  Problem,
  PROBLEM_TEXT,
  readI32,
  scrapeHashCount,
  writeAnnounceHeader,
  writeConnectResponse,
  writeErrorResponse,
  writeScrapeEntry,
  writeScrapeHeader,
} from "../../udp/codec.ts";

const cid = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
const hash = (n: number) => new Uint8Array(20).fill(n);

function announce(extra: Partial<Parameters<typeof encodeAnnounceRequest>[0]> = {}) {
  return encodeAnnounceRequest({
    connectionId: cid,
    transactionId: 0x11223344,
    infoHash: hash(0xaa),
    peerId: hash(0xbb),
    left: 0n,
    port: 6881,
    ...extra,
  });
}

Deno.test("connect request: classified only with the magic protocol id", () => {
  const req = encodeConnectRequest(7);
  assert.equal(req.length, 16);
  assert.deepEqual([...req.subarray(0, 8)], [0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x80]);
  assert.equal(classify(req, 0, 16), Kind.Connect);
  const wrong = req.slice();
  wrong[7] ^= 1;
  assert.equal(classify(wrong, 0, 16), Kind.Ignore);
  assert.equal(classify(req, 0, 15), Kind.Ignore, "short");
  // Trailing bytes after a connect are tolerated.
  const long = new Uint8Array(40);
  long.set(req);
  assert.equal(classify(long, 0, 40), Kind.Connect);
});

Deno.test("connect response is byte-exact and decodes", () => {
  const out = new Uint8Array(16);
  assert.equal(writeConnectResponse(out, 0, 7, 0x01020304, 0x05060708), 16);
  assert.deepEqual([...out], [0, 0, 0, 0, 0, 0, 0, 7, 1, 2, 3, 4, 5, 6, 7, 8]);
  const r = decodeResponse(out, false);
  assert.equal(r.action, Action.Connect);
  assert.equal(r.transactionId, 7);
  if (r.action === 0) assert.deepEqual([...r.connectionId], [1, 2, 3, 4, 5, 6, 7, 8]);
});

Deno.test("announce request: layout, lengths, events, port, BEP 41 options", () => {
  const req = announce({ event: AnnounceEvent.Started, numWant: 50, left: 1234n });
  assert.equal(req.length, ANNOUNCE_LEN);
  assert.equal(classify(req, 0, req.length), Kind.Announce);
  assert.equal(readI32(req, 8), 1);
  assert.equal(readI32(req, 12), 0x11223344);
  assert.equal(req[16], 0xaa);
  assert.equal(req[36], 0xbb);
  assert.equal(readI32(req, OFF_EVENT), 2);
  assert.equal(readI32(req, 92), 50);
  assert.equal((req[96] << 8) | req[97], 6881);
  assert.equal(isSeeder(req, 0), false);
  assert.equal(isSeeder(announce(), 0), true);
  assert.equal(isSeeder(announce({ left: -1n }), 0), false);
  assert.equal(announceProblem(req, 0), 0);
  assert.equal(classify(req, 0, 97), Kind.BadAnnounce);
  assert.equal(announceProblem(announce({ port: 0 }), 0), Problem.PortZero);
  assert.equal(announceProblem(announce({ event: 4 }), 0), Problem.BadEvent);
  assert.equal(announceProblem(announce({ event: -1 }), 0), Problem.BadEvent);
  const withOptions = announce({ options: new Uint8Array([2, 5, 47, 97, 110, 110, 111, 1, 0]) });
  assert.equal(classify(withOptions, 0, withOptions.length), Kind.Announce);
  assert.equal(announceProblem(withOptions, 0), 0);
});

Deno.test("announce response: 6-byte IPv4 and 18-byte IPv6 peers", () => {
  const out = new Uint8Array(20 + 12);
  writeAnnounceHeader(out, 0, 9, 900, 3, 4);
  out.set([10, 0, 0, 1, 0x1a, 0xe1, 192, 168, 1, 2, 0, 80], 20);
  const r = decodeResponse(out, false);
  assert.deepEqual(r, {
    action: 1,
    transactionId: 9,
    interval: 900,
    leechers: 3,
    seeders: 4,
    peers: ["10.0.0.1:6881", "192.168.1.2:80"],
  });
  const out6 = new Uint8Array(20 + 18);
  writeAnnounceHeader(out6, 0, 9, 900, 0, 1);
  out6[35] = 1;
  out6[36] = 0x1a;
  out6[37] = 0xe1;
  const r6 = decodeResponse(out6, true);
  assert.ok(r6.action === 1 && r6.peers[0] === "[0:0:0:0:0:0:0:1]:6881");
  assert.throws(() => decodeResponse(out6.subarray(0, 25), true));
});

Deno.test("scrape request and response", () => {
  const req = encodeScrapeRequest(cid, 5, [hash(1), hash(2), hash(3)]);
  assert.equal(req.length, 16 + 60);
  assert.equal(classify(req, 0, req.length), Kind.Scrape);
  assert.equal(scrapeHashCount(req.length), 3);
  assert.equal(scrapeHashCount(req.length + 19), 3, "partial hash ignored");
  assert.equal(classify(req, 0, 16), Kind.EmptyScrape);
  assert.equal(classify(req, 0, 35), Kind.EmptyScrape);
  const out = new Uint8Array(8 + 24);
  writeScrapeHeader(out, 0, 5);
  writeScrapeEntry(out, 8, 1, 2, 3);
  writeScrapeEntry(out, 20, 4, 5, 6);
  assert.deepEqual(decodeResponse(out, false), {
    action: 2,
    transactionId: 5,
    torrents: [{ seeders: 1, completed: 2, leechers: 3 }, {
      seeders: 4,
      completed: 5,
      leechers: 6,
    }],
  });
});

Deno.test("error response carries the UTF-8 message", () => {
  const out = new Uint8Array(100);
  const len = writeErrorResponse(out, 0, 77, PROBLEM_TEXT[Problem.PortZero]);
  const r = decodeResponse(out.subarray(0, len), false);
  assert.deepEqual(r, {
    action: 3,
    transactionId: 77,
    message: "invalid announce request: port 0",
  });
});

Deno.test("classify: garbage, unknown actions and every short length", () => {
  const rnd = new Uint8Array(200);
  for (let len = 0; len < 16; len++) assert.equal(classify(rnd, 0, len), Kind.Ignore);
  const bad = new Uint8Array(16);
  bad[11] = 9;
  assert.equal(classify(bad, 0, 16), Kind.BadAction);
  bad.fill(0xff, 8, 12); // action -1
  assert.equal(classify(bad, 0, 16), Kind.BadAction);
  bad.fill(0, 8, 12);
  assert.equal(classify(bad, 0, 16), Kind.Ignore, "connect without magic");
  for (let i = 0; i < 10000; i++) {
    crypto.getRandomValues(rnd);
    const len = rnd[0];
    const k = classify(rnd, 0, len);
    assert.ok(k >= Kind.Ignore && k <= Kind.BadAction);
  }
});

Deno.test("decodeResponse rejects malformed responses", () => {
  assert.throws(() => decodeResponse(new Uint8Array(7), false));
  const bad = new Uint8Array(16);
  bad[3] = 9;
  assert.throws(() => decodeResponse(bad, false));
  bad[3] = 0;
  assert.throws(() => decodeResponse(bad.subarray(0, 12), false), /connect response/);
  bad[3] = 2;
  assert.throws(() => decodeResponse(bad.subarray(0, 13), false), /scrape response/);
});
