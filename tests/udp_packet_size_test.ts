/**
 * With the default `[protocol]` settings every UDP reply fits one packet at the IPv6 minimum
 * MTU (at most 1,220 bytes of payload), on IPv4 and IPv6, whatever `numwant` asks; and a scrape
 * longer than the receive buffer still gets its first hashes answered. Both I/O backends.
 */
import assert from "assert";
import { listeningOn, processTest, startShoalWith } from "./helpers/shoal.ts";
import { randomId, UdpClient } from "./helpers/udp_client.ts";
import { decodeResponse, encodeAnnounceRequest, encodeScrapeRequest } from "../udp/codec.ts";

/** Payload that fits 1280 bytes of IPv6 MTU with a 40-byte IPv6 and an 8-byte UDP header. */
const MAX_PAYLOAD = 1220;

for (const io of ["ffi", "deno"]) {
  processTest(
    `udp (${io}): with the defaults no reply is larger than ${MAX_PAYLOAD} bytes`,
    async (t) => {
      const shoal = await startShoalWith("udp", {
        log_level: "warn",
        network: { address_ipv6: "[::1]:0", io },
      }, 2);
      const clients: UdpClient[] = [];
      try {
        for (const family of [4, 6] as const) {
          const c = new UdpClient(listeningOn(shoal, family));
          clients.push(c);
          const cid = await c.connect();
          const info = randomId();
          // 300 peers: a peer is its address, so one socket announcing 300 ports is 300 peers.
          for (let i = 0; i < 300; i++) {
            await c.announce(cid, { infoHash: info, peerId: randomId(), port: 10000 + i });
          }
          const cap = family === 4 ? 200 : 66;
          await t.step(`IPv${family}: announces carry at most ${cap} peers`, async () => {
            for (const numWant of [-1, 0, 50, 200, 255, 1000, 2147483647]) {
              const tid = c.nextTid();
              const raw = await c.raw(
                encodeAnnounceRequest({
                  connectionId: cid,
                  transactionId: tid,
                  infoHash: info,
                  peerId: randomId(),
                  left: 1n,
                  port: 9999,
                  numWant,
                }),
              );
              assert.ok(raw !== null, `no reply to numwant ${numWant}`);
              assert.ok(raw.length <= MAX_PAYLOAD, `${raw.length} bytes for numwant ${numWant}`);
              const r = decodeResponse(raw, family === 6);
              assert.ok(r.action === 1);
              const want = numWant > 0 && numWant < cap ? numWant : cap;
              assert.equal(r.peers.length, want, `peers for numwant ${numWant}`);
            }
          });
          await t.step(`IPv${family}: scrapes answer at most 74 hashes`, async () => {
            for (const n of [74, 75, 100, 400]) {
              const hashes = [info, ...Array.from({ length: n - 1 }, randomId)];
              const raw = await c.raw(encodeScrapeRequest(cid, 7, hashes));
              assert.ok(raw !== null, `no reply to a scrape of ${n}`);
              assert.ok(raw.length <= MAX_PAYLOAD, `${raw.length} bytes for ${n} hashes`);
              const r = decodeResponse(raw, family === 6);
              assert.ok(r.action === 2);
              assert.equal(r.torrents.length, 74);
              assert.deepEqual(
                r.torrents[0],
                { seeders: 300, completed: 0, leechers: 1 },
                "the first hash",
              );
            }
          });
          await t.step(
            `IPv${family}: a scrape longer than the receive buffer gets its first hashes`,
            async () => {
              // 3,000 hashes: a 60,016-byte datagram, far over the 8,192-byte receive slot.
              const hashes = [info, ...Array.from({ length: 2999 }, randomId)];
              const bytes = encodeScrapeRequest(cid, 8, hashes);
              assert.equal(bytes.length, 60016);
              const raw = await c.raw(bytes);
              assert.ok(raw !== null, "a long scrape was dropped");
              const r = decodeResponse(raw, family === 6);
              assert.ok(r.action === 2 && r.transactionId === 8);
              assert.equal(r.torrents.length, 74);
              assert.deepEqual(r.torrents[0], { seeders: 300, completed: 0, leechers: 1 });
            },
          );
          await t.step(`IPv${family}: error replies fit too`, async () => {
            const raw = await c.raw(
              encodeAnnounceRequest({
                connectionId: cid,
                transactionId: 9,
                infoHash: info,
                peerId: randomId(),
                left: 1n,
                port: 1,
                event: 9,
              }),
            );
            assert.ok(raw !== null && raw.length <= MAX_PAYLOAD);
            assert.equal(decodeResponse(raw, family === 6).action, 3);
          });
        }
      } finally {
        for (const c of clients) c.close();
        assert.equal(await shoal.stop(), 0, shoal.output.join("\n"));
      }
    },
  );
}
