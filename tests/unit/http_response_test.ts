/** HTTP tracker responses: exact bytes of heads and bencoded bodies, UDP layouts turned into HTTP. */
import assert from "assert";
import { binaryToBytes, ByteBuffer, bytesToBinary, decode } from "../../http/bencode.ts";
import {
  AnnounceReply,
  beginResponse,
  finishResponse,
  HEAD_ROOM,
  Reply,
  responseFlags,
  writeAnnounceResponse,
  writeErrorResponse,
  writeFailureResponse,
  writeParseError,
  writeScrapeResponse,
} from "../../http/response.ts";
import { formatIPv6Text } from "../../http/ip_text.ts";
import { HttpError, Method, Parse, RequestParser } from "../../http/request.ts";
import { writeScrapeEntry, writeScrapeHeader } from "../../udp/codec.ts";
import { ANSWER_HEADER, writeAnswerHeader } from "../../core/records.ts";
import { readAnswer } from "../../http/translate.ts";
import { announceRecord } from "../helpers/core_records.ts";
import { BatchWriter } from "../../shared/runtime/channel.ts";
import { encodeAddr, formatAddrIp } from "../../shared/net/address.ts";

const bin = (b: Uint8Array) => bytesToBinary(b);
const bytes = (s: string) => binaryToBytes(s);

/** Splits a response into head text and body bytes, checking Content-Length. */
function split(r: string): { head: string; body: string } {
  const i = r.indexOf("\r\n\r\n");
  assert.ok(i > 0, r);
  const head = r.slice(0, i + 4), body = r.slice(i + 4);
  return { head, body };
}

function announceOut(r: AnnounceReply, flags = 0): string {
  const w = new ByteBuffer(16);
  const n = writeAnnounceResponse(w, r, flags);
  assert.equal(n, w.len);
  return bin(w.bytes());
}

const PEERS4 = bytes("\x0a\x00\x00\x01\x1a\xe1\xc0\xa8\x01\x02\x00\x50");
const PEERS6 = bytes("\x20\x01\x0d\xb8" + "\x00".repeat(11) + "\x01\x1a\xe2");

