/**
 * The HTTP front end and its connections without sockets: request bytes go in through
 * `HttpFront.open(...).receive`, a recording transport keeps what is written, and the request
 * workers' side runs in this thread (the core's `Swarms` and `handleRequestBatch`), so the
 * whole HTTP path is driven and seen byte for byte.
 */
import assert from "assert";
import { HttpFront, MAX_OWED } from "../../http/front.ts";
import type { HttpConnection } from "../../http/connection.ts";
import { httpSchema, type HttpSettings } from "../../http/config.ts";
import { type BencodeValue, decode } from "../../http/bencode.ts";
import { handleRequestBatch } from "../../core/request_batch.ts";
import { Swarms } from "../../core/swarms.ts";
import { defaults } from "../../shared/config/schema.ts";
import { BatchWriter } from "../../shared/runtime/channel.ts";
import { encodeAddr } from "../../shared/net/address.ts";
import type { Transport } from "../../shared/net/tcp.ts";
import { AccessList } from "../../shared/store/access_list.ts";

const NOW = 1_000_000;
const enc = new TextEncoder(), latin1 = new TextDecoder("latin1");

/** A transport that keeps what is written, and whether it was ended or paused. */
class FakeTransport implements Transport {
  out: number[] = [];
  queued = 0;
  ended = false;
  pauses: boolean[] = [];
  write(b: Uint8Array, off: number, len: number): void {
    for (let i = 0; i < len; i++) this.out.push(b[off + i]);
  }
  end(): void {
    this.ended = true;
  }
  pause(paused: boolean): void {
    this.pauses.push(paused);
  }
  /** The responses written so far, parsed (and forgotten: the next call sees what follows). */
  take(): Response[] {
    const all = parseResponses(new Uint8Array(this.out));
    this.out = [];
    return all;
  }
}

interface Response {
  status: number;
  headers: Map<string, string>;
  body: Map<string, BencodeValue> | string;
}

/** Splits a byte stream into responses; bencoded bodies decoded, others as text. */
function parseResponses(b: Uint8Array): Response[] {
  const out: Response[] = [];
  for (let p = 0; p < b.length;) {
    const text = latin1.decode(b.subarray(p));
    const headEnd = text.indexOf("\r\n\r\n");
    assert.ok(headEnd > 0, `a whole head at byte ${p}`);
    const [status, ...lines] = text.slice(0, headEnd).split("\r\n");
    const headers = new Map(lines.map((l) => {
      const c = l.indexOf(":");
      return [l.slice(0, c).toLowerCase(), l.slice(c + 1).trim()] as [string, string];
    }));
    const len = Number(headers.get("content-length"));
    const start = p + headEnd + 4, bytes = b.subarray(start, start + len);
    assert.equal(bytes.length, len, "the whole body");
    const v = bytes[0] === 0x64 ? decode(bytes) : latin1.decode(bytes);
    out.push({ status: Number(status.split(" ")[1]), headers, body: v as Response["body"] });
    p = start + len;
  }
  return out;
}

/** The bencoded dictionary of `r`. */
function dict(r: Response): Map<string, BencodeValue> {
  assert.ok(r.body instanceof Map, `a bencoded body: ${String(r.body)}`);
  return r.body;
}

/** The failure reason `r` carries, or "". */
function failure(r: Response): string {
  const f = dict(r).get("failure reason");
  return f instanceof Uint8Array ? latin1.decode(f) : "";
}

/** Compact IPv4 peers as `ip:port`. */
function peers4(r: Response): string[] {
  const b = dict(r).get("peers");
  assert.ok(b instanceof Uint8Array, "compact peers");
  const out: string[] = [];
  for (let i = 0; i + 6 <= b.length; i += 6) {
    out.push(`${b[i]}.${b[i + 1]}.${b[i + 2]}.${b[i + 3]}:${(b[i + 4] << 8) | b[i + 5]}`);
  }
  return out.sort();
}

/** A 20-byte id whose bytes all are `n` (any byte: percent-encoded). */
function id20(n: number): Uint8Array {
  return new Uint8Array(20).fill(n);
}

function pct(b: Uint8Array): string {
  return [...b].map((x) => "%" + x.toString(16).padStart(2, "0")).join("");
}

