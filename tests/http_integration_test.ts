/**
 * `shoal http` as a real process over real TCP, IPv4 and IPv6, both transports, several socket
 * and request workers: announces and scrapes (compact, `compact=0`, `no_peer_id`), failure
 * reasons, keep-alive with pipelining answered in order, HTTP/1.0 and `Connection: close`,
 * `HEAD`, bad requests, oversized heads, and connection limits.
 */
import assert from "assert";
import { listeningOn as tracker, processTest, startShoalWith } from "./helpers/shoal.ts";
import {
  announceQuery,
  bdecode,
  compactPeers,
  HttpClient,
  pct,
  text,
} from "./helpers/http_client.ts";
import { randomId } from "./helpers/udp_client.ts";
import type { BencodeValue } from "../http/bencode.ts";

const config = (io: string) => ({
  socket_workers: 2,
  request_workers: 3,
  log_level: "warn",
  network: {
    address_ipv6: "[::1]:0",
    io,
    min_announce_interval: 60,
    max_connections_per_ip: 40,
  },
  protocol: { peer_announce_interval: 600, max_scrape_torrents: 50 },
});

const num = (v: BencodeValue | undefined) => Number(v);

for (const io of ["ffi", "deno"]) {
  processTest(
    `http (${io}): announce, scrape, keep-alive and refusals against the real process`,
    async (t) => {
      const shoal = await startShoalWith("http", config(io), 2);
      const open: HttpClient[] = [];
      const client = async (family: 4 | 6) => {
        const l = tracker(shoal, family);
        const c = await HttpClient.connect(l.hostname, l.port);
        open.push(c);
        return c;
      };
      try {
        for (const family of [4, 6] as const) {
          const host = family === 4 ? "127.0.0.1" : "[0:0:0:0:0:0:0:1]";
          const size = family === 4 ? 6 : 18;
          const peersKey = family === 4 ? "peers" : "peers6";

          await t.step(`IPv${family}: two peers find each other; counts include self`, async () => {
            const c = await client(family);
            const info = randomId();
            let r = await c.get(
              `/announce?${
                announceQuery({ info_hash: info, peer_id: randomId(), port: 7001, left: 0 })
              }`,
            );
            assert.equal(r.status, 200);
            assert.equal(r.headers.get("content-type"), "text/plain");
            let d = bdecode(r);
            // A lone seeder is told of itself, as a scrape would count it; never listed.
            assert.deepEqual(
              [num(d.get("complete")), num(d.get("incomplete")), num(d.get("interval"))],
              [1, 0, 600],
            );
            assert.deepEqual(compactPeers(d.get(peersKey), size), []);
            assert.equal(num(d.get("min interval")), 60);
            r = await c.get(
              `/announce?${
                announceQuery({ info_hash: info, peer_id: randomId(), port: 7002, left: 5 })
              }`,
            );
            d = bdecode(r);
            assert.deepEqual([num(d.get("complete")), num(d.get("incomplete"))], [1, 1]);
            assert.deepEqual(compactPeers(d.get(peersKey), size), [`${host}:7001`]);
          });

          await t.step(
            `IPv${family}: compact=0 lists ip, peer id and port; no_peer_id drops ids`,
            async () => {
              const c = await client(family);
              const info = randomId(), seeder = randomId();
              await c.get(
                `/announce?${
                  announceQuery({ info_hash: info, peer_id: seeder, port: 7101, left: 0 })
                }`,
              );
              const r = await c.get(
                `/announce?${
                  announceQuery({
                    info_hash: info,
                    peer_id: randomId(),
                    port: 7102,
                    left: 9,
                    compact: 0,
                  })
                }`,
              );
              const peers = bdecode(r).get("peers") as Map<string, BencodeValue>[];
              assert.equal(peers.length, 1);
              assert.equal(text(peers[0].get("ip")), family === 4 ? "127.0.0.1" : "::1");
              assert.equal(num(peers[0].get("port")), 7101);
              assert.deepEqual(peers[0].get("peer id"), seeder);
              const r2 = await c.get(
                `/announce?${
                  announceQuery({
                    info_hash: info,
                    peer_id: randomId(),
                    port: 7103,
                    left: 9,
                    compact: 0,
                    no_peer_id: 1,
                  })
                }`,
              );
              const p2 = bdecode(r2).get("peers") as Map<string, BencodeValue>[];
              assert.ok(p2.length >= 1 && p2.every((p) => !p.has("peer id")));
            },
          );

          await t.step(`IPv${family}: numwant, stopped, completed; scrape agrees`, async () => {
            const c = await client(family);
            const info = randomId();
            for (let i = 0; i < 30; i++) {
              await c.get(
                `/announce?${
                  announceQuery({ info_hash: info, peer_id: randomId(), port: 8000 + i, left: 3 })
                }`,
              );
            }
            let d = bdecode(
              await c.get(
                `/announce?${
                  announceQuery({
                    info_hash: info,
                    peer_id: randomId(),
                    port: 9000,
                    left: 3,
                    numwant: 7,
                  })
                }`,
              ),
            );
            assert.equal(compactPeers(d.get(peersKey), size).length, 7);
            d = bdecode(
              await c.get(
                `/announce?${
                  announceQuery({ info_hash: info, peer_id: randomId(), port: 9000, left: 3 })
                }`,
              ),
            );
            assert.equal(compactPeers(d.get(peersKey), size).length, 30, "default numwant 50");
            const pid = randomId();
            await c.get(
              `/announce?${
                announceQuery({
                  info_hash: info,
                  peer_id: pid,
                  port: 9001,
                  left: 0,
                  event: "completed",
                })
              }`,
            );
            await c.get(
              `/announce?${
                announceQuery({
                  info_hash: info,
                  peer_id: pid,
                  port: 8000,
                  left: 3,
                  event: "stopped",
                })
              }`,
            );
            const s = bdecode(
              await c.get(`/scrape?info_hash=${pct(info)}&info_hash=${pct(randomId())}`),
            );
            const files = s.get("files") as Map<string, Map<string, BencodeValue>>;
            assert.equal(files.size, 2);
            const mine = files.get(String.fromCharCode(...info))!;
            assert.deepEqual(
              [num(mine.get("complete")), num(mine.get("downloaded")), num(mine.get("incomplete"))],
              [1, 1, 30],
            );
          });
        }

        await t.step("families do not see each other's peers; counts cover both", async () => {
          const info = randomId();
          const v4 = await client(4), v6 = await client(6);
          await v4.get(
            `/announce?${
              announceQuery({ info_hash: info, peer_id: randomId(), port: 6001, left: 0 })
            }`,
          );
          const d = bdecode(
            await v6.get(
              `/announce?${
                announceQuery({ info_hash: info, peer_id: randomId(), port: 6002, left: 1 })
              }`,
            ),
          );
          assert.equal(num(d.get("complete")), 1);
          assert.deepEqual(compactPeers(d.get("peers6"), 18), []);
          assert.deepEqual(compactPeers(d.get("peers"), 6), []);
        });

        await t.step(
          "pipelined requests over several request workers come back in order",
          async () => {
            const c = await client(4);
            const hashes = Array.from({ length: 40 }, () => randomId());
            // Torrent k holds k % 5 seeders, so each answer says which request it is.
            for (const [k, h] of hashes.entries()) {
              for (let j = 0; j < k % 5; j++) {
                await c.get(
                  `/announce?${
                    announceQuery({ info_hash: h, peer_id: randomId(), port: 4000 + j, left: 0 })
                  }`,
                );
              }
            }
            let batch = "";
            for (const [k, h] of hashes.entries()) {
              batch += `GET /announce?${
                announceQuery({
                  info_hash: h,
                  peer_id: randomId(),
                  port: 5000,
                  left: 1,
                  numwant: k,
                })
              } HTTP/1.1\r\nHost: t\r\n\r\n`;
              if (k % 10 === 9) batch += `GET /nowhere HTTP/1.1\r\n\r\n`;
            }
            await c.write(batch);
            for (const [k] of hashes.entries()) {
              const r = await c.read();
              assert.equal(r.status, 200, `response ${k}`);
              assert.equal(num(bdecode(r).get("complete")), k % 5, `answer ${k} in its place`);
              if (k % 10 === 9) assert.equal((await c.read()).status, 404, `404 after ${k}`);
            }
            // Scrapes in the same pipeline, each its own torrent's.
            let scrapes = "";
            for (const h of hashes.slice(0, 10)) {
              scrapes += `GET /scrape?info_hash=${pct(h)} HTTP/1.1\r\n\r\n`;
            }
            await c.write(scrapes);
            for (const h of hashes.slice(0, 10)) {
              const files = bdecode(await c.read()).get("files") as Map<string, unknown>;
              assert.deepEqual([...files.keys()], [String.fromCharCode(...h)]);
            }
          },
        );

        await t.step("every bad parameter gets a failure reason with status 200", async () => {
          const c = await client(4);
          const good = { info_hash: randomId(), peer_id: randomId(), port: 1, left: 0 };
          const cases: [Record<string, string | number | Uint8Array>, RegExp][] = [
            [{ ...good, info_hash: randomId().subarray(0, 19) }, /invalid info_hash/],
            [{ peer_id: good.peer_id, port: 1, left: 0 }, /info_hash/],
            [{ ...good, peer_id: "short" }, /invalid peer_id/],
            [{ ...good, port: 0 }, /port/],
            [{ ...good, port: 70000 }, /port/],
            [{ ...good, event: "begin" }, /invalid event/],
            [{ ...good, numwant: "x" }, /invalid numwant/],
            [{ ...good, left: "x" }, /invalid left/],
          ];
          for (const [q, re] of cases) {
            const r = await c.get(`/announce?${announceQuery(q)}`);
            assert.equal(r.status, 200);
            assert.match(
              text(bdecode(r).get("failure reason")),
              re,
              JSON.stringify(Object.keys(q)),
            );
          }
          const full = await c.get("/scrape");
          assert.match(text(bdecode(full).get("failure reason")), /full scrapes are not allowed/);
        });

        await t.step(
          "HTTP/1.0, Connection: close, HEAD and bad requests get defined answers",
          async () => {
            const q = announceQuery({
              info_hash: randomId(),
              peer_id: randomId(),
              port: 2,
              left: 0,
            });
            let c = await client(4);
            await c.write(`GET /announce?${q} HTTP/1.0\r\n\r\n`);
            let r = await c.read();
            assert.equal(r.status, 200);
            assert.equal(r.headers.get("connection"), "close");
            assert.ok(await c.closedWithin(2000), "HTTP/1.0 without keep-alive closes");
            c = await client(4);
            await c.write(`GET /announce?${q} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n`);
            assert.equal((await c.read()).headers.get("connection"), "keep-alive");
            r = await c.get(`/announce?${q}`, "Connection: close\r\n");
            assert.equal(r.headers.get("connection"), "close");
            assert.ok(await c.closedWithin(2000), "Connection: close closes");
            c = await client(4);
            await c.write(`HEAD /announce?${q} HTTP/1.1\r\n\r\n`);
            r = await c.read(5000, true);
            assert.equal(r.status, 200);
            assert.ok(Number(r.headers.get("content-length")) > 20);
            assert.equal((await c.get(`/announce?${q}`)).status, 200, "HEAD sent no body");
            await c.write(`POST /announce HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc`);
            assert.equal((await c.read()).status, 405);
            c = await client(4);
            await c.write(`GARBAGE\r\n\r\n`);
            assert.equal((await c.read()).status, 400);
            assert.ok(await c.closedWithin(2000));
            c = await client(4);
            await c.write(`GET /${"a".repeat(9000)} HTTP/1.1\r\n\r\n`);
            assert.equal((await c.read()).status, 414);
            c = await client(4);
            await c.write(`GET / HTTP/1.1\r\n${"X-Pad: yes\r\n".repeat(900)}\r\n`);
            assert.equal((await c.read()).status, 431);
          },
        );

        await t.step("connections past max_connections_per_ip are closed at once", async () => {
          for (const c of open.splice(0)) c.close();
          await new Promise((r) => setTimeout(r, 200));
          const l = tracker(shoal, 4);
          const many = await Promise.all(
            Array.from({ length: 100 }, () => HttpClient.connect(l.hostname, l.port)),
          );
          open.push(...many);
          const q = announceQuery({ info_hash: randomId(), peer_id: randomId(), port: 3, left: 0 });
          const answered = await Promise.all(
            many.map((c) => c.get(`/announce?${q}`).then(() => true, () => false)),
          );
          const n = answered.filter((x) => x).length;
          // 40 per IP per socket worker, 2 socket workers: at most 80 of 100.
          assert.ok(n >= 40 && n <= 80, `${n} of 100 served`);
        });
      } finally {
        for (const c of open) c.close();
        assert.equal(await shoal.stop(), 0, shoal.output.join("\n"));
      }
    },
  );
}