Deno.test("announce: the exact bytes of a compact reply", () => {
  const r = new AnnounceReply();
  r.complete = 5;
  r.incomplete = 3;
  r.interval = 1800;
  r.minInterval = 900;
  r.peers = PEERS4;
  r.peersLen = 12;
  const body = "d8:completei5e10:incompletei3e8:intervali1800e12:min intervali900e" +
    "5:peers12:\x0a\x00\x00\x01\x1a\xe1\xc0\xa8\x01\x02\x00\x50e";
  assert.equal(
    announceOut(r),
    `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  );
  // With IPv6 peers too, and closing.
  r.peers6 = PEERS6;
  r.peers6Len = 18;
  r.minInterval = -1;
  const body6 = "d8:completei5e10:incompletei3e8:intervali1800e" +
    "5:peers12:\x0a\x00\x00\x01\x1a\xe1\xc0\xa8\x01\x02\x00\x50" +
    "6:peers618:\x20\x01\x0d\xb8" + "\x00".repeat(11) + "\x01\x1a\xe2e";
  assert.equal(
    announceOut(r, Reply.Close),
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + body6.length +
      "\r\nConnection: close\r\n\r\n" + body6,
  );
  // The body is canonical bencode: sorted keys, strict decode accepts it.
  const d = decode(bytes(split(announceOut(r)).body)) as Map<string, unknown>;
  assert.deepEqual([...d.keys()], ["complete", "incomplete", "interval", "peers", "peers6"]);
});

Deno.test("announce: no peers still has an empty peers string", () => {
  const r = new AnnounceReply();
  assert.equal(
    split(announceOut(r)).body,
    "d8:completei0e10:incompletei0e8:intervali1800e5:peers0:e",
  );
});

Deno.test("announce: non-compact list of {ip, peer id, port}, both families", () => {
  const r = new AnnounceReply();
  r.compact = false;
  r.peers = PEERS4;
  r.peersLen = 12;
  r.peers6 = PEERS6;
  r.peers6Len = 18;
  const ids = bytes("A".repeat(20) + "B".repeat(20) + "C".repeat(20));
  r.peerIds = ids;
  assert.equal(
    split(announceOut(r)).body,
    "d8:completei0e10:incompletei0e8:intervali1800e5:peersl" +
      `d2:ip8:10.0.0.17:peer id20:${"A".repeat(20)}4:porti6881ee` +
      `d2:ip11:192.168.1.27:peer id20:${"B".repeat(20)}4:porti80ee` +
      `d2:ip11:2001:db8::17:peer id20:${"C".repeat(20)}4:porti6882ee` +
      "ee",
  );
  // no_peer_id, or no ids at all: the key is left out.
  r.noPeerId = true;
  const without = "d8:completei0e10:incompletei0e8:intervali1800e5:peersl" +
    "d2:ip8:10.0.0.14:porti6881eed2:ip11:192.168.1.24:porti80ee" +
    "d2:ip11:2001:db8::14:porti6882eeee";
  assert.equal(split(announceOut(r)).body, without);
  r.noPeerId = false;
  r.peerIds = null;
  assert.equal(split(announceOut(r)).body, without);
  // Peer ids at an offset in a larger buffer.
  const big = new Uint8Array(100);
  big.set(ids, 7);
  r.peerIds = big;
  r.peerIdsOff = 7;
  assert.ok(split(announceOut(r)).body.includes(`7:peer id20:${"C".repeat(20)}`));
});

Deno.test("IPv6 text for non-compact peers is RFC 5952, as shared/address.ts formats it", () => {
  const out = new Uint8Array(60);
  const rec = new Uint8Array(18);
  const cases = [
    "::",
    "::1",
    "1::",
    "2001:db8::1",
    "2001:db8:0:1:0:0:0:1",
    "1:0:0:2:0:0:0:3",
    "1:2:3:4:5:6:7:8",
    "fe80::",
    "0:1:0:1:0:1:0:1",
    "1:0:0:1:0:0:1:0",
    "::ffff:10.1.2.3",
    "ffff::abcd",
  ];
  for (const s of cases) {
    assert.ok(encodeAddr(s, 0, rec, 0), s);
    const n = formatIPv6Text(rec, 0, out, 3);
    assert.equal(bin(out.subarray(3, n)), formatAddrIp(rec, 0), s);
  }
  let x = 99;
  const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 16;
  for (let k = 0; k < 3000; k++) {
    for (let i = 0; i < 16; i++) rec[i] = rnd() % 3 === 0 ? 0 : rnd() & 255;
    const n = formatIPv6Text(rec, 0, out, 0);
    assert.equal(bin(out.subarray(0, n)), formatAddrIp(rec, 0));
  }
});

Deno.test("announce from the core's announce answer, both families", () => {
  const b = new Uint8Array(200);
  const at = 10; // somewhere inside a batch
  /** An answer for a client of `host` after `ANSWER_HEADER` bytes of header at `b[at]`. */
  const answer = (
    host: string,
    count: number,
    interval: number,
    seeders: number,
    leechers: number,
  ) => {
    const req = announceRecord({
      infoHash: new Uint8Array(20),
      peerId: new Uint8Array(20),
      host,
      port: 1,
      seeder: false,
      event: 0,
      want: count,
    });
    writeAnswerHeader(req, 0, b, at, 0, count, interval, seeders, leechers);
  };
  const write = (minInterval: number, compact: boolean) => {
    const r = new AnnounceReply();
    readAnswer(b, at, r);
    r.minInterval = minInterval;
    r.compact = compact;
    const w = new ByteBuffer(64);
    writeAnnounceResponse(w, r, 0);
    return split(bin(w.bytes())).body;
  };
  answer("10.0.0.9", 2, 900, 2, 7);
  b.set(PEERS4, at + ANSWER_HEADER);
  assert.equal(
    write(450, true),
    "d8:completei2e10:incompletei7e8:intervali900e12:min intervali450e" +
      "5:peers12:\x0a\x00\x00\x01\x1a\xe1\xc0\xa8\x01\x02\x00\x50e",
  );
  answer("2001:db8::9", 1, 900, 1, 0);
  b.set(PEERS6, at + ANSWER_HEADER);
  assert.equal(
    write(-1, true),
    "d8:completei1e10:incompletei0e8:intervali900e5:peers0:" +
      "6:peers618:\x20\x01\x0d\xb8" + "\x00".repeat(11) + "\x01\x1a\xe2e",
  );
  assert.equal(
    write(-1, false),
    "d8:completei1e10:incompletei0e8:intervali900e5:peersld2:ip11:2001:db8::14:porti6882eeee",
  );
  // A header only, and large counts (unsigned).
  answer("10.0.0.9", 0, 1800, 3_000_000_000, 0xffffffff);
  assert.equal(
    write(-1, true),
    "d8:completei3000000000e10:incompletei4294967295e8:intervali1800e5:peers0:e",
  );
});

Deno.test("scrape: files keyed by raw hashes sorted as bytes, repeats once, from UDP entries", () => {
  const h = (c: number) => new Uint8Array(20).fill(c);
  const order = [h(0xff), h(0x01), h(0x80), h(0x01)];
  const hashes = new Uint8Array(5 + 80);
  order.forEach((x, i) => hashes.set(x, 5 + 20 * i));
  // A UDP scrape response: an 8-byte header, then 12 bytes per hash.
  const udp = new Uint8Array(8 + 48);
  writeScrapeHeader(udp, 0, 9);
  order.forEach((_, i) => writeScrapeEntry(udp, 8 + 12 * i, 10 + i, 20 + i, 30 + i));
  const w = new ByteBuffer(32);
  writeScrapeResponse(w, hashes, 5, 4, udp, 8, 0);
  const f = (c: string, s: number, d: number, l: number) =>
    `20:${c.repeat(20)}d8:completei${s}e10:downloadedi${d}e10:incompletei${l}ee`;
  const body = `d5:filesd${f("\x01", 11, 21, 31)}${f("\x80", 12, 22, 32)}${
    f("\xff", 10, 20, 30)
  }ee`;
  assert.equal(
    bin(w.bytes()),
    `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  );
  assert.ok(decode(bytes(body)) instanceof Map);
  // No hashes: an empty files dictionary.
  w.len = 0;
  writeScrapeResponse(w, hashes, 0, 0, udp, 8, 0);
  assert.equal(split(bin(w.bytes())).body, "d5:filesdee");
  // Many hashes (the sorting path for large scrapes), checked by the strict decoder.
  let x = 7;
  const many = Uint8Array.from(
    { length: 20 * 300 },
    () => (x = (x * 1103515245 + 12345) >>> 0) >>> 24,
  );
  many.set(many.subarray(0, 20), 20 * 299); // one repeat
  const entries = new Uint8Array(12 * 300);
  w.len = 0;
  writeScrapeResponse(w, many, 0, 300, entries, 0, 0);
  const files = (decode(bytes(split(bin(w.bytes())).body)) as Map<string, Map<string, unknown>>)
    .get("files")!;
  assert.equal(files.size, 299);
});

