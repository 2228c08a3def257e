/** Announce and scrape query strings, percent-decoding to bytes, and IP text from bytes. */
import assert from "assert";
import {
  AnnounceQuery,
  Event,
  MAX_KEY_LEN,
  parseAnnounceQuery,
  parseScrapeQuery,
  QUERY_FAILURE_TEXT,
  QueryFailure,
  ScrapeQuery,
} from "../../http/query.ts";
import { parseEndpointText, parseIPv4Text, parseIPv6Text } from "../../http/ip_text.ts";
import { decodeValue } from "../../http/percent.ts";
import { encodeAddr, formatAddrIp, parseIPv6 } from "../../shared/net/address.ts";

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const pct = (b: Uint8Array) => [...b].map((x) => "%" + x.toString(16).padStart(2, "0")).join("");
const HASH = Uint8Array.from({ length: 20 }, (_, i) => i * 13 + 7);
const PEER = bytes("-qB4650-abcdefghijkl");
const BASE = `info_hash=${pct(HASH)}&peer_id=${pct(PEER)}&port=6881&left=0`;

function announce(query: string, q = new AnnounceQuery()): [number, AnnounceQuery] {
  // The query sits inside a larger buffer, as it does in a request head.
  const b = bytes(`GET /announce?${query} HTTP/1.1`);
  return [parseAnnounceQuery(b, 14, 14 + query.length, q), q];
}
const failure = (query: string) => QUERY_FAILURE_TEXT[announce(query)[0]];

Deno.test("announce: a typical libtorrent query", () => {
  const [f, q] = announce(
    `info_hash=${pct(HASH)}&peer_id=-qB4650-abcdefghijkl&port=51413&uploaded=123` +
      "&downloaded=4567&left=890&corrupt=0&key=1A2B3C4D&event=started&numwant=200" +
      "&compact=1&no_peer_id=1&supportcrypto=1&redundant=0",
  );
  assert.equal(f, QueryFailure.None);
  assert.deepEqual(q.infoHash, HASH);
  assert.deepEqual(q.peerId, PEER);
  assert.equal(q.port, 51413);
  assert.equal(q.uploaded, 123);
  assert.equal(q.downloaded, 4567);
  assert.equal(q.left, 890);
  assert.equal(q.event, Event.Started);
  assert.equal(q.numWant, 200);
  assert.equal(q.compact, true);
  assert.equal(q.noPeerId, true);
  assert.deepEqual(q.key.subarray(0, q.keyLen), bytes("1A2B3C4D"));
  assert.equal(q.trackerIdLen, -1);
  assert.equal(q.ipFamily, 0);
  assert.equal(q.hasIpv4 || q.hasIpv6, false);
});

Deno.test("announce: defaults", () => {
  const [f, q] = announce(BASE);
  assert.equal(f, 0);
  assert.equal(q.uploaded, 0);
  assert.equal(q.downloaded, 0);
  assert.equal(q.event, Event.None);
  assert.equal(q.numWant, -1);
  assert.equal(q.compact, true);
  assert.equal(q.noPeerId, false);
  assert.equal(q.keyLen, -1);
});

Deno.test("percent-decoding: escapes in either case, + as space, raw bytes as themselves", () => {
  const out = new Uint8Array(30);
  const dec = (s: string, max = 30) => {
    const n = decodeValue(bytes(s), 0, s.length, out, 0, max);
    return n < 0 ? n : [...out.subarray(0, n)];
  };
  assert.deepEqual(dec("%41%4a%4A%ff%FF%00"), [0x41, 0x4a, 0x4a, 0xff, 0xff, 0]);
  assert.deepEqual(dec("a+b%2B"), [0x61, 0x20, 0x62, 0x2b]);
  assert.deepEqual(dec("\x00\xff\x80="), [0, 0xff, 0x80, 0x3d]);
  assert.deepEqual(dec(""), []);
  for (const bad of ["%zz", "%4", "%", "a%4", "%g0", "%0g", "%%41", "% 41", "%-1"]) {
    assert.equal(dec(bad), -1, bad);
  }
  assert.equal(dec("abc", 2), -2);
  assert.deepEqual(dec("ab", 2), [0x61, 0x62]);
  // The end bound is respected: an escape cut by it is bad even if bytes follow in the buffer.
  assert.equal(decodeValue(bytes("%41"), 0, 2, out, 0, 30), -1);
});

