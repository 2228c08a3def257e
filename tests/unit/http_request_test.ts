/** The incremental HTTP request-head parser: requests, keep-alive, bodies, bounds, errors. */
import assert from "assert";
import {
  HTTP_ERROR_STATUS,
  HTTP_ERROR_TEXT,
  HttpError,
  Method,
  Parse,
  RequestParser,
  type RequestParserOptions,
} from "../../http/request.ts";

const binary = (b: Uint8Array) => String.fromCharCode(...b);
const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

interface Outcome {
  kind: number;
  error?: number;
  status?: number;
  close: boolean;
  method?: number;
  minor?: number;
  path?: string;
  query?: string;
  ip?: string | null;
  length?: number;
}

/** Pushes `chunks` in order, draining `next` after each; returns every outcome. */
function run(p: RequestParser, chunks: Uint8Array[]): Outcome[] {
  const out: Outcome[] = [];
  for (const c of chunks) {
    // Each chunk sits inside a larger buffer with garbage around it, as a read buffer would.
    const buf = new Uint8Array(c.length + 20).fill(0x0a);
    buf.set(c, 10);
    p.push(buf, 10, c.length);
    for (let r = p.next(); r !== Parse.More; r = p.next()) {
      const q = p.request;
      if (r === Parse.Request) {
        out.push({
          kind: r,
          close: p.mustClose,
          method: q.method,
          minor: q.minor,
          path: q.path(),
          query: binary(q.buf.subarray(q.queryStart, q.queryEnd)),
          ip: q.clientIp(),
          length: q.contentLength,
        });
      } else {
        out.push({ kind: r, error: p.error, status: p.status, close: p.mustClose });
      }
      assert.ok(out.length < 10000, "next() must stop answering");
    }
    buf.fill(0xee); // the parser must not rely on a chunk after `next` answered More
  }
  return out;
}

const one = (s: string, o?: RequestParserOptions) => run(new RequestParser(o), [bytes(s)]);
const err = (s: string, o?: RequestParserOptions) => {
  const r = one(s, o);
  assert.equal(r.length, 1, JSON.stringify(s));
  assert.equal(r[0].kind, Parse.Error, JSON.stringify(s));
  return r[0];
};

const ANNOUNCE = "GET /announce?info_hash=%01%02&port=6881 HTTP/1.1\r\nHost: t\r\n" +
  "User-Agent: x/1\r\nAccept-Encoding: gzip\r\n\r\n";

Deno.test("GET: path, raw query, version and keep-alive", () => {
  const [r] = one(ANNOUNCE);
  assert.deepEqual(r, {
    kind: Parse.Request,
    close: false,
    method: Method.Get,
    minor: 1,
    path: "/announce",
    query: "info_hash=%01%02&port=6881",
    ip: null,
    length: 0,
  });
  const [h] = one("HEAD /scrape HTTP/1.1\r\n\r\n");
  assert.equal(h.method, Method.Head);
  assert.equal(h.path, "/scrape");
  assert.equal(h.query, "");
  assert.equal(one("GET /a? HTTP/1.1\r\n\r\n")[0].query, "");
  assert.equal(one("GET /?a=1?b#c HTTP/1.1\r\n\r\n")[0].query, "a=1?b#c");
  assert.equal(one("GET /p#x?y HTTP/1.1\r\n\r\n")[0].path, "/p#x");
});

Deno.test("pathIs compares the path bytes exactly", () => {
  const p = new RequestParser();
  p.push(bytes(ANNOUNCE), 0, ANNOUNCE.length);
  assert.equal(p.next(), Parse.Request);
  assert.ok(p.request.pathIs(bytes("/announce")));
  assert.ok(!p.request.pathIs(bytes("/announc")));
  assert.ok(!p.request.pathIs(bytes("/Announce")));
});

