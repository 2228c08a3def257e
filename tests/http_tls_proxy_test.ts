/**
 * The HTTP tracker over TLS (a test certificate, swapped on SIGUSR1 without dropping open
 * connections), behind a trusted reverse proxy (the client IP from its header, only on
 * connections from the proxy), and in one process with the UDP tracker over the same swarms.
 */
import assert from "assert";
import { processTest, startShoalWith } from "./helpers/shoal.ts";
import { liveCertificates } from "./helpers/certificates.ts";
import { announceQuery, bdecode, compactPeers, HttpClient, pct } from "./helpers/http_client.ts";
import { randomId, UdpClient } from "./helpers/udp_client.ts";
import type { BencodeValue } from "../http/bencode.ts";

const num = (v: BencodeValue | undefined) => Number(v);

processTest(
  "https: serves TLS, and SIGUSR1 swaps the certificate without dropping connections",
  async () => {
    const certs = await liveCertificates("shoal-https-");
    const { firstCa, secondCa } = certs;
    const shoal = await startShoalWith("http", { network: { use_ipv6: false, ...certs.tls } });
    const open: HttpClient[] = [];
    const announce = (c: HttpClient) =>
      c.get(
        `/announce?${
          announceQuery({ info_hash: randomId(), peer_id: randomId(), port: 1, left: 0 })
        }`,
      );
    try {
      const l = shoal.listening.find((x) => !x.metrics)!;
      assert.equal(l.scheme, "https");
      const before = await HttpClient.connect("127.0.0.1", l.port, firstCa);
      open.push(before);
      assert.equal((await announce(before)).status, 200);
      await assert.rejects(
        HttpClient.connect("127.0.0.1", l.port, secondCa).then((c) => announce(c)),
        "the second certificate is not served yet",
      );
      await certs.swap();
      shoal.child.kill("SIGUSR1");
      await shoal.waitFor(/TLS certificate reloaded/, 10000);
      assert.equal((await announce(before)).status, 200, "the open connection survived");
      const after = await HttpClient.connect("127.0.0.1", l.port, secondCa);
      open.push(after);
      assert.equal((await announce(after)).status, 200);
    } finally {
      open.forEach((c) => c.close());
      assert.equal(await shoal.stop(), 0, shoal.output.join("\n"));
      await certs.remove();
    }
  },
);

processTest(
  "http behind a proxy: the client IP comes from the header on the proxy's connections only",
  async () => {
    // The "proxy" is this test, on ::1; 127.0.0.1 is an untrusted client.
    const shoal = await startShoalWith("http", {
      network: {
        address_ipv6: "[::1]:0",
        runs_behind_reverse_proxy: true,
        reverse_proxy_addresses: "::1",
      },
    }, 2);
    const v4 = shoal.listening.find((x) => !x.metrics && !x.hostname.includes(":"))!;
    const v6 = shoal.listening.find((x) => !x.metrics && x.hostname.includes(":"))!;
    const open: HttpClient[] = [];
    try {
      const proxy = await HttpClient.connect(v6.hostname, v6.port);
      const direct = await HttpClient.connect(v4.hostname, v4.port);
      open.push(proxy, direct);
      const info = randomId();
      const q = (port: number) =>
        `/announce?${announceQuery({ info_hash: info, peer_id: randomId(), port, left: 0 })}`;
      // Two clients behind the proxy, one IPv4 and one IPv6, as the proxy names them.
      let r = await proxy.get(q(7001), "X-Forwarded-For: 10.9.8.7, 203.0.113.5\r\n");
      assert.equal(r.status, 200);
      r = await proxy.get(q(7002), "X-Forwarded-For: 2001:db8::42\r\n");
      assert.equal(r.status, 200);
      // A direct client's header is not believed: it is 127.0.0.1.
      r = await direct.get(q(7003), "X-Forwarded-For: 198.51.100.1\r\n");
      let d = bdecode(r);
      assert.deepEqual(compactPeers(d.get("peers"), 6), ["203.0.113.5:7001"]);
      r = await proxy.get(q(7004), "X-Forwarded-For: 203.0.113.9\r\n");
      d = bdecode(r);
      assert.deepEqual(
        compactPeers(d.get("peers"), 6).sort(),
        ["127.0.0.1:7003", "203.0.113.5:7001"],
        "the right-most X-Forwarded-For entry, the one the proxy added; never the direct header",
      );
      assert.equal(num(d.get("complete")), 4, "both families counted, and the announcer");
      r = await proxy.get(q(7005), "X-Forwarded-For: 2001:db8::43\r\n");
      assert.deepEqual(compactPeers(bdecode(r).get("peers6"), 18), [
        "[2001:db8:0:0:0:0:0:42]:7002",
      ]);
      // The proxy must say who the client is.
      r = await proxy.get(q(7006));
      assert.match(String(new TextDecoder().decode(r.body)), /proxy sent no client address/);
    } finally {
      open.forEach((c) => c.close());
      assert.equal(await shoal.stop(), 0, shoal.output.join("\n"));
    }
  },
);

processTest(
  "udp + http in one process: peers of either protocol meet; scrape counts both",
  async () => {
    const shoal = await startShoalWith("udp", {
      request_workers: 2,
      network: { use_ipv6: false },
      http: { enabled: true, address: "127.0.0.1:0", use_ipv6: false },
    }, 2);
    const udpAt = shoal.listening.find((l) => l.scheme === "udp")!;
    const httpAt = shoal.listening.find((l) => l.scheme === "http" && !l.metrics)!;
    const u = new UdpClient(udpAt);
    const h = await HttpClient.connect(httpAt.hostname, httpAt.port);
    try {
      const info = randomId();
      const cid = await u.connect();
      await u.announce(cid, { infoHash: info, peerId: randomId(), left: 0n, port: 7100 });
      // The HTTP leecher gets the UDP seeder.
      const d = bdecode(
        await h.get(
          `/announce?${
            announceQuery({ info_hash: info, peer_id: randomId(), port: 7200, left: 5 })
          }`,
        ),
      );
      assert.deepEqual(compactPeers(d.get("peers"), 6), ["127.0.0.1:7100"]);
      assert.equal(num(d.get("complete")), 1);
      // The UDP side sees the HTTP leecher.
      const r = await u.announce(cid, { infoHash: info, peerId: randomId(), left: 5n, port: 7101 });
      assert.ok(r.action === 1);
      assert.deepEqual(r.peers.sort(), ["127.0.0.1:7100", "127.0.0.1:7200"]);
      // Scrape counts both, over either protocol.
      const s = await u.scrape(cid, [info]);
      assert.ok(s.action === 2);
      assert.deepEqual(s.torrents[0], { seeders: 1, completed: 0, leechers: 2 });
      const files = bdecode(await h.get(`/scrape?info_hash=${pct(info)}`)).get("files") as Map<
        string,
        Map<string, BencodeValue>
      >;
      const f = files.get(String.fromCharCode(...info))!;
      assert.deepEqual([num(f.get("complete")), num(f.get("incomplete"))], [1, 2]);
    } finally {
      u.close();
      h.close();
      assert.equal(await shoal.stop(), 0, shoal.output.join("\n"));
    }
  },
);