Deno.test("info_hash and peer_id: exactly 20 bytes, encoded, raw or mixed", () => {
  const raw = "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16";
  const [f, q] = announce(`info_hash=${raw}&peer_id=AAAAAAAAA%42%42+%43CCCCCCC&port=1&left=1`);
  assert.equal(f, 0);
  assert.deepEqual(q.infoHash, bytes(raw));
  assert.deepEqual(q.peerId, bytes("AAAAAAAAABB CCCCCCCC"));
  const with19 = pct(HASH.subarray(0, 19)), with21 = pct(HASH) + "%00";
  const rest = `peer_id=${pct(PEER)}&port=1&left=1`;
  for (
    const h of [with19, with21, "", pct(HASH).slice(0, -1), pct(HASH).slice(0, -2) + "%zz"]
  ) {
    assert.equal(failure(`info_hash=${h}&${rest}`), "invalid info_hash", h);
  }
  assert.equal(failure(`info_hash&${rest}`), "invalid info_hash");
  assert.equal(failure(`info_hash=${pct(HASH)}%4&${rest}`), "invalid info_hash");
  assert.equal(
    failure(`info_hash=${pct(HASH)}&peer_id=${with19}&port=1&left=1`),
    "invalid peer_id",
  );
  assert.equal(
    failure(`info_hash=${pct(HASH)}&peer_id=${with21}&port=1&left=1`),
    "invalid peer_id",
  );
  assert.equal(
    failure(`info_hash=${pct(HASH)}&peer_id=${pct(PEER)}%zz&port=1&left=1`),
    "invalid peer_id",
  );
});

Deno.test("required parameters", () => {
  const h = `info_hash=${pct(HASH)}`, p = `peer_id=${pct(PEER)}`;
  assert.equal(failure(""), "missing info_hash");
  assert.equal(failure(`${p}&port=1&left=0`), "missing info_hash");
  assert.equal(failure(`${h}&port=1&left=0`), "missing peer_id");
  assert.equal(failure(`${h}&${p}&left=0`), "missing port");
  // A missing left is a leecher, as other trackers take it.
  const [f, q] = announce(`${h}&${p}&port=1`);
  assert.equal(f, 0);
  assert.equal(q.left, -1);
  // A bad value is reported before a missing one.
  assert.equal(failure(`port=0`), "invalid port");
});

Deno.test("port, uploaded, downloaded, left, numwant: decimal, bounded", () => {
  const h = `info_hash=${pct(HASH)}&peer_id=${pct(PEER)}`;
  const port = (v: string) => announce(`${h}&left=0&port=${v}`);
  assert.equal(port("65535")[1].port, 65535);
  assert.equal(port("1")[1].port, 1);
  assert.equal(port("0006881")[1].port, 6881);
  assert.equal(port("%36%38%38%31")[1].port, 6881);
  for (
    const v of ["0", "65536", "", "-1", "+1", "1e3", "68 81", "0x1ae1", "99999999999999999999"]
  ) {
    assert.equal(QUERY_FAILURE_TEXT[port(v)[0]], "invalid port", v);
  }
  // The parameter under test comes first: the first of a name counts.
  const count = (name: string, v: string) => announce(`${name}=${v}&${h}&port=1&left=0`);
  for (const name of ["uploaded", "downloaded", "left"]) {
    const key = name as "uploaded" | "downloaded" | "left";
    assert.equal(count(name, "0")[1][key], 0);
    assert.equal(count(name, "000")[1][key], 0);
    assert.equal(count(name, "9007199254740991")[1][key], 9007199254740991);
    assert.equal(count(name, "1234567890123456789")[1][key], 1234567890123456789);
    assert.equal(count(name, "9223372036854775807")[1][key], 2 ** 63);
    assert.equal(count(name, "09223372036854775807")[0], 0, "leading zeros do not count");
    for (
      const v of [
        "9223372036854775808",
        "9999999999999999999",
        "10000000000000000000",
        "1.5",
        "",
        "x",
        "-",
        "--1",
        "-x",
      ]
    ) {
      assert.equal(QUERY_FAILURE_TEXT[count(name, v)[0]], `invalid ${name}`, `${name}=${v}`);
    }
  }
  // -1 (a client's "unknown") is read as 0 for the totals; a negative left is still refused.
  for (const name of ["uploaded", "downloaded"]) {
    const key = name as "uploaded" | "downloaded";
    const [f, q] = count(name, "-1");
    assert.equal(f, 0, `${name}=-1`);
    assert.equal(q[key], 0);
  }
  assert.equal(QUERY_FAILURE_TEXT[count("left", "-1")[0]], "invalid left");
  // left is what makes a seeder; the first `left` wins (here 5, not 0).
  const [, q] = announce(`${h}&port=1&left=5&left=0`);
  assert.equal(q.left, 5);
  assert.equal(count("numwant", "0")[1].numWant, 0);
  assert.equal(count("numwant", "50")[1].numWant, 50);
  assert.equal(count("numwant", "99999999999")[1].numWant, 0x7fffffff);
  // A negative numwant means the default (BEP 15 says so of -1).
  for (const v of ["-1", "-50", "%2D1"]) {
    const [f, q] = count("numwant", v);
    assert.equal(f, 0, v);
    assert.equal(q.numWant, -1, v);
  }
  for (const v of ["", "a", "1.0", "-", "-a"]) {
    assert.equal(QUERY_FAILURE_TEXT[count("numwant", v)[0]], "invalid numwant", v);
  }
});

