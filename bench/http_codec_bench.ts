/**
 * `deno bench` micro-benchmarks of the HTTP tracker's pure protocol code: a typical announce
 * (as qBittorrent/libtorrent sends it) parsed, its query read and its answer written from a
 * BEP 15 announce response with 50 peers, and each step alone.
 */
import { Parse, RequestParser } from "../http/request.ts";
import { AnnounceQuery, parseAnnounceQuery, parseScrapeQuery, ScrapeQuery } from "../http/query.ts";
import { responseFlags, writeAnnounceFromUdp, writeScrapeResponse } from "../http/response.ts";
import { ByteBuffer } from "../http/bencode.ts";
import { writeAnnounceHeader } from "../udp/codec.ts";

const pct = (b: Uint8Array) => [...b].map((x) => "%" + x.toString(16).padStart(2, "0")).join("");
const hash = crypto.getRandomValues(new Uint8Array(20));
const ANNOUNCE =
  `GET /announce?info_hash=${pct(hash)}&peer_id=-qB4650-${
    pct(crypto.getRandomValues(new Uint8Array(12)))
  }` +
  "&port=51413&uploaded=0&downloaded=0&left=1234567&corrupt=0&key=6D5C3A1B&event=started" +
  "&numwant=200&compact=1&no_peer_id=1&supportcrypto=1&redundant=0 HTTP/1.1\r\n" +
  "Host: tracker.example.org:6969\r\nUser-Agent: qBittorrent/4.6.5\r\n" +
  "Accept-Encoding: gzip\r\nConnection: close\r\n\r\n";
const request = Uint8Array.from(ANNOUNCE, (c) => c.charCodeAt(0));
// Where a socket worker reads: a large buffer, the request at its start.
const read = new Uint8Array(65536);
read.set(request);

const options = { ipHeader: "X-Forwarded-For" };
const q = new AnnounceQuery();
const w = new ByteBuffer(65536);
const udp = new Uint8Array(20 + 6 * 50);
writeAnnounceHeader(udp, 0, 1, 1800, 40, 10);
crypto.getRandomValues(udp.subarray(20));

let parser = new RequestParser(options);
function parse(): void {
  if (parser.closed) parser = new RequestParser(options);
  parser.push(read, 0, request.length);
  if (parser.next() !== Parse.Request) throw new Error("not parsed");
}

Deno.bench("announce: parse + query + response (50 peers)", { baseline: true }, () => {
  parse();
  const r = parser.request;
  if (parseAnnounceQuery(r.buf, r.queryStart, r.queryEnd, q) !== 0) throw new Error("bad query");
  w.len = 0;
  writeAnnounceFromUdp(
    w,
    udp,
    0,
    udp.length,
    4,
    q.compact,
    900,
    responseFlags(r, parser.mustClose),
  );
});

Deno.bench(
  "announce: request head parse (new parser per request, as with Connection: close)",
  () => {
    parse();
  },
);

parse();
const req = parser.request;
Deno.bench("announce: query", () => {
  parseAnnounceQuery(req.buf, req.queryStart, req.queryEnd, q);
});

Deno.bench("announce: response from a UDP response, compact, 50 peers", () => {
  w.len = 0;
  writeAnnounceFromUdp(w, udp, 0, udp.length, 4, true, 900, 1);
});

Deno.bench("announce: response from a UDP response, non-compact, 50 peers", () => {
  w.len = 0;
  writeAnnounceFromUdp(w, udp, 0, udp.length, 4, false, 900, 1);
});

const keepAlive = new RequestParser(options);
const pipelined = Uint8Array.from(
  ANNOUNCE.replace("Connection: close\r\n", "").repeat(16),
  (c) => c.charCodeAt(0),
);
Deno.bench("announce: 16 pipelined keep-alive heads, per chunk", () => {
  keepAlive.push(pipelined, 0, pipelined.length);
  while (keepAlive.next() === Parse.Request);
});

const hashes = crypto.getRandomValues(new Uint8Array(20 * 10));
const scrapeQuery = Array.from(
  { length: 10 },
  (_, i) => `info_hash=${pct(hashes.subarray(20 * i, 20 * i + 20))}`,
).join("&");
const scrapeBytes = Uint8Array.from(scrapeQuery, (c) => c.charCodeAt(0));
const sq = new ScrapeQuery(70);
const entries = crypto.getRandomValues(new Uint8Array(12 * 10));
Deno.bench("scrape: query + response, 10 hashes", () => {
  parseScrapeQuery(scrapeBytes, 0, scrapeBytes.length, sq);
  w.len = 0;
  writeScrapeResponse(w, sq.hashes, 0, sq.count, entries, 0, 0);
});