/** An announce request's bytes; `query` adds or overrides parameters. */
function announce(
  hash: number,
  port: number,
  query: Record<string, string | number> = {},
  head = "HTTP/1.1\r\nHost: t",
): string {
  const q: Record<string, string | number> = {
    info_hash: pct(id20(hash)),
    peer_id: pct(id20(port & 0xff)),
    port,
    left: 1,
    ...query,
  };
  const s = Object.entries(q).map(([k, v]) => `${k}=${v}`).join("&");
  return `GET /announce?${s} ${head}\r\n\r\n`;
}

/** A scrape request of `hashes`. */
function scrape(hashes: number[], head = "HTTP/1.1"): string {
  return `GET /scrape?${hashes.map((h) => `info_hash=${pct(id20(h))}`).join("&")} ${head}\r\n\r\n`;
}

/** A front end and `shards` request workers' swarms, wired in this thread. */
class Harness {
  front: HttpFront;
  swarms: Swarms[];
  access = new AccessList();
  wakeups = 0;

  constructor(
    settings: Partial<HttpSettings> = {},
    shards = 3,
    limits = { maxConnections: 100, maxConnectionsPerIp: 50 },
    proxies: Uint8Array[] = [],
  ) {
    const s: HttpSettings = {
      ...defaults(httpSchema).network,
      max_scrape_torrents: 100,
      log_level: "error",
      request_workers: shards,
      ...settings,
    };
    this.front = new HttpFront(s, new Uint32Array([1, 2]), limits, proxies, () => this.wakeups++);
    this.front.now = NOW;
    this.swarms = Array.from(
      { length: shards },
      (_, i) => new Swarms({ interval: 900 }, new Uint32Array([i, 2, 3, 4])),
    );
  }

  /** A connection from `ip:port`: its engine (null when refused) and transport. */
  open(ip = "10.0.0.1", port = 40000): { c: HttpConnection; t: FakeTransport } {
    const t = new FakeTransport(), addr = new Uint8Array(18);
    encodeAddr(ip, port, addr, 0);
    const c = this.front.open(t, ip, addr);
    return { c: c!, t };
  }

  /** Request workers waiting with a batch. */
  waiting(): number[] {
    return this.front.forward.writers.flatMap((w, j) => (w.count > 0 ? [j] : []));
  }

  /**
   * Each request worker (in `order`; all by default) answers the batch waiting for it, and
   * the answers go back through the front, a batch at a time, as from the links.
   */
  serve(order = this.swarms.map((_, j) => j)): void {
    for (const j of order) {
      const w = this.front.forward.writers[j];
      if (w.count === 0) continue;
      const batch = w.buf.slice(0, w.len);
      w.clear();
      const back = new BatchWriter();
      handleRequestBatch(this.swarms[j], this.access, batch, back, NOW);
      this.front.responses(back.buf.slice(0, back.len));
    }
  }
}

function send(c: HttpConnection, text: string): void {
  const b = enc.encode(text);
  c.receive(b, 0, b.length);
}

