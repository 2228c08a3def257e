/**
 * `deno bench` micro-benchmarks of the HTTP tracker's pure protocol code: a typical announce
 * (as qBittorrent/libtorrent sends it) parsed, its query read and its answer written from the
 * core's announce answer with 50 peers (`core/records.ts`), and each step alone.
 */
import { Parse, RequestParser } from "../../http/request.ts";
import {
  AnnounceQuery,
  parseAnnounceQuery,
  parseScrapeQuery,
  ScrapeQuery,
} from "../../http/query.ts";
import {
  AnnounceReply,
  responseFlags,
  writeAnnounceResponse,
  writeScrapeResponse,
} from "../../http/response.ts";
import { ByteBuffer } from "../../http/bencode.ts";
import { readAnswer } from "../../http/translate.ts";
import { ANSWER_HEADER, REC_FAMILY, writeAnswerHeader } from "../../core/records.ts";

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
// The core's answer to an IPv4 announce: 50 peers, 10 seeders, 40 leechers.
const answer = new Uint8Array(ANSWER_HEADER + 6 * 50);
const asked = new Uint8Array(ANSWER_HEADER);
asked[REC_FAMILY] = 4;
writeAnswerHeader(asked, 0, answer, 0, 0, 50, 1800, 10, 40);
crypto.getRandomValues(answer.subarray(ANSWER_HEADER));
const reply = new AnnounceReply();
reply.minInterval = 900;

/** The HTTP answer to `answer`, as the front writes it. */
function respond(compact: boolean, flags: number): void {
  readAnswer(answer, 0, reply);
  reply.compact = compact;
  w.len = 0;
  writeAnnounceResponse(w, reply, flags);
}

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
  respond(q.compact, responseFlags(r, parser.mustClose));
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

Deno.bench("announce: response from the core's answer, compact, 50 peers", () => {
  respond(true, 1);
});

Deno.bench("announce: response from the core's answer, non-compact, 50 peers", () => {
  respond(false, 1);
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