Deno.test("request target: absolute-form, raw bytes and spaces kept, bad forms refused", () => {
  const abs = one("GET http://tracker.example:80/announce?a=1 HTTP/1.1\r\n\r\n")[0];
  assert.equal(abs.path, "/announce");
  assert.equal(abs.query, "a=1");
  assert.equal(one("GET HTTPS://h/x HTTP/1.1\r\n\r\n")[0].path, "/x");
  const bare = one("GET http://h?a=1 HTTP/1.1\r\n\r\n")[0];
  assert.equal(bare.path, "");
  assert.equal(bare.query, "a=1");
  // Unencoded bytes, NUL and even spaces: the target runs to the last space.
  const raw = one("GET /announce?info_hash=\x00\xff \x80& HTTP/1.1\r\n\r\n")[0];
  assert.equal(raw.query, "info_hash=\x00\xff \x80&");
  for (
    const line of [
      "GET * HTTP/1.1",
      "GET announce HTTP/1.1",
      "GET ftp://h/x HTTP/1.1",
      "GET http:/h/x HTTP/1.1",
      "GET  HTTP/1.1",
      "GET HTTP/1.1",
      "GET  /a HTTP/1.1",
      "GET /a",
      "GET",
      " GET / HTTP/1.1",
      "GET\t/ HTTP/1.1",
      "/ HTTP/1.1",
    ]
  ) {
    assert.equal(err(line + "\r\n\r\n").error, HttpError.BadRequestLine, line);
  }
});

Deno.test("versions: 1.0 and 1.1, 1.x as 1.1, other majors 505, malformed 400", () => {
  assert.equal(one("GET / HTTP/1.0\r\n\r\n")[0].minor, 0);
  const r12 = one("GET / HTTP/1.2\r\n\r\n")[0];
  assert.equal(r12.minor, 2);
  assert.equal(r12.close, false);
  for (const v of ["HTTP/2.0", "HTTP/0.9", "HTTP/3.0"]) {
    const e = err(`GET / ${v}\r\n\r\n`);
    assert.equal(e.error, HttpError.VersionNotSupported, v);
    assert.equal(e.status, 505);
    assert.ok(e.close);
  }
  for (
    const v of ["HTTP/1.1x", "HTTP/11", "http/1.1", "HTTP/1,1", "HTTP/a.1", "HTTP/1.b", "HTTP/2"]
  ) {
    assert.equal(err(`GET / ${v}\r\n\r\n`).error, HttpError.BadRequestLine, v);
  }
});

Deno.test("keep-alive decision", () => {
  const cases: [string, string, boolean][] = [
    ["1.1", "", true],
    ["1.1", "Connection: close\r\n", false],
    ["1.1", "connection: CLOSE\r\n", false],
    ["1.1", "Connection: keep-alive\r\n", true],
    ["1.1", "Connection: Keep-Alive, close\r\n", false],
    ["1.1", "Connection: te,  close ,x\r\n", false],
    ["1.1", "Connection: closed\r\n", true],
    ["1.1", "Connection: upgrade\r\nConnection: close\r\n", false],
    ["1.0", "", false],
    ["1.0", "Connection: keep-alive\r\n", true],
    ["1.0", "Connection: KEEP-ALIVE\r\n", true],
    ["1.0", "Connection: keep-alive, close\r\n", false],
    ["1.0", "Connection: keep-alive\r\nConnection: close\r\n", false],
    ["1.0", "Keep-Alive: 300\r\n", false],
  ];
  for (const [v, headers, keep] of cases) {
    const [r] = one(`GET / HTTP/${v}\r\n${headers}\r\n`);
    assert.equal(r.kind, Parse.Request);
    assert.equal(!r.close, keep, `${v} ${JSON.stringify(headers)}`);
  }
});

Deno.test("a request that closes the connection ends parsing: pipelined ones are not answered", () => {
  const p = new RequestParser();
  const r = run(p, [bytes("GET /1 HTTP/1.0\r\n\r\nGET /2 HTTP/1.1\r\n\r\n")]);
  assert.equal(r.length, 1);
  assert.ok(r[0].close);
  assert.ok(p.closed);
  assert.equal(p.held, 0);
  assert.equal(run(p, [bytes("GET /3 HTTP/1.1\r\n\r\n")]).length, 0);
});