Deno.test("event, compact, no_peer_id, key, trackerid", () => {
  const a = (extra: string) => announce(`${BASE}&${extra}`);
  assert.equal(a("event=started")[1].event, Event.Started);
  assert.equal(a("event=completed")[1].event, Event.Completed);
  assert.equal(a("event=stopped")[1].event, Event.Stopped);
  assert.equal(a("event=paused")[1].event, Event.Paused);
  assert.equal(a("event=empty")[1].event, Event.None);
  assert.equal(a("event=")[1].event, Event.None);
  assert.equal(a("event")[1].event, Event.None);
  assert.equal(a("event=%73tarted")[1].event, Event.Started);
  for (const v of ["Started", "start", "startedx", "completedcompleted", "%zz", "0", "2"]) {
    assert.equal(QUERY_FAILURE_TEXT[a(`event=${v}`)[0]], "invalid event", v);
  }
  assert.equal(a("compact=0")[1].compact, false);
  assert.equal(a("compact=1")[1].compact, true);
  // Any value but 0 means compact.
  for (const v of ["", "2", "01", "yes", "%zz"]) {
    const [f, q] = a(`compact=${v}`);
    assert.equal(f, 0, v);
    assert.equal(q.compact, true, v);
  }
  assert.equal(a("no_peer_id=1")[1].noPeerId, true);
  assert.equal(a("no_peer_id")[1].noPeerId, true);
  assert.equal(a("no_peer_id=0")[1].noPeerId, false);
  const [, k] = a(`key=%00%ff+x&trackerid=${"t".repeat(MAX_KEY_LEN)}`);
  assert.deepEqual(k.key.subarray(0, k.keyLen), new Uint8Array([0, 0xff, 0x20, 0x78]));
  assert.equal(k.trackerIdLen, MAX_KEY_LEN);
  assert.equal(a("key=")[1].keyLen, 0);
  assert.equal(QUERY_FAILURE_TEXT[a("key=%z1")[0]], "invalid key");
  // Past MAX_KEY_LEN they are ignored, and the parameters after them still read.
  const [fl, long] = a(`key=${"k".repeat(MAX_KEY_LEN + 1)}&trackerid=${"t".repeat(65)}&numwant=7`);
  assert.equal(fl, 0);
  assert.equal(long.keyLen, -1);
  assert.equal(long.trackerIdLen, -1);
  assert.equal(long.numWant, 7);
});

Deno.test("ip, ipv4, ipv6: addresses or endpoints; empty as absent; others ignored", () => {
  const a = (extra: string) => announce(`${BASE}&${extra}`);
  const rec = (host: string, port: number) => {
    const r = new Uint8Array(18);
    encodeAddr(host, port, r, 0);
    return r;
  };
  let [f, q] = a("ip=203.0.113.5");
  assert.equal(f, 0);
  assert.equal(q.ipFamily, 4);
  assert.deepEqual(q.ip, rec("203.0.113.5", 0));
  [f, q] = a("ip=2001:db8::1");
  assert.equal(q.ipFamily, 6);
  assert.deepEqual(q.ip, rec("2001:db8::1", 0));
  [f, q] = a("ipv4=198.51.100.1:6882&ipv6=%5B2001%3Adb8%3A%3A2%5D%3A6883");
  assert.equal(f, 0);
  assert.ok(q.hasIpv4 && q.hasIpv6);
  assert.deepEqual(q.ipv4, rec("198.51.100.1", 6882));
  assert.deepEqual(q.ipv6, rec("2001:db8::2", 6883));
  [f, q] = a("ipv6=fe80::1&ipv4=10.0.0.1");
  assert.deepEqual(q.ipv6, rec("fe80::1", 0));
  assert.deepEqual(q.ipv4, rec("10.0.0.1", 0));
  [f, q] = a("ip=&ipv4=&ipv6=");
  assert.equal(f, 0);
  assert.equal(q.ipFamily, 0);
  assert.ok(!q.hasIpv4 && !q.hasIpv6);
  // What is not a literal address of its kind is ignored and counted, never an error.
  const ignored = [
    "ip=tracker.example.com",
    "ip=tracker-test.example.org",
    "ip=1.2.3",
    "ip=1.2.3.256",
    "ip=%zz",
    "ipv4=localhost",
    "ipv4=2001:db8::1",
    "ipv4=1.2.3.4:0",
    "ipv4=1.2.3.4:65536",
    "ipv4=[1.2.3.4]",
    "ipv6=fe80::1%25eth0",
    "ipv6=1.2.3.4",
    "ipv6=[2001:db8::1",
    "ipv6=2001:db8::1:6881:1:1:1:1",
    "ipv6=[::1]x",
  ];
  for (const extra of ignored) {
    [f, q] = a(`${extra}&numwant=9`);
    assert.equal(f, 0, extra);
    assert.equal(q.ipFamily, 0, extra);
    assert.ok(!q.hasIpv4 && !q.hasIpv6, extra);
    assert.equal(q.ignoredIps, 1, extra);
    assert.equal(q.numWant, 9, `${extra}: the parameters after it still read`);
  }
});

