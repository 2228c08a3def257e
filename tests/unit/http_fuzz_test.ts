/**
 * Hostile input through the HTTP tracker's pure protocol code, seeded and reproducible
 * (`SHOAL_FUZZ_SEED`): a million random and mutated requests through the request parser, the
 * query parsers and the response writers, and twenty thousand mutated byte streams through
 * the incremental parser in random chunk sizes, each checked against the same stream fed
 * whole. No exception may escape; every outcome is a request or a typed error with a status;
 * every response is well-formed; the parser never holds more than its bound.
 */
import assert from "assert";
import { HTTP_ERROR_STATUS, HttpError, Method, Parse, RequestParser } from "../../http/request.ts";
import {
  AnnounceQuery,
  parseAnnounceQuery,
  parseScrapeQuery,
  QUERY_FAILURE_TEXT,
  ScrapeQuery,
} from "../../http/query.ts";
import {
  AnnounceReply,
  responseFlags,
  writeAnnounceResponse,
  writeErrorResponse,
  writeFailureResponse,
  writeParseError,
  writeScrapeResponse,
} from "../../http/response.ts";
import { ByteBuffer, decode } from "../../http/bencode.ts";
import { readAnswer } from "../../http/translate.ts";
import { R_COUNT, writeAnswerHeader } from "../../core/records.ts";
import { setU16LE } from "../../shared/base/bytes.ts";
import { announceRecord } from "../helpers/core_records.ts";
import { FUZZ_SEED as SEED, prng } from "../helpers/prng.ts";

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const pct = (n: number) =>
  Array.from({ length: n }, (_, i) => "%" + ((i * 37 + 11) & 255).toString(16).padStart(2, "0"))
    .join("");

const HASH = pct(20), PEER = "-DE2110-abcdefghijkl";
const TEMPLATES = [
  `GET /announce?info_hash=${HASH}&peer_id=${PEER}&port=6881&uploaded=0&downloaded=0&left=0&event=started&compact=1&numwant=50 HTTP/1.1\r\nHost: t:80\r\nUser-Agent: Deluge\r\nAccept-Encoding: gzip\r\nConnection: keep-alive\r\n\r\n`,
  "GET /scrape?info_hash=%00 HTTP/1.1\r\nConnection: close\r\n\r\n",
  `GET /announce?info_hash=${HASH}&peer_id=${PEER}&port=51413&left=123&compact=0&no_peer_id=1&key=abcd&ipv6=%5B2001%3Adb8%3A%3A1%5D%3A6881&ip=10.0.0.1 HTTP/1.0\r\nConnection: keep-alive\r\nX-Forwarded-For: 203.0.113.1, 10.0.0.2\r\n\r\n`,
  `GET /scrape?info_hash=${HASH}&info_hash=${pct(20)}&info_hash=${
    HASH.slice(3)
  }x HTTP/1.1\r\nHost: t\r\n\r\n`,
  `HEAD /announce?info_hash=${HASH}&peer_id=${PEER}&port=1&left=1 HTTP/1.1\nHost: t\n\n`,
  "POST /announce HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
  `GET http://tracker:8080/announce?info_hash=${HASH}&peer_id=${PEER}&port=80&left=0&event=paused HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n`,
  "GET /scrape HTTP/1.1\r\nX-Real-IP: ::1\r\nContent-Length: 0\r\n\r\n",
  `GET /announce?info_hash=${HASH}&peer_id=${PEER}&port=6881&left=0&numwant=99999999999&ipv4=1.2.3.4:5 HTTP/1.1\r\n\r\n`,
].map(bytes);
const SPECIAL = bytes("%&=+?#/ :,;\r\n\t\x00\xff0123456789abcdefABCDEFHTTP/1.");

/** Writes a mutation of a template (or random bytes) into `out`; returns its length. */
function mutate(rnd: ReturnType<typeof prng>, out: Uint8Array, max: number): number {
  let n: number;
  if (rnd.chance(0.1)) {
    n = rnd.below(300);
    for (let i = 0; i < n; i++) {
      out[i] = rnd.chance(0.5) ? SPECIAL[rnd.below(SPECIAL.length)] : rnd.next();
    }
    return n;
  }
  const t = TEMPLATES[rnd.below(TEMPLATES.length)];
  out.set(t);
  n = t.length;
  for (let k = rnd.below(5); k > 0; k--) {
    const at = rnd.below(n + 1);
    switch (rnd.below(5)) {
      case 0:
      case 1: // one byte, often a meaningful one
        if (at < n) out[at] = rnd.chance(0.6) ? SPECIAL[rnd.below(SPECIAL.length)] : rnd.next();
        break;
      case 2: { // delete a range
        const len = Math.min(n - at, 1 + rnd.below(24));
        out.copyWithin(at, at + len, n);
        n -= len;
        break;
      }
      case 3: { // insert a copy of a range (or a long run), within `max`
        const from = rnd.below(n + 1);
        let len = Math.min(n - from, 1 + rnd.below(64));
        if (rnd.chance(0.05)) len = rnd.below(max);
        len = Math.min(len, max - n);
        out.copyWithin(at + len, at, n);
        if (from + len <= n && rnd.chance(0.9)) {
          out.copyWithin(at, from < at ? from : from + len, (from < at ? from : from + len) + len);
        } else {
          out.fill(SPECIAL[rnd.below(SPECIAL.length)], at, at + len);
        }
        n += len;
        break;
      }
      default: // truncate
        n = at;
    }
  }
  return n;
}