Deno.test("methods: GET and HEAD only; others 405 or 501, the connection kept if it may be", () => {
  for (const m of ["POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"]) {
    const e = err(`${m} / HTTP/1.1\r\n\r\n`);
    assert.equal(e.error, HttpError.MethodNotAllowed, m);
    assert.equal(e.status, 405);
    assert.equal(e.close, false);
  }
  for (const m of ["get", "BREW", "GETS", "X".repeat(20)]) {
    const e = err(`${m} / HTTP/1.1\r\n\r\n`);
    assert.equal(e.error, HttpError.MethodNotImplemented, m);
    assert.equal(e.status, 501);
  }
  assert.equal(err("X".repeat(21) + " / HTTP/1.1\r\n\r\n").error, HttpError.MethodNotImplemented);
  // A refused method with a body: the body is skipped and the next request parsed.
  const r = one("POST /announce HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /x HTTP/1.1\r\n\r\n");
  assert.deepEqual(r.map((o) => [o.kind, o.error ?? o.path]), [
    [Parse.Error, HttpError.MethodNotAllowed],
    [Parse.Request, "/x"],
  ]);
  // ...unless the client asked to close.
  const c = one("POST / HTTP/1.0\r\n\r\nGET /x HTTP/1.1\r\n\r\n");
  assert.equal(c.length, 1);
  assert.ok(c[0].close);
  // A 405 still gets 400 if the head is otherwise broken.
  assert.equal(err("POST / HTTP/1.1\r\nbad\r\n\r\n").error, HttpError.BadHeader);
});

Deno.test("header names are case-insensitive; only the fields a tracker needs are read", () => {
  const [r] = one(
    "GET / HTTP/1.1\r\ncOnTeNt-LeNgTh: 0\r\nX-Unknown: \x01\x7f anything\r\nHOST:\r\n" +
      "x-forwarded-for:10.0.0.1\r\n\r\n",
    { ipHeader: "X-Forwarded-For" },
  );
  assert.equal(r.kind, Parse.Request);
  assert.equal(r.ip, "10.0.0.1");
  // Names that only look alike do not match.
  assert.equal(
    one("GET / HTTP/1.1\r\nX-Forwarded-Fox: 1.1.1.1\r\nContent-Lengthy: x\r\n\r\n", {
      ipHeader: "X-Forwarded-For",
    })[0].ip,
    null,
  );
});

Deno.test("malformed header fields are 400 and close", () => {
  for (
    const h of [
      "NoColon",
      "Name : value",
      "Name\t: value",
      ": value",
      "Na me: value",
      "Na(me: value",
      " Folded: value",
      "\tFolded: value",
      "Name\x00: value",
      "Näme: value",
    ]
  ) {
    const e = err(`GET / HTTP/1.1\r\nHost: x\r\n${h}\r\n\r\n`);
    assert.equal(e.error, HttpError.BadHeader, JSON.stringify(h));
    assert.equal(e.status, 400);
    assert.ok(e.close);
  }
  // A folded continuation line right after the request line.
  assert.equal(err("GET / HTTP/1.1\r\n x\r\n\r\n").error, HttpError.BadHeader);
});

Deno.test("line ends: bare LF accepted, bare CR refused, empty lines before the request skipped", () => {
  const lf = one("GET /a?b HTTP/1.1\nHost: x\nConnection: close\n\n")[0];
  assert.equal(lf.kind, Parse.Request);
  assert.equal(lf.path, "/a");
  assert.ok(lf.close);
  assert.equal(one("GET / HTTP/1.1\r\nHost: x\n\r\n")[0].kind, Parse.Request);
  assert.equal(one("GET / HTTP/1.1\nHost: x\r\n\n")[0].kind, Parse.Request);
  for (
    const s of [
      "GET /a\rb HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1\r\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\n\r\r\n\r\n",
      "GET / HTTP/1.1\r\nHo\rst: x\r\n\r\n",
    ]
  ) {
    assert.equal(err(s).error, HttpError.BareCR, JSON.stringify(s));
  }
  const r = one("\r\n\n\r\nGET /x HTTP/1.1\r\n\r\n\r\nGET /y HTTP/1.1\r\n\r\n");
  assert.deepEqual(r.map((o) => o.path), ["/x", "/y"]);
});