Deno.test("duplicates: the first counts, later ones are ignored unread; unknown ones too", () => {
  const other = Uint8Array.from({ length: 20 }, (_, i) => 255 - i);
  const [f, q] = announce(
    `info_hash=${pct(HASH)}&info_hash=${pct(other)}&info_hash=%zz&peer_id=${pct(PEER)}` +
      "&port=1&port=0&left=0&event=stopped&event=bogus&x=%zz&%zz=1&=&&&info_hashx=1&Port=7",
  );
  assert.equal(f, 0);
  assert.deepEqual(q.infoHash, HASH);
  assert.equal(q.port, 1);
  assert.equal(q.event, Event.Stopped);
});

Deno.test("the result object is reset between announces", () => {
  const q = new AnnounceQuery();
  announce(
    `${BASE}&event=started&numwant=5&compact=0&no_peer_id=1&key=k&ip=1.2.3.4&ipv4=1.2.3.4&ipv6=::1`,
    q,
  );
  const [f] = announce(BASE, q);
  assert.equal(f, 0);
  assert.equal(q.event, Event.None);
  assert.equal(q.numWant, -1);
  assert.equal(q.compact, true);
  assert.equal(q.noPeerId, false);
  assert.equal(q.keyLen, -1);
  assert.equal(q.ipFamily, 0);
  assert.ok(!q.hasIpv4 && !q.hasIpv6);
});

Deno.test("every failure has a text", () => {
  const codes = Object.values(QueryFailure);
  assert.equal(QUERY_FAILURE_TEXT.length, codes.length);
  for (const c of codes.slice(1)) {
    assert.match(QUERY_FAILURE_TEXT[c], /^(missing|invalid) [a-z_46]+$/);
  }
});

Deno.test("scrape: none, one, many, repeats, cut at the maximum, a bad hash refused", () => {
  const hashes = Array.from(
    { length: 5 },
    (_, k) => Uint8Array.from({ length: 20 }, (_, i) => k * 20 + i),
  );
  const q = new ScrapeQuery(3);
  const scrape = (s: string) => parseScrapeQuery(bytes(s), 0, s.length, q);
  assert.equal(scrape(""), 0);
  assert.equal(q.count, 0, "a full scrape");
  assert.equal(scrape("passkey=abc"), 0);
  assert.equal(q.count, 0);
  assert.equal(scrape(`info_hash=${pct(hashes[0])}`), 0);
  assert.equal(q.count, 1);
  assert.deepEqual(q.hashes.subarray(0, 20), hashes[0]);
  assert.equal(scrape(`info_hash=${pct(hashes[1])}&x=1&info_hash=${pct(hashes[1])}`), 0);
  assert.equal(q.count, 2, "repeats are kept");
  assert.equal(scrape(hashes.map((h) => `info_hash=${pct(h)}`).join("&")), 0);
  assert.equal(q.count, 3);
  assert.ok(q.truncated);
  assert.deepEqual(q.hashes.subarray(40, 60), hashes[2]);
  // Hashes past the maximum are not even read.
  assert.equal(
    scrape(hashes.slice(0, 3).map((h) => `info_hash=${pct(h)}`).join("&") + "&info_hash=bad"),
    0,
  );
  assert.equal(q.count, 3);
  assert.equal(
    scrape(`info_hash=${pct(hashes[0])}&info_hash=${pct(hashes[1].subarray(1))}`),
    QueryFailure.InvalidInfoHash,
  );
  assert.equal(scrape(`info_hash=${pct(hashes[0])}%zz`), QueryFailure.InvalidInfoHash);
  assert.equal(scrape("info_hash"), QueryFailure.InvalidInfoHash);
  assert.equal(scrape(`info_hashes=1&xinfo_hash=2&info_hash=${pct(hashes[4])}`), 0);
  assert.equal(q.count, 1);
  assert.ok(!q.truncated);
});