Deno.test("failure: status 200 with a failure reason", () => {
  const w = new ByteBuffer(8);
  writeFailureResponse(w, "invalid info_hash", 0);
  assert.equal(
    bin(w.bytes()),
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 39\r\n\r\n" +
      "d14:failure reason17:invalid info_hashe",
  );
  w.len = 0;
  writeFailureResponse(w, new TextEncoder().encode("torrent full: too many peers"), Reply.Close);
  assert.equal(
    split(bin(w.bytes())).head,
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 50\r\nConnection: close\r\n\r\n",
  );
  w.len = 0;
  writeFailureResponse(w, "é", 0);
  assert.equal(split(bin(w.bytes())).body, "d14:failure reason2:\xc3\xa9e");
});

Deno.test("plain errors: statuses, Allow on 405, keep-alive to HTTP/1.0", () => {
  const w = new ByteBuffer(8);
  const err = (status: number, text: string, flags: number) => {
    w.len = 0;
    writeErrorResponse(w, status, text, flags);
    return bin(w.bytes());
  };
  assert.equal(
    err(400, "bad request line", Reply.Close),
    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 17\r\n" +
      "Connection: close\r\n\r\nbad request line\n",
  );
  assert.equal(
    err(405, "use GET", 0),
    "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n" +
      "Allow: GET, HEAD\r\n\r\nuse GET\n",
  );
  assert.match(
    err(404, "", Reply.KeepAlive),
    /^HTTP\/1\.1 404 Not Found\r\n.*Connection: keep-alive\r\n\r\n\n$/s,
  );
  assert.match(err(431, "x", 0), /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
  assert.match(err(599, "x", 0), /^HTTP\/1\.1 599 Error\r\n/);
  // Every parser error has its answer.
  for (const e of Object.values(HttpError).slice(1)) {
    w.len = 0;
    writeParseError(w, e, true, 1);
    assert.match(
      bin(w.bytes()),
      /^HTTP\/1\.1 (4|5)\d\d [A-Za-z ]+\r\n.*Connection: close\r\n(Allow: GET, HEAD\r\n)?\r\n.+\n$/s,
    );
  }
});

Deno.test("HEAD: the head with the GET's Content-Length, no body", () => {
  const r = new AnnounceReply();
  const get = announceOut(r), head = announceOut(r, Reply.Head);
  assert.equal(head, split(get).head);
  assert.match(head, /Content-Length: 56\r\n/);
});

Deno.test("responseFlags from a parsed request", () => {
  const flagsOf = (s: string) => {
    const p = new RequestParser();
    const b = bytes(s);
    p.push(b, 0, b.length);
    const kind = p.next();
    assert.notEqual(kind, Parse.More);
    return responseFlags(p.request, p.mustClose);
  };
  assert.equal(flagsOf("GET / HTTP/1.1\r\n\r\n"), 0);
  assert.equal(flagsOf("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"), Reply.Close);
  assert.equal(flagsOf("GET / HTTP/1.0\r\n\r\n"), Reply.Close);
  assert.equal(flagsOf("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), Reply.KeepAlive);
  assert.equal(flagsOf("HEAD / HTTP/1.1\r\n\r\n"), Reply.Head);
  assert.equal(flagsOf("HEAD / HTTP/1.0\r\n\r\n"), Reply.Head | Reply.Close);
  assert.equal(responseFlags({ method: Method.Get, minor: 1, keepAlive: true }, true), Reply.Close);
});

Deno.test("responses append after what a batch already holds, and grow it", () => {
  const w = new BatchWriter(16);
  w.len = 5;
  w.buf.set([1, 2, 3, 4, 5]);
  const r = new AnnounceReply();
  const n1 = writeAnnounceResponse(w, r, 0);
  const n2 = writeFailureResponse(w, "x", Reply.Close);
  assert.equal(w.len, 5 + n1 + n2);
  assert.deepEqual([...w.buf.subarray(0, 5)], [1, 2, 3, 4, 5]);
  const text = bin(w.buf.subarray(5, w.len));
  assert.ok(text.startsWith("HTTP/1.1 200 OK\r\n"));
  assert.ok(text.slice(n1).startsWith("HTTP/1.1 200 OK\r\n"));
  assert.ok(text.endsWith("d14:failure reason1:xe"));
  // A custom body between beginResponse and finishResponse.
  const start = beginResponse(w);
  assert.equal(w.len, start + HEAD_ROOM);
  w.reserve(3);
  w.buf.set([0x6f, 0x6b, 0x0a], w.len);
  w.len += 3;
  finishResponse(w, start, 200, 0);
  assert.ok(bin(w.buf.subarray(start, w.len)).endsWith("Content-Length: 3\r\n\r\nok\n"));
});