Deno.test("Content-Length: the body is skipped without buffering, in any chunking", () => {
  const s = "GET /a HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789GET /b HTTP/1.1\r\n\r\n";
  for (let i = 0; i <= s.length; i++) {
    const p = new RequestParser();
    const r = run(p, [bytes(s.slice(0, i)), bytes(s.slice(i))]);
    assert.deepEqual(r.map((o) => o.path), ["/a", "/b"], `split at ${i}`);
    assert.equal(r[0].length, 10);
  }
  // Byte by byte, and the body held nowhere.
  const p = new RequestParser();
  const out = run(p, [...bytes(s)].map((c) => new Uint8Array([c])));
  assert.deepEqual(out.map((o) => o.path), ["/a", "/b"]);
  assert.equal(p.held, 0);
  // Equal repeated values are fine; differing ones, lists, signs and letters are not.
  assert.equal(one("GET / HTTP/1.1\r\nContent-Length: 0\r\ncontent-length: 0\r\n\r\n")[0].kind, 1);
  for (const v of ["1\r\nContent-Length: 2", "-1", "+1", "1,1", "1 1", "0x10", "", "１"]) {
    const e = err(`GET / HTTP/1.1\r\nContent-Length: ${v}\r\n\r\n`);
    assert.equal(e.error, HttpError.BadContentLength, v);
    assert.equal(e.status, 400);
  }
});

Deno.test("Content-Length above maxBody is 413; Transfer-Encoding is refused", () => {
  assert.equal(one("GET / HTTP/1.1\r\nContent-Length: 1024\r\n\r\n")[0].kind, Parse.Request);
  const big = err("GET / HTTP/1.1\r\nContent-Length: 1025\r\n\r\n");
  assert.equal(big.error, HttpError.BodyTooLarge);
  assert.equal(big.status, 413);
  assert.ok(big.close);
  const huge = err("GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999999\r\n\r\n");
  assert.equal(huge.error, HttpError.BodyTooLarge);
  assert.equal(err("GET / HTTP/1.1\r\nContent-Length: 6\r\n\r\n", { maxBody: 5 }).status, 413);
  const te = (v: string, more = "") =>
    err(`GET / HTTP/1.1\r\nTransfer-Encoding: ${v}\r\n${more}\r\n`);
  assert.equal(te("chunked").error, HttpError.ChunkedBody);
  assert.equal(te("chunked").status, 411);
  assert.equal(te("gzip, Chunked").status, 411);
  assert.equal(te("chunked, gzip").error, HttpError.BadTransferEncoding);
  assert.equal(te("gzip").status, 400);
  assert.equal(te("chunked", "Content-Length: 3\r\n").error, HttpError.BadTransferEncoding);
  assert.equal(te("chunked", "Transfer-Encoding: gzip\r\n").error, HttpError.BadTransferEncoding);
  assert.ok(te("chunked").close);
});

Deno.test("client-IP header: first or last entry, several lines, trimmed, absent", () => {
  const h = "GET / HTTP/1.1\r\nX-Forwarded-For:  203.0.113.9 , 10.0.0.1\t\r\n" +
    "Host: x\r\nx-forwarded-for: 198.51.100.7,  192.0.2.1 \r\n\r\n";
  assert.equal(one(h, { ipHeader: "X-Forwarded-For" })[0].ip, "192.0.2.1");
  assert.equal(
    one(h, { ipHeader: "x-forwarded-for", ipHeaderEntry: "first" })[0].ip,
    "203.0.113.9",
  );
  assert.equal(one(h)[0].ip, null, "no header configured");
  assert.equal(one(h, { ipHeader: "X-Real-IP" })[0].ip, null);
  const real = "GET / HTTP/1.1\r\nX-Real-IP: 2001:db8::1\r\n\r\n";
  assert.equal(one(real, { ipHeader: "X-Real-IP" })[0].ip, "2001:db8::1");
  assert.equal(one(real, { ipHeader: "x-real-ip", ipHeaderEntry: "first" })[0].ip, "2001:db8::1");
  const empty = "GET / HTTP/1.1\r\nX-Real-IP:  \r\n\r\n";
  assert.equal(one(empty, { ipHeader: "X-Real-IP" })[0].ip, null);
  const trailing = "GET / HTTP/1.1\r\nX-Forwarded-For: 1.1.1.1,\r\n\r\n";
  assert.equal(one(trailing, { ipHeader: "X-Forwarded-For" })[0].ip, null);
  // The IP of one request never leaks into the next.
  const two = "GET /1 HTTP/1.1\r\nX-Real-IP: 1.1.1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n";
  assert.deepEqual(one(two, { ipHeader: "X-Real-IP" }).map((o) => o.ip), ["1.1.1.1", null]);
});