Deno.test("IPv4 text", () => {
  const out = new Uint8Array(4);
  const v4 = (s: string) => parseIPv4Text(bytes(s), 0, s.length, out, 0) ? [...out] : null;
  assert.deepEqual(v4("0.0.0.0"), [0, 0, 0, 0]);
  assert.deepEqual(v4("255.255.255.255"), [255, 255, 255, 255]);
  assert.deepEqual(v4("10.200.3.40"), [10, 200, 3, 40]);
  for (
    const s of [
      "",
      "1.2.3",
      "1.2.3.4.5",
      "256.1.1.1",
      "01.1.1.1",
      "1..1.1",
      ".1.1.1",
      "1.1.1.",
      "1.1.1.1 ",
      "a.1.1.1",
      "1234.1.1.1",
      "-1.1.1.1",
    ]
  ) {
    assert.equal(v4(s), null, s);
  }
});

Deno.test("IPv6 text, cross-checked with shared/address.ts", () => {
  const a = new Uint8Array(16), b = new Uint8Array(16);
  const v6 = (s: string) => parseIPv6Text(bytes(s), 0, s.length, a, 0);
  const good = [
    "::",
    "::1",
    "1::",
    "1::2",
    "2001:db8::1",
    "2001:db8:0:0:0:0:2:1",
    "fe80::1:2:3:4:5",
    "1:2:3:4:5:6:7:8",
    "::ffff:192.0.2.1",
    "::192.0.2.1",
    "1:2:3:4:5:6:1.2.3.4",
    "ABCD:ef01::",
    "1:2:3:4:5:6:7::",
    "::2:3:4:5:6:7:8",
  ];
  for (const s of good) {
    assert.ok(v6(s), s);
    assert.ok(parseIPv6(s, b, 0), s);
    assert.deepEqual(a, b, s);
  }
  const bad = [
    "",
    ":",
    ":::",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    "1::2::3",
    "12345::",
    "g::",
    ":1::",
    "1::2:",
    "1:2:3:4:5:6:7:8::",
    "::1.2.3",
    "1.2.3.4",
    "1:2:3:4:5:6:7:1.2.3.4",
    "::1 ",
    "[::1]",
    "fe80::1%eth0",
    "::1.2.3.4:5",
  ];
  for (const s of bad) assert.ok(!v6(s), s);
  // Random addresses, in RFC 5952 form (with zero runs compressed), parse back to themselves.
  let x = 12345;
  const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 16;
  const rec = new Uint8Array(18);
  for (let n = 0; n < 2000; n++) {
    for (let i = 0; i < 16; i++) rec[i] = rnd() % 4 === 0 ? 0 : rnd() & 255;
    if (rec.subarray(0, 12).every((y, i) => y === (i < 10 ? 0 : 255))) rec[0] = 1;
    const s = formatAddrIp(rec, 0);
    assert.ok(v6(s), s);
    assert.deepEqual(a, rec.subarray(0, 16), s);
  }
});

Deno.test("endpoints: addresses with and without ports", () => {
  const out = new Uint8Array(18);
  const ep = (s: string) => parseEndpointText(bytes(s), 0, s.length, out, 0);
  const want = (host: string, port: number) => {
    const r = new Uint8Array(18);
    encodeAddr(host, port, r, 0);
    return r;
  };
  assert.equal(ep("1.2.3.4"), 4);
  assert.deepEqual(out, want("1.2.3.4", 0));
  assert.equal(ep("1.2.3.4:65535"), 4);
  assert.deepEqual(out, want("1.2.3.4", 65535));
  assert.equal(ep("[::1]:80"), 6);
  assert.deepEqual(out, want("::1", 80));
  assert.equal(ep("[2001:db8::7]"), 6);
  assert.deepEqual(out, want("2001:db8::7", 0));
  assert.equal(ep("2001:db8::7"), 6);
  for (
    const s of [
      "",
      "1",
      "1.2.3.4:",
      "1.2.3.4:0",
      "1.2.3.4:08",
      "1.2.3.4:123456",
      "[::1]:",
      "[::1]80",
      "[::1",
      "::1]",
      "[1.2.3.4]",
      "host:80",
      "[]",
    ]
  ) {
    assert.equal(ep(s), 0, s);
  }
});