const ANNOUNCE = bytes("/announce"), SCRAPE = bytes("/scrape");

/** Checks one response: a status line, then head and body agreeing on Content-Length. */
function checkResponse(w: ByteBuffer, head: boolean, strict: boolean): void {
  const b = w.buf;
  check(b[0] === 72 && b[8] === 32 && b[9] >= 49 && b[9] <= 53, "status line");
  if (!strict) return;
  const text = String.fromCharCode(...b.subarray(0, w.len));
  const end = text.indexOf("\r\n\r\n");
  const m = /Content-Length: (\d+)\r\n/.exec(text.slice(0, end + 2));
  assert.ok(m, text);
  const body = b.subarray(end + 4, w.len);
  assert.equal(body.length, head ? 0 : Number(m[1]));
  if (!head && text.startsWith("HTTP/1.1 200")) decode(body); // throws unless canonical
}

/** What the request fuzz keeps between inputs. */
class RequestFuzz {
  readonly opts = { maxHead: 4096, maxRequestLine: 3000, ipHeader: "X-Forwarded-For" };
  readonly aq = new AnnounceQuery();
  readonly sq = new ScrapeQuery(8);
  readonly w = new ByteBuffer(8192);
  /** A core announce answer (`core/records.ts`) with room for 50 IPv4 peers. */
  readonly answer = new Uint8Array(64 + 6 * 50);
  readonly reply = new AnnounceReply();
  readonly entries = new Uint8Array(12 * 8);
  readonly failures = QUERY_FAILURE_TEXT.map((t) => bytes(t));
  readonly counts = { requests: 0, errors: 0, announces: 0, failures: 0, scrapes: 0, responses: 0 };
  parser = new RequestParser(this.opts);

  constructor() {
    const req = announceRecord({
      infoHash: new Uint8Array(20),
      peerId: new Uint8Array(20),
      host: "10.0.0.1",
      port: 1,
      seeder: false,
      event: 0,
      want: 50,
    });
    writeAnswerHeader(req, 0, this.answer, 0, 0, 0, 1800, 7, 5);
  }

  /** Parses `input[0..len)` as what one connection sent, answering every outcome. */
  run(input: Uint8Array, len: number, fresh: boolean, peers: number, strict: boolean): void {
    const c = this.counts, w = this.w;
    if (fresh || this.parser.closed || this.parser.buffered > 0) {
      this.parser = new RequestParser(this.opts);
    }
    const parser = this.parser;
    parser.push(input, 0, len);
    for (let r = parser.next(), guard = 0; r !== Parse.More; r = parser.next(), guard++) {
      check(guard < 100, "next() keeps answering");
      w.len = 0;
      const req = parser.request;
      let head = false;
      if (r === Parse.Request) {
        c.requests++;
        check(req.method === Method.Get || req.method === Method.Head, "method");
        check(
          req.pathStart <= req.pathEnd && req.pathEnd <= req.queryStart &&
            req.queryStart <= req.queryEnd && req.queryEnd <= req.buf.length,
          "target offsets",
        );
        check(req.ipStart === -1 || (req.ipStart < req.ipEnd && req.ipEnd <= req.buf.length), "ip");
        check(parser.mustClose === !req.keepAlive, "keep-alive");
        const flags = responseFlags(req, parser.mustClose);
        head = req.method === Method.Head;
        if (req.pathIs(ANNOUNCE)) {
          const aq = this.aq;
          const f = parseAnnounceQuery(req.buf, req.queryStart, req.queryEnd, aq);
          check(f >= 0 && f < QUERY_FAILURE_TEXT.length, "failure code");
          if (f === 0) {
            c.announces++;
            check(aq.port >= 1 && aq.port <= 65535 && aq.left >= -1 && aq.uploaded >= 0, "counts");
            check(aq.event >= 0 && aq.event <= 4 && aq.numWant >= -1, "event, numwant");
            check(aq.keyLen <= 64 && aq.trackerIdLen <= 64, "key");
            check(aq.ipFamily === 0 || aq.ipFamily === 4 || aq.ipFamily === 6, "ip family");
            setU16LE(this.answer, R_COUNT, peers);
            readAnswer(this.answer, 0, this.reply);
            this.reply.minInterval = 900;
            this.reply.compact = aq.compact;
            writeAnnounceResponse(w, this.reply, flags);
          } else {
            c.failures++;
            writeFailureResponse(w, this.failures[f], flags);
          }
        } else if (req.pathIs(SCRAPE)) {
          const sq = this.sq;
          const f = parseScrapeQuery(req.buf, req.queryStart, req.queryEnd, sq);
          check((f === 0 || f === 2) && sq.count <= 8, "scrape");
          c.scrapes++;
          if (f === 0) writeScrapeResponse(w, sq.hashes, 0, sq.count, this.entries, 0, flags);
          else writeFailureResponse(w, this.failures[f], flags);
        } else {
          writeErrorResponse(w, 404, "not found", flags);
        }
      } else {
        c.errors++;
        check(parser.error > HttpError.None && parser.error < HTTP_ERROR_STATUS.length, "error");
        check(parser.status >= 400 && parser.status < 600, "status");
        writeParseError(w, parser.error, parser.mustClose, req.minor);
      }
      c.responses++;
      checkResponse(w, head, strict);
      check(parser.held <= 4096, "held");
    }
    check(parser.held <= 4096, "held");
  }
}