Deno.test("http front: announces over HTTP meet each other, compact and as lists", () => {
  const h = new Harness();
  const a = h.open("10.0.0.1"), b = h.open("10.0.0.2"), c = h.open("10.0.0.3");
  send(a.c, announce(7, 6881, { left: 0 }));
  assert.ok(h.wakeups > 0, "the worker is asked to flush");
  h.serve();
  const [ra] = a.t.take();
  assert.equal(ra.status, 200);
  assert.deepEqual(peers4(ra), [], "not given itself");
  assert.equal(dict(ra).get("complete"), 1, "the announcer counts");
  assert.equal(dict(ra).get("interval"), 900);
  assert.equal(dict(ra).get("min interval"), 300);
  send(b.c, announce(7, 6882));
  h.serve();
  const [rb] = b.t.take();
  assert.deepEqual(peers4(rb), ["10.0.0.1:6881"]);
  assert.deepEqual([dict(rb).get("complete"), dict(rb).get("incomplete")], [1, 1]);
  // compact=0: dictionaries with the peer id; no_peer_id leaves it out.
  send(c.c, announce(7, 6883, { compact: 0 }));
  send(c.c, announce(7, 6883, { compact: 0, no_peer_id: 1 }));
  h.serve();
  const [full, noIds] = c.t.take();
  const list = dict(full).get("peers") as Map<string, BencodeValue>[];
  assert.deepEqual(
    list.map((p) => [latin1.decode(p.get("ip") as Uint8Array), p.get("port")]).sort(),
    [["10.0.0.1", 6881], ["10.0.0.2", 6882]],
  );
  assert.deepEqual(
    list.map((p) => p.get("peer id")).sort(),
    [id20(6881 & 0xff), id20(6882 & 0xff)],
  );
  const bare = dict(noIds).get("peers") as Map<string, BencodeValue>[];
  assert.equal(bare.length, 2);
  assert.ok(bare.every((p) => !p.has("peer id")), "no_peer_id");
  // `stopped` gets no peers and leaves the swarm.
  send(a.c, announce(7, 6881, { left: 0, event: "stopped" }));
  h.serve();
  assert.deepEqual(peers4(a.t.take()[0]), []);
  send(b.c, announce(7, 6882));
  h.serve();
  assert.deepEqual(peers4(b.t.take()[0]), ["10.0.0.3:6883"]);
  assert.equal(h.front.counters.announces, 6);
  assert.ok(!a.t.ended && !b.t.ended && !c.t.ended, "HTTP/1.1 keeps them open");
});

Deno.test("http front: a scrape over every request worker is merged, keyed by raw hash", () => {
  const h = new Harness({}, 3);
  const { c, t } = h.open();
  const torrents = Array.from({ length: 12 }, (_, i) => i + 1);
  for (const n of torrents) send(c, announce(n, 7000 + n, { left: n % 2 }));
  h.serve();
  t.take();
  assert.ok(h.swarms.every((s) => s.torrents.size > 0), "the torrents span every worker");
  send(c, scrape([...torrents, 99]));
  assert.equal(h.waiting().length, 3, "a part for each request worker");
  h.serve([2, 0, 1]);
  const [r] = t.take();
  const files = dict(r).get("files") as Map<string, Map<string, BencodeValue>>;
  assert.equal(files.size, 13);
  for (const n of torrents) {
    const f = files.get(latin1.decode(id20(n)))!;
    assert.deepEqual(
      [f.get("complete"), f.get("incomplete"), f.get("downloaded")],
      n % 2 ? [0, 1, 0] : [1, 0, 0],
      `torrent ${n}`,
    );
  }
  const unknown = files.get(latin1.decode(id20(99)))!;
  assert.deepEqual([unknown.get("complete"), unknown.get("incomplete")], [0, 0]);
  assert.equal(h.front.forward.pending.inFlight, 0, "the pending scrape is released");
});

Deno.test("http front: pipelined requests are answered in request order", () => {
  const h = new Harness({}, 3);
  const { c, t } = h.open();
  // Announces to torrents on different request workers, a request answered at once (404),
  // and a scrape, all in one read.
  send(c, announce(1, 6001) + "GET /nothing HTTP/1.1\r\n\r\n" + announce(2, 6002) + scrape([3]));
  assert.equal(t.out.length, 0, "the 404 waits for the announce before it");
  h.serve([2, 1, 0]);
  const rs = t.take();
  assert.deepEqual(
    rs.map((r) => r.status),
    [200, 404, 200, 200],
  );
  assert.ok(dict(rs[0]).has("interval") && dict(rs[2]).has("interval"), "announces");
  assert.ok(dict(rs[3]).has("files"), "the scrape last");
  assert.ok(!t.ended);
});

