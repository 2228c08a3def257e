/**
 * `shoal udp` as a real process over real UDP sockets, on IPv4 and IPv6, with both I/O
 * backends and several socket and request workers.
 */
import assert from "assert";
import { listeningOn as addressFor, processTest, startShoalWith } from "./helpers/shoal.ts";
import { randomId, UdpClient } from "./helpers/udp_client.ts";
import { AnnounceEvent, encodeAnnounceRequest, encodeScrapeRequest } from "../udp/codec.ts";

const BACKENDS = [
  { io: "ffi", socketWorkers: 2 },
  { io: "deno", socketWorkers: 1 },
] as const;

const config = (io: string, socketWorkers: number) => ({
  socket_workers: socketWorkers,
  request_workers: 3,
  log_level: "warn",
  network: { address_ipv6: "[::1]:0", io },
  protocol: { peer_announce_interval: 600, max_scrape_torrents: 50, max_response_peers: 40 },
});

for (const { io, socketWorkers } of BACKENDS) {
  processTest(`udp (${io}): BEP 15 over IPv4 and IPv6 against the real process`, async (t) => {
    const shoal = await startShoalWith("udp", config(io, socketWorkers), 2);
    const clients: UdpClient[] = [];
    const client = (family: 4 | 6) => {
      const c = new UdpClient(addressFor(shoal, family));
      clients.push(c);
      return c;
    };
    try {
      for (const family of [4, 6] as const) {
        await t.step(
          `IPv${family}: connect gives a 16-byte response with our transaction id`,
          async () => {
            const c = client(family);
            const cid = await c.connect();
            assert.equal(cid.length, 8);
          },
        );

        await t.step(`IPv${family}: two peers find each other; counts include self`, async () => {
          const a = client(family), b = client(family);
          const info = randomId();
          const ca = await a.connect(), cb = await b.connect();
          let r = await a.announce(ca, { infoHash: info, peerId: randomId(), left: 0n });
          assert.ok(r.action === 1);
          assert.equal(r.interval, 600);
          // A lone seeder is told of itself, as a scrape would count it; never listed.
          assert.deepEqual([r.seeders, r.leechers, r.peers.length], [1, 0, 0]);
          r = await b.announce(cb, { infoHash: info, peerId: randomId(), left: 5n });
          assert.ok(r.action === 1);
          assert.deepEqual([r.seeders, r.leechers], [1, 1]);
          const host = family === 4 ? "127.0.0.1" : "[0:0:0:0:0:0:0:1]";
          assert.deepEqual(r.peers, [`${host}:${a.port}`]);
        });

        await t.step(
          `IPv${family}: stopped removes, completed is counted, scrape agrees`,
          async () => {
            const info = randomId();
            const peers = [client(family), client(family), client(family)];
            const ids = peers.map(() => randomId());
            const cids = await Promise.all(peers.map((p) => p.connect()));
            for (let i = 0; i < 3; i++) {
              await peers[i].announce(cids[i], { infoHash: info, peerId: ids[i], left: 10n });
            }
            await peers[0].announce(cids[0], {
              infoHash: info,
              peerId: ids[0],
              left: 0n,
              event: AnnounceEvent.Completed,
            });
            const r = await peers[1].announce(cids[1], {
              infoHash: info,
              peerId: ids[1],
              left: 10n,
              event: AnnounceEvent.Stopped,
            });
            assert.ok(r.action === 1);
            assert.deepEqual([r.seeders, r.leechers], [1, 1]);
            const s = await peers[2].scrape(cids[2], [info, randomId()]);
            assert.ok(s.action === 2);
            assert.deepEqual(s.torrents, [
              { seeders: 1, completed: 1, leechers: 1 },
              { seeders: 0, completed: 0, leechers: 0 },
            ]);
          },
        );

        await t.step(`IPv${family}: scrape of many torrents across request workers`, async () => {
          const c = client(family);
          const cid = await c.connect();
          const hashes = Array.from({ length: 60 }, () => randomId());
          for (let i = 0; i < 30; i++) {
            await c.announce(cid, {
              infoHash: hashes[i],
              peerId: randomId(),
              left: BigInt(i % 2),
            });
          }
          const s = await c.scrape(cid, hashes);
          assert.ok(s.action === 2);
          assert.equal(s.torrents.length, 50, "cut at max_scrape_torrents");
          s.torrents.forEach((e, i) => {
            const want = i >= 30
              ? { seeders: 0, completed: 0, leechers: 0 }
              : { seeders: i % 2 ? 0 : 1, completed: 0, leechers: i % 2 };
            assert.deepEqual(e, want, `hash ${i}`);
          });
        });

        await t.step(
          `IPv${family}: numwant and max_response_peers bound the peer list`,
          async () => {
            const info = randomId();
            const peers = Array.from({ length: 45 }, () => client(family));
            const cids = await Promise.all(peers.map((p) => p.connect()));
            await Promise.all(
              peers.map((p, i) =>
                p.announce(cids[i], { infoHash: info, peerId: randomId(), left: 1n })
              ),
            );
            const me = client(family);
            const cid = await me.connect();
            const r = await me.announce(cid, { infoHash: info, peerId: randomId(), numWant: 7 });
            assert.ok(r.action === 1 && r.peers.length === 7);
            const all = await me.announce(cid, {
              infoHash: info,
              peerId: randomId(),
              numWant: -1,
            });
            assert.ok(all.action === 1 && all.peers.length === 40);
            assert.equal(new Set(all.peers).size, 40);
          },
        );

        await t.step(
          `IPv${family}: no answer without a valid connection ID (no amplification)`,
          async () => {
            const c = client(family);
            const other = client(family);
            const theirs = await other.connect();
            const forged = crypto.getRandomValues(new Uint8Array(8));
            const requests = [
              encodeAnnounceRequest({
                connectionId: forged,
                transactionId: 1,
                infoHash: randomId(),
                peerId: randomId(),
                left: 0n,
                port: 1,
              }),
              encodeScrapeRequest(forged, 2, Array.from({ length: 10 }, randomId)),
              encodeScrapeRequest(new Uint8Array(8), 3, [randomId()]),
              new Uint8Array(16), // connect without the magic
              new Uint8Array(15),
            ];
            for (const req of requests) {
              const reply = await c.raw(req, 300);
              assert.equal(reply, null, `answered ${req.length}-byte request`);
            }
            // Another address's ID is refused when the IP differs; on loopback all sockets share
            // one IP, so the ID of another socket on the same host is (by design) accepted.
            const reply = await c.raw(encodeScrapeRequest(theirs, 4, [randomId()]), 1000);
            assert.ok(reply !== null && reply.length === 20);
          },
        );

        await t.step(
          `IPv${family}: malformed requests with a valid ID get error responses`,
          async () => {
            const c = client(family);
            const cid = await c.connect();
            const base = {
              connectionId: cid,
              infoHash: randomId(),
              peerId: randomId(),
              left: 0n,
            };
            const cases: [Uint8Array, number, string][] = [
              [encodeAnnounceRequest({ ...base, transactionId: 11, port: 0 }), 11, "port 0"],
              [
                encodeAnnounceRequest({ ...base, transactionId: 12, port: 1, event: 7 }),
                12,
                "unknown event",
              ],
              [
                encodeAnnounceRequest({ ...base, transactionId: 13, port: 1 }).subarray(0, 90),
                13,
                "too short",
              ],
              [encodeScrapeRequest(cid, 14, []), 14, "no info hash"],
            ];
            for (const [bytes, tid, text] of cases) {
              const r = await c.request(bytes, tid);
              assert.ok(r.action === 3, `expected an error for ${text}`);
              assert.match(r.message, new RegExp(text));
            }
            // BEP 41 options after an announce are tolerated.
            const withOptions = encodeAnnounceRequest({
              ...base,
              transactionId: 15,
              port: 1,
              options: new Uint8Array([2, 9, ...new TextEncoder().encode("/announce"), 1, 0]),
            });
            const ok = await c.request(withOptions, 15);
            assert.equal(ok.action, 1);
          },
        );
      }

      await t.step("families do not see each other's peers", async () => {
        const info = randomId();
        const v4 = client(4), v6 = client(6), v6b = client(6);
        const [c4, c6, c6b] = await Promise.all([v4.connect(), v6.connect(), v6b.connect()]);
        await v4.announce(c4, { infoHash: info, peerId: randomId(), left: 0n });
        await v6.announce(c6, { infoHash: info, peerId: randomId(), left: 0n });
        const r = await v6b.announce(c6b, { infoHash: info, peerId: randomId(), left: 3n });
        assert.ok(r.action === 1);
        assert.deepEqual(r.peers, [`[0:0:0:0:0:0:0:1]:${v6.port}`]);
        assert.equal(r.seeders, 2, "counts cover both families");
      });

      await t.step("many concurrent clients all get answers", async () => {
        const many = Array.from({ length: 64 }, (_, i) => client(i % 2 ? 6 : 4));
        const info = randomId();
        const results = await Promise.all(many.map(async (c) => {
          const cid = await c.connect();
          return await c.announce(cid, { infoHash: info, peerId: randomId(), left: 1n });
        }));
        assert.equal(results.filter((r) => r.action === 1).length, 64);
      });
    } finally {
      for (const c of clients) c.close();
      const code = await shoal.stop();
      assert.equal(code, 0, `exit code; output:\n${shoal.output.join("\n")}`);
    }
  });
}