/** A cheap assertion for the hot loop. */
function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`fuzz check failed: ${what}`);
}

Deno.test("fuzz: 1,000,000 random and mutated requests through parsing, queries and responses", () => {
  const rnd = prng(SEED + 10);
  const input = new Uint8Array(16384);
  const fuzz = new RequestFuzz();
  const TOTAL = 1_000_000;
  for (let n = 0; n < TOTAL; n++) {
    const len = mutate(rnd, input, 6000);
    fuzz.run(input, len, rnd.chance(0.01), rnd.below(51), (n & 63) === 0);
  }
  const c = fuzz.counts;
  console.log(
    `fuzz http requests: ${TOTAL} inputs (seed ${SEED + 10}): ${c.requests} requests ` +
      `(${c.announces} announces, ${c.failures} failures, ${c.scrapes} scrapes), ` +
      `${c.errors} HTTP errors, ${c.responses} responses`,
  );
  assert.ok(c.announces > 50_000 && c.failures > 50_000 && c.errors > 100_000);
});

interface Outcome {
  kind: number;
  error: number;
  close: boolean;
  target: string;
  ip: string | null;
}

/** Feeds `stream` to a new parser in the given chunk sizes (each in a reused, dirty buffer). */
function feed(stream: Uint8Array, sizes: number[], read: Uint8Array, maxHead: number): Outcome[] {
  const p = new RequestParser({
    maxHead,
    maxRequestLine: maxHead >> 1,
    maxBody: 64,
    ipHeader: "x-real-ip",
  });
  const out: Outcome[] = [];
  let at = 0, k = 0;
  while (at < stream.length) {
    const n = Math.min(sizes[k++ % sizes.length], stream.length - at);
    const off = (at * 7) % 64; // the chunk lands anywhere in the read buffer
    read.set(stream.subarray(at, at + n), off);
    p.push(read, off, n);
    at += n;
    for (let r = p.next(); r !== Parse.More; r = p.next()) {
      const q = p.request;
      out.push({
        kind: r,
        error: p.error,
        close: p.mustClose,
        target: r === Parse.Request
          ? String.fromCharCode(...q.buf.subarray(q.pathStart, q.queryEnd))
          : "",
        ip: r === Parse.Request ? q.clientIp() : null,
      });
      assert.ok(out.length <= stream.length + 1);
    }
    assert.ok(p.held <= maxHead, `held ${p.held} > ${maxHead}`);
    read.fill(0x0a, off, off + n); // stale bytes must not be read again
  }
  return out;
}

Deno.test("fuzz: 20,000 mutated byte streams through the incremental parser in random chunks", () => {
  const rnd = prng(SEED + 11);
  const read = new Uint8Array(8192).fill(0x0a);
  const piece = new Uint8Array(16384);
  let requests = 0, errors = 0, chunks = 0;
  for (let n = 0; n < 20_000; n++) {
    // Several requests back to back (pipelined), some mutated, some random bytes.
    const parts: Uint8Array[] = [];
    for (let k = 1 + rnd.below(6); k > 0; k--) {
      if (rnd.chance(0.75)) parts.push(TEMPLATES[rnd.below(TEMPLATES.length)]);
      else parts.push(piece.slice(0, mutate(rnd, piece, 3000)));
    }
    const total = parts.reduce((s, p) => s + p.length, 0);
    const stream = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      stream.set(p, o);
      o += p.length;
    }
    const maxHead = [256, 512, 1024, 8192][rnd.below(4)];
    const sizes = Array.from(
      { length: 8 },
      () => 1 + (rnd.chance(0.3) ? rnd.below(8) : rnd.below(700)),
    );
    const chunked = feed(stream, sizes, read, maxHead);
    const whole = feed(stream, [stream.length], new Uint8Array(stream.length + 64), maxHead);
    assert.deepEqual(chunked, whole, `stream ${n}: the outcome depends on the chunking`);
    for (const x of chunked) {
      if (x.kind === Parse.Request) requests++;
      else {
        errors++;
        assert.ok(x.error > 0 && HTTP_ERROR_STATUS[x.error] >= 400);
      }
    }
    chunks += Math.ceil(stream.length / (sizes.reduce((s, v) => s + v, 0) / sizes.length));
  }
  console.log(
    `fuzz http streams: 20000 streams (seed ${
      SEED + 11
    }), ~${chunks} chunks, ${requests} requests, ${errors} errors`,
  );
  assert.ok(requests > 10_000 && errors > 5_000);
});