Deno.test("http front: keep-alive, Connection: close and HTTP/1.0", () => {
  const cases: [string, string, boolean][] = [
    ["HTTP/1.1", "HTTP/1.1\r\nHost: t", false],
    ["HTTP/1.1, Connection: close", "HTTP/1.1\r\nConnection: close", true],
    ["HTTP/1.0", "HTTP/1.0", true],
    ["HTTP/1.0, keep-alive", "HTTP/1.0\r\nConnection: keep-alive", false],
  ];
  for (const [name, head, closes] of cases) {
    const h = new Harness();
    const { c, t } = h.open();
    send(c, announce(1, 6001, {}, head) + announce(1, 6002));
    h.serve();
    const rs = t.take();
    assert.equal(rs.length, closes ? 1 : 2, `${name}: nothing read after a close`);
    assert.equal(t.ended, closes, name);
    assert.equal(h.front.size, closes ? 0 : 1, `${name}: forgotten once closed`);
    if (!closes) assert.notEqual(rs[0].headers.get("connection"), "close", name);
  }
  // Nor what comes in a later read, before the answer went: it is not even parsed.
  {
    const h = new Harness();
    const { c, t } = h.open();
    send(c, announce(1, 6001, {}, "HTTP/1.1\r\nConnection: close"));
    send(c, announce(1, 6002));
    assert.equal(h.front.counters.announces, 1, "the request after the close is not parsed");
    h.serve();
    assert.equal(t.take().length, 1);
    assert.ok(t.ended);
  }
  // With keep_alive off, every answer closes.
  const h = new Harness({ keep_alive: false });
  const { c, t } = h.open();
  send(c, announce(1, 6001));
  h.serve();
  assert.equal(t.take()[0].headers.get("connection"), "close");
  assert.ok(t.ended);
});

Deno.test("http front: owed MAX_OWED answers it reads no more; at half of them it reads again", () => {
  const h = new Harness({}, 1);
  const { c, t } = h.open();
  const n = MAX_OWED + 40;
  // One torrent: the i-th announce's reply counts i + 1 leechers, so order shows.
  let all = "";
  for (let i = 0; i < n; i++) all += announce(1, 10000 + i, { numwant: 0 });
  send(c, all.slice(0, all.length - 100));
  assert.deepEqual(t.pauses, [true], "paused at MAX_OWED");
  assert.equal(h.front.forward.writers[0].count, MAX_OWED, "no request past MAX_OWED read");
  send(c, all.slice(all.length - 100)); // read before the pause took effect: kept
  c.ended(); // and the client is done sending
  assert.equal(h.front.forward.writers[0].count, MAX_OWED);
  h.serve();
  assert.deepEqual(t.pauses, [true, false], "reading again once half went");
  assert.ok(!t.ended, "answers are still owed");
  h.serve();
  const rs = t.take();
  assert.deepEqual(
    rs.map((r) => dict(r).get("incomplete")),
    Array.from({ length: n }, (_, i) => i + 1),
    "every answer, in order",
  );
  assert.ok(t.ended, "closed once all were answered after the client's end of stream");
});

Deno.test("http front: the client's end of stream: answers owed go out, then the close", () => {
  const h = new Harness();
  const { c, t } = h.open();
  send(c, announce(1, 6001) + announce(2, 6002));
  c.ended();
  assert.ok(!t.ended, "answers owed");
  h.serve();
  assert.equal(t.take().length, 2);
  assert.ok(t.ended);
  assert.equal(h.front.size, 0);
  // With nothing owed, the end of stream closes at once.
  const idle = h.open("10.0.0.2");
  idle.c.ended();
  assert.ok(idle.t.ended);
});

Deno.test("http front: a request whose answer does not come is failed after its time", () => {
  const h = new Harness();
  const { c, t } = h.open();
  send(c, announce(1, 6001));
  h.front.expire(NOW + 10);
  assert.equal(t.out.length, 0, "not before its time is past");
  h.front.expire(NOW + 11);
  const [r] = t.take();
  assert.equal(failure(r), "tracker busy, try again");
  h.serve(); // the answer comes late: dropped, not sent again
  assert.equal(t.out.length, 0);
  assert.equal(c.inFlight, 0);
  // The connection goes on.
  send(c, announce(1, 6002));
  h.serve();
  assert.equal(t.take()[0].status, 200);
});