const PIPELINE = ANNOUNCE +
  "HEAD /scrape?info_hash=x HTTP/1.1\nX-Real-IP: 10.1.1.1\n\n" +
  "POST /p HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc" +
  "GET /last HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
const PIPELINE_WANT = [
  [Parse.Request, "/announce", null],
  [Parse.Request, "/scrape", "10.1.1.1"],
  [Parse.Error, undefined, undefined],
  [Parse.Request, "/last", null],
];
const summary = (r: Outcome[]) => r.map((o) => [o.kind, o.path, o.ip]);

Deno.test("pipelined requests split at every byte boundary, and every pair of boundaries", () => {
  const s = bytes(PIPELINE), o = { ipHeader: "X-Real-IP" };
  for (let i = 0; i <= s.length; i++) {
    const r = run(new RequestParser(o), [s.subarray(0, i), s.subarray(i)]);
    assert.deepEqual(summary(r), PIPELINE_WANT, `split at ${i}`);
  }
  for (let i = 0; i <= s.length; i += 3) {
    for (let j = i; j <= s.length; j += 2) {
      const p = new RequestParser(o);
      const r = run(p, [s.subarray(0, i), s.subarray(i, j), s.subarray(j)]);
      assert.deepEqual(summary(r), PIPELINE_WANT, `split at ${i}, ${j}`);
      assert.equal(p.held, 0, "an idle connection holds no buffer");
      assert.equal(p.buffered, 0);
    }
  }
  const p = new RequestParser(o);
  assert.deepEqual(summary(run(p, [...s].map((c) => new Uint8Array([c])))), PIPELINE_WANT);
});

Deno.test("push without draining next first loses nothing", () => {
  const s = "GET /1 HTTP/1.1\r\nContent-Length: 2\r\n\r\nxyGET /2 HTTP/1.1\r\n\r\nGET /3 HT" +
    "TP/1.1\r\nContent-Length: 1\r\n\r\nzGET /4 HTTP/1.1\r\n\r\n";
  for (let i = 0; i <= s.length; i++) {
    for (let j = i; j <= s.length; j++) {
      const p = new RequestParser();
      const paths: string[] = [];
      // The first chunk is drained only partly (one request at most), the second not at all.
      p.push(bytes(s.slice(0, i)), 0, i);
      if (p.next() === Parse.Request) paths.push(p.request.path());
      p.push(bytes(s.slice(i, j)), 0, j - i);
      p.push(bytes(s.slice(j)), 0, s.length - j);
      while (p.next() === Parse.Request) paths.push(p.request.path());
      assert.deepEqual(paths, ["/1", "/2", "/3", "/4"], `${i} ${j}`);
      assert.equal(p.buffered, 0);
    }
  }
});

