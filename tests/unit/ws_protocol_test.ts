import assert from "assert";
import {
  announceReply,
  answerMessage,
  failureMessage,
  isBinary20,
  offerMessage,
  scrapeReply,
  validate,
  WsEvent,
} from "../../ws/protocol.ts";

const L = { maxOffers: 3, maxScrapeTorrents: 4 };
const H = "h".repeat(19) + "\u00ff";
const P = "p".repeat(20);
const base = { action: "announce", info_hash: H, peer_id: P };
const offer = (id = "o".repeat(20)) => ({ offer_id: id, offer: { type: "offer", sdp: "v=0" } });

function reason(m: unknown): string {
  const r = validate(m, L);
  assert.equal(r.kind, "error", `accepted ${JSON.stringify(m)}`);
  return (r as { reason: string }).reason;
}

Deno.test("binary strings: exactly 20 code points of 0-255", () => {
  assert.ok(isBinary20("\u0000".repeat(20)));
  assert.ok(isBinary20("\u00ff".repeat(20)));
  for (const bad of ["x".repeat(19), "x".repeat(21), "\u0100" + "x".repeat(19), 20, null, [], {}]) {
    assert.ok(!isBinary20(bad), JSON.stringify(bad));
  }
});

Deno.test("announce: valid forms are accepted with their fields", () => {
  const r = validate({
    ...base,
    left: 0,
    event: "completed",
    numwant: 2,
    uploaded: 12.5,
    downloaded: -3,
    offers: [offer()],
  }, L);
  assert.deepEqual(r, {
    kind: "announce",
    infoHash: H,
    peerId: P,
    event: WsEvent.Completed,
    seeder: true,
    uploaded: 12,
    downloaded: 0,
    offers: [{ offerId: "o".repeat(20), offer: { type: "offer", sdp: "v=0" } }],
  });
  for (
    const [event, code] of [["started", 1], ["stopped", 2], ["update", 0], ["paused", 4], ["", 0]]
  ) {
    const e = validate({ ...base, event }, L);
    assert.ok(e.kind === "announce" && e.event === code, String(event));
  }
  const noLeft = validate(base, L);
  assert.ok(noLeft.kind === "announce" && !noLeft.seeder && noLeft.offers.length === 0);
  // WebTorrent sends null for numbers it does not know yet (left of a magnet link).
  const nulls = validate(
    { ...base, left: null, numwant: null, uploaded: null, downloaded: null },
    L,
  );
  assert.ok(nulls.kind === "announce" && !nulls.seeder);
  // Every optional field set to null is absent, as bittorrent-tracker and aquatic_ws take it.
  const allNull = validate({
    ...base,
    event: null,
    offers: null,
    answer: null,
    to_peer_id: null,
    offer_id: null,
    left: null,
    numwant: null,
  }, L);
  assert.deepEqual(allNull, {
    kind: "announce",
    infoHash: H,
    peerId: P,
    event: WsEvent.None,
    seeder: false,
    uploaded: 0,
    downloaded: 0,
    offers: [],
  });
  const scrapeNull = validate({ action: "scrape", info_hash: null }, L);
  assert.ok(scrapeNull.kind === "error" && /full scrapes/.test(scrapeNull.reason));
  // More offers than max_offers are cut, not refused.
  const many = validate({
    ...base,
    offers: Array.from({ length: 10 }, (_, i) => offer(`${i}`.padEnd(20, "x"))),
  }, L);
  assert.ok(many.kind === "announce" && many.offers.length === 3);
  // Extra fields are ignored.
  assert.equal(validate({ ...base, trackerid: "x", whatever: [1] }, L).kind, "announce");
});

Deno.test("announce: every field wrong in every way is refused with a reason", () => {
  const wrong = [undefined, null, 5, "short", "x".repeat(21), "\u0100".repeat(20), [], {}];
  for (const v of wrong) {
    assert.match(reason({ ...base, info_hash: v }), /invalid info_hash/);
    assert.match(reason({ ...base, peer_id: v }), /invalid peer_id/);
  }
  for (const v of [5, "begin", "STARTED", "__proto__", "toString", []]) {
    assert.match(reason({ ...base, event: v }), /invalid event/, String(v));
  }
  for (const v of ["0", -1, NaN, [], true]) {
    assert.match(reason({ ...base, left: v }), /invalid left/, String(v));
  }
  for (const k of ["numwant", "uploaded", "downloaded"]) {
    for (const v of ["1", NaN, {}]) {
      assert.match(reason({ ...base, [k]: v }), new RegExp(`invalid ${k}`));
    }
  }
  for (const v of ["x", 5, {}]) {
    assert.match(reason({ ...base, offers: v }), /invalid offers/);
  }
  const badOffers = [
    [null],
    [5],
    [{ offer: { type: "offer", sdp: "x" } }],
    [{ offer_id: "short", offer: { type: "offer", sdp: "x" } }],
  ];
  for (const o of badOffers) assert.match(reason({ ...base, offers: o }), /invalid offer_id/);
  for (
    const o of [undefined, "sdp", { type: "answer", sdp: "x" }, { type: "offer" }, {
      type: "offer",
      sdp: 1,
    }]
  ) {
    assert.match(
      reason({ ...base, offers: [{ offer_id: "o".repeat(20), offer: o }] }),
      /invalid offer$/,
    );
  }
});