Deno.test("http front: the sweep closes slow heads and idle connections, not busy ones", () => {
  const h = new Harness({ request_timeout: 10, keep_alive_timeout: 60 });
  const slow = h.open("10.0.0.1"), idle = h.open("10.0.0.2"), busy = h.open("10.0.0.3");
  send(slow.c, "GET /announce?info_hash="); // a head begun and never ended
  send(idle.c, announce(1, 6001));
  h.serve();
  send(busy.c, announce(2, 6002)); // its answer is still owed
  h.front.sweep(NOW + 10);
  assert.ok(!slow.t.ended, "a head may take request_timeout");
  h.front.sweep(NOW + 11);
  assert.ok(slow.t.ended, "then it is closed");
  assert.equal(h.front.counters.timedOut, 1);
  h.front.sweep(NOW + 60);
  assert.ok(!idle.t.ended, "idle for keep_alive_timeout is allowed");
  h.front.sweep(NOW + 61);
  assert.ok(idle.t.ended, "idle for longer is closed");
  assert.ok(!busy.t.ended, "waiting for its answer is not idle");
  assert.deepEqual([h.front.counters.idle, h.front.size], [1, 1]);
});

Deno.test("http front: connection limits, in all and per IP", () => {
  const h = new Harness({}, 1, { maxConnections: 3, maxConnectionsPerIp: 2 });
  const a = h.open("10.0.0.1"), b = h.open("10.0.0.1");
  const refused = h.open("10.0.0.1");
  assert.equal(refused.c, null);
  assert.ok(refused.t.ended, "closed at once");
  const other = h.open("10.0.0.2");
  assert.ok(other.c !== null);
  const full = h.open("10.0.0.3");
  assert.equal(full.c, null, "maxConnections");
  assert.equal(h.front.size, 3);
  a.c.close();
  assert.ok(h.open("10.0.0.1").c !== null, "room again once one closed");
  assert.ok(!b.t.ended);
  assert.deepEqual(
    [h.front.admission.refusedPerIp, h.front.admission.refusedTotal],
    [1, 1],
  );
});

Deno.test("http front: a client that does not read is closed at max_outgoing_buffer", () => {
  const h = new Harness({ max_outgoing_buffer: 65536 });
  const { c, t } = h.open();
  send(c, announce(1, 6001));
  t.queued = 65537; // the kernel took nothing
  h.serve();
  assert.ok(t.ended);
  assert.equal(h.front.counters.slow, 1);
  assert.equal(h.front.size, 0);
});

Deno.test("http front: failure reasons, full scrapes and the proxy's client address", () => {
  const proxy = new Uint8Array(18);
  encodeAddr("127.0.0.1", 0, proxy, 0);
  const h = new Harness({ runs_behind_reverse_proxy: true }, 2, undefined, [proxy]);
  const { c, t } = h.open("127.0.0.1");
  send(c, "GET /announce?port=6881&left=1 HTTP/1.1\r\n\r\n");
  send(c, "GET /scrape HTTP/1.1\r\n\r\n");
  send(c, announce(1, 6001, {}, "HTTP/1.1\r\nX-Forwarded-For: 10.9.9.9, 203.0.113.7"));
  h.serve();
  const [missing, fullScrape, viaProxy] = t.take();
  assert.equal(failure(missing), "missing info_hash");
  assert.equal(failure(fullScrape), "full scrapes are not allowed");
  assert.equal(viaProxy.status, 200);
  // Behind the proxy, the client is the header's last entry; elsewhere the header is ignored.
  const direct = h.open("10.0.0.5");
  send(direct.c, announce(1, 6002, {}, "HTTP/1.1\r\nX-Forwarded-For: 198.51.100.1"));
  h.serve();
  assert.deepEqual(peers4(direct.t.take()[0]), ["203.0.113.7:6001"]);
  send(c, announce(1, 6003, {}, "HTTP/1.1\r\nX-Forwarded-For: 203.0.113.8"));
  h.serve();
  assert.deepEqual(peers4(t.take()[0]), ["10.0.0.5:6002", "203.0.113.7:6001"]);
  // A full scrape, when allowed, gathers every request worker's torrents.
  const all = new Harness({ allow_full_scrape: true }, 2);
  const s = all.open();
  for (let n = 1; n <= 6; n++) send(s.c, announce(n, 6000 + n));
  all.serve();
  s.t.take();
  send(s.c, "GET /scrape HTTP/1.1\r\n\r\n");
  assert.equal(all.waiting().length, 2);
  all.serve([1]);
  assert.equal(s.t.out.length, 0, "waits for every request worker");
  all.serve([0]);
  const files = dict(s.t.take()[0]).get("files") as Map<string, unknown>;
  assert.equal(files.size, 6);
});