Deno.test("request line bound: 414, found without buffering past it", () => {
  const o = { maxRequestLine: 100, maxHead: 300 };
  const line = (n: number) => "GET /" + "a".repeat(n - 14) + " HTTP/1.1";
  assert.equal(line(100).length, 100);
  assert.equal(one(line(100) + "\r\n\r\n", o)[0].kind, Parse.Request);
  assert.equal(one(line(100) + "\n\n", o)[0].kind, Parse.Request);
  const e = err(line(101) + "\r\n\r\n", o);
  assert.equal(e.error, HttpError.UriTooLong);
  assert.equal(e.status, 414);
  assert.ok(e.close);
  // Dribbled: refused as soon as the line is longer than the bound, before any line end.
  const p = new RequestParser(o);
  const s = bytes(line(1000));
  let at = 0;
  for (; at < s.length; at++) {
    p.push(s, at, 1);
    if (p.next() === Parse.Error) break;
    assert.ok(p.held <= 300);
  }
  assert.equal(p.error, HttpError.UriTooLong);
  assert.ok(at <= 102, `refused after ${at + 1} bytes`);
  assert.equal(p.held, 0);
  // In one large chunk.
  assert.equal(err(line(5000), o).error, HttpError.UriTooLong);
  // Too long and with a bare CR: too long, whether it comes whole or in pieces (found by fuzzing).
  const crLine = bytes(line(200).replace("aaaa", "a\ra") + "\r\n\r\n");
  for (let i = 0; i <= crLine.length; i++) {
    const r = run(new RequestParser(o), [crLine.subarray(0, i), crLine.subarray(i)]);
    assert.deepEqual(r.map((x) => x.error), [HttpError.UriTooLong], `split at ${i}`);
  }
  // The default bound is 8 KiB.
  assert.equal(one(line(8188) + "\r\n\r\n")[0].kind, Parse.Request);
  assert.equal(err(line(8189) + "\r\n\r\n").error, HttpError.HeadTooLarge);
  assert.equal(err(line(8193) + "\r\n\r\n").error, HttpError.UriTooLong);
});

Deno.test("head bound: 431, found without buffering past it, in any chunking", () => {
  const o = { maxHead: 200 };
  const head = (n: number) => {
    const start = "GET / HTTP/1.1\r\nX: ";
    return start + "v".repeat(n - start.length - 4) + "\r\n\r\n";
  };
  assert.equal(head(200).length, 200);
  assert.equal(one(head(200), o)[0].kind, Parse.Request);
  assert.equal(err(head(201), o).error, HttpError.HeadTooLarge);
  assert.equal(err(head(201), o).status, 431);
  for (const n of [201, 5000]) {
    const s = bytes(head(n));
    for (const step of [1, 7, 64, 199, 200, 201]) {
      const p = new RequestParser(o);
      let errors = 0;
      for (let at = 0; at < s.length; at += step) {
        p.push(s, at, Math.min(step, s.length - at));
        for (let r; (r = p.next()) !== Parse.More;) {
          assert.equal(r, Parse.Error);
          errors++;
        }
        assert.ok(p.held <= 200, `held ${p.held}`);
      }
      assert.equal(errors, 1);
      assert.equal(p.error, HttpError.HeadTooLarge, `${n} by ${step}`);
    }
  }
  // Many small header lines, and a flood of empty lines before a request, count the same.
  const many = "GET / HTTP/1.1\r\n" + "A: b\r\n".repeat(40) + "\r\n";
  assert.equal(err(many, o).error, HttpError.HeadTooLarge);
  assert.equal(err("\r\n".repeat(150) + "GET / HTTP/1.1\r\n\r\n", o).error, HttpError.HeadTooLarge);
  // A bound-sized head at every split works.
  const s = bytes(head(200) + head(200));
  for (let i = 0; i <= s.length; i++) {
    const r = run(new RequestParser(o), [s.subarray(0, i), s.subarray(i)]);
    assert.deepEqual(r.map((x) => x.kind), [Parse.Request, Parse.Request], `split at ${i}`);
  }
});

Deno.test("after a closing error all input is ignored", () => {
  const p = new RequestParser();
  const r = run(p, [bytes("BAD\r\n\r\nGET / HTTP/1.1\r\n\r\n"), bytes("GET / HTTP/1.1\r\n\r\n")]);
  assert.equal(r.length, 1);
  assert.equal(r[0].error, HttpError.BadRequestLine);
  assert.ok(p.closed);
  assert.equal(p.held, 0);
  assert.equal(p.next(), Parse.More);
});

Deno.test("every error has a status and a text", () => {
  const codes = Object.values(HttpError);
  assert.equal(HTTP_ERROR_STATUS.length, codes.length);
  assert.equal(HTTP_ERROR_TEXT.length, codes.length);
  for (const c of codes.slice(1)) {
    assert.ok(HTTP_ERROR_STATUS[c] >= 400 && HTTP_ERROR_STATUS[c] < 600);
    assert.ok(HTTP_ERROR_TEXT[c].length > 0);
  }
});