Deno.test("answer: needs to_peer_id, offer_id and an answer object", () => {
  const ok = {
    ...base,
    to_peer_id: "t".repeat(20),
    offer_id: "o".repeat(20),
    answer: { type: "answer", sdp: "a" },
  };
  assert.deepEqual(validate(ok, L), {
    kind: "answer",
    infoHash: H,
    peerId: P,
    toPeerId: "t".repeat(20),
    offerId: "o".repeat(20),
    answer: { type: "answer", sdp: "a" },
  });
  assert.match(reason({ ...ok, to_peer_id: undefined }), /invalid to_peer_id/);
  assert.match(reason({ ...ok, to_peer_id: "x" }), /invalid to_peer_id/);
  assert.match(reason({ ...ok, offer_id: undefined }), /invalid offer_id/);
  for (const a of ["x", { type: "offer", sdp: "a" }, { type: "answer" }]) {
    assert.match(reason({ ...ok, answer: a }), /invalid answer/);
  }
  // A null answer is no answer: an announce (its to_peer_id and offer_id are ignored).
  assert.equal(validate({ ...ok, answer: null }, L).kind, "announce");
});

Deno.test("scrape: a string or an array, cut at max_scrape_torrents; full scrape refused", () => {
  assert.deepEqual(validate({ action: "scrape", info_hash: H }, L), {
    kind: "scrape",
    infoHashes: [H],
  });
  const six = Array.from({ length: 6 }, (_, i) => `${i}`.padEnd(20, "z"));
  const r = validate({ action: "scrape", info_hash: six }, L);
  assert.ok(r.kind === "scrape" && r.infoHashes.length === 4);
  assert.match(reason({ action: "scrape" }), /full scrapes are not allowed/);
  for (const v of [[], 5, [H, 5], ["x"], {}]) {
    assert.match(reason({ action: "scrape", info_hash: v }), /invalid info_hash/);
  }
  const e = validate({ action: "scrape" }, L);
  assert.ok(e.kind === "error" && e.action === "scrape");
});

Deno.test("messages that are not objects or have unknown actions are refused", () => {
  for (const m of [null, 5, "x", [], [base]]) assert.match(reason(m), /expected a JSON object/);
  for (const a of [undefined, "connect", "ANNOUNCE", 1]) {
    assert.match(reason({ ...base, action: a }), /invalid action/);
  }
  const e = validate({ ...base, peer_id: 1 }, L);
  assert.ok(
    e.kind === "error" && e.action === "announce" && e.infoHash === H,
    "failure keeps action and hash",
  );
});

Deno.test("outgoing messages have the documented shapes", () => {
  assert.deepEqual(JSON.parse(announceReply(H, 120, 3, 4)), {
    action: "announce",
    info_hash: H,
    interval: 120,
    complete: 3,
    incomplete: 4,
  });
  assert.deepEqual(JSON.parse(offerMessage(H, P, "o".repeat(20), { type: "offer", sdp: "s" })), {
    action: "announce",
    info_hash: H,
    peer_id: P,
    offer_id: "o".repeat(20),
    offer: { type: "offer", sdp: "s" },
  });
  assert.deepEqual(
    JSON.parse(answerMessage(H, P, "o".repeat(20), { type: "answer", sdp: "s" })).answer,
    {
      type: "answer",
      sdp: "s",
    },
  );
  assert.deepEqual(
    JSON.parse(scrapeReply({ [H]: { complete: 1, incomplete: 2, downloaded: 3 } })),
    {
      action: "scrape",
      files: { [H]: { complete: 1, incomplete: 2, downloaded: 3 } },
    },
  );
  assert.deepEqual(JSON.parse(failureMessage("no", "announce", H)), {
    "failure reason": "no",
    action: "announce",
    info_hash: H,
  });
  assert.deepEqual(JSON.parse(failureMessage("invalid JSON")), {
    "failure reason": "invalid JSON",
  });
  // Binary strings survive the JSON round trip.
  const all = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));
  assert.equal(JSON.parse(JSON.stringify({ h: all })).h, all);
});
