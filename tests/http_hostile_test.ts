/**
 * Hostile HTTP clients against the real `shoal http` while an honest client announces every
 * 50 ms: slow heads (slowloris), idle keep-alive connections, garbage byte streams, deep
 * pipelines (answered whole), a client that never reads its answers, and a connection flood
 * past `max_connections`. Each gets its defined
 * answer, and the honest client is answered throughout. Also the full scrape an operator can
 * turn on.
 */
import assert from "assert";
import { listeningOn, METRICS, metricsOf, processTest, startShoalWith } from "./helpers/shoal.ts";
import { announceQuery, bdecode, HttpClient, pct } from "./helpers/http_client.ts";
import { randomId } from "./helpers/udp_client.ts";
import { MAX_OWED } from "../http/front.ts";
import type { BencodeValue } from "../http/bencode.ts";
import { prng } from "./helpers/prng.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

processTest(
  "http: hostile clients get their answers and an honest one is served throughout",
  async (t) => {
    const shoal = await startShoalWith("http", {
      socket_workers: 1,
      request_workers: 2,
      network: {
        use_ipv6: false,
        request_timeout: 2,
        keep_alive_timeout: 3,
        max_connections: 60,
        max_connections_per_ip: 1000,
        max_outgoing_buffer: 65536,
        allow_full_scrape: true,
      },
    });
    const { hostname, port } = shoal.listening.find((l) => !l.metrics)!;
    const connect = () => HttpClient.connect(hostname, port);
    let running = true, answered = 0, worst = 0;
    const honest = await connect();
    const honestLoop = (async () => {
      const info = randomId(), peer = randomId();
      while (running) {
        const t0 = performance.now();
        const r = await honest.get(
          `/announce?${announceQuery({ info_hash: info, peer_id: peer, port: 6000, left: 0 })}`,
        );
        assert.equal(r.status, 200);
        worst = Math.max(worst, performance.now() - t0);
        answered++;
        await sleep(50);
      }
    })();
    const open: HttpClient[] = [];
    try {
      await t.step("a head sent a byte at a time is cut off at request_timeout (2 s)", async () => {
        const c = await connect();
        open.push(c);
        const head = "GET /announce?info_hash=" + "a".repeat(200);
        let closed = false;
        const dribble = (async () => {
          for (const ch of head) {
            if (closed) return;
            await c.write(ch).catch(() => (closed = true));
            await sleep(40);
          }
        })();
        const t0 = performance.now();
        closed = await c.closedWithin(8000);
        const took = performance.now() - t0;
        await dribble;
        assert.ok(closed, "the slow client was closed");
        assert.ok(took >= 1500, `closed after ${Math.round(took)} ms, before its time`);
      });

      await t.step(
        "an idle keep-alive connection is closed at keep_alive_timeout (3 s)",
        async () => {
          const c = await connect();
          open.push(c);
          assert.equal((await c.get(`/scrape?info_hash=${pct(randomId())}`)).status, 200);
          assert.ok(await c.closedWithin(8000), "idle connection closed");
        },
      );

      await t.step("garbage byte streams get 400 or are closed, never a crash", async () => {
        const next = prng(20261202).next;
        for (let k = 0; k < 40; k++) {
          const c = await connect();
          const junk = new Uint8Array(1 + (next() % 3000));
          for (let i = 0; i < junk.length; i++) junk[i] = next() & 0xff;
          await c.write(junk).catch(() => {});
          await c.write("\r\n\r\n").catch(() => {});
          const r = await c.read(3000).catch(() => null);
          if (r !== null) assert.ok(r.status >= 400 && r.status < 600, `status ${r.status}`);
          c.close();
        }
      });

      await t.step(
        `a pipeline of ${3 * MAX_OWED} requests is answered whole, in order`,
        async () => {
          const c = await connect();
          open.push(c);
          const n = 3 * MAX_OWED;
          const ports = Array.from({ length: n }, (_, k) => 1000 + k);
          await c.write(
            ports.map((p) =>
              `GET /announce?${
                announceQuery({ info_hash: randomId(), peer_id: randomId(), port: p, left: 0 })
              }&numwant=0 HTTP/1.1\r\n\r\n`
            ).join(""),
          );
          for (let k = 0; k < n; k++) {
            const d = bdecode(await c.read(5000));
            assert.ok(d.has("interval") && !d.has("failure reason"), `answer ${k}`);
          }
        },
      );

      await t.step(
        "a client that pipelines and never reads is closed once max_outgoing_buffer waits",
        async () => {
          const c = await connect();
          open.push(c);
          // 404s are answered at once: ~150 bytes each, far more than the kernel's buffers
          // and 64 KiB hold.
          const burst = "GET /x HTTP/1.1\r\n\r\n".repeat(10_000);
          let refused = false;
          for (let k = 0; k < 40 && !refused; k++) {
            await c.write(burst).catch(() => (refused = true));
          }
          await sleep(200);
          let got = 0;
          while (await c.read(2000).then(() => true, () => false)) got++;
          assert.ok(got < 400_000, `${got} answered of 400000: the reader was not closed`);
          assert.ok(await c.closedWithin(1000), "closed");
        },
      );

      await t.step(
        "a flood past max_connections (60) is closed at once; room comes back",
        async () => {
          const flood = await Promise.all(Array.from({ length: 100 }, connect));
          const q = `/scrape?info_hash=${pct(randomId())}`;
          const ok = await Promise.all(flood.map((c) => c.get(q).then(() => true, () => false)));
          const served = ok.filter((x) => x).length;
          assert.ok(served <= 60, `${served} served over a limit of 60`);
          assert.ok(served >= 30, `only ${served} served`);
          for (const c of flood) c.close();
          await sleep(300);
          const again = await connect();
          open.push(again);
          assert.equal((await again.get(q)).status, 200, "served again once the flood left");
        },
      );

      await t.step("a full scrape, when the operator allows it, lists every torrent", async () => {
        const c = await connect();
        open.push(c);
        const hashes = Array.from({ length: 25 }, () => randomId());
        for (const h of hashes) {
          await c.get(
            `/announce?${announceQuery({ info_hash: h, peer_id: randomId(), port: 2, left: 0 })}`,
          );
        }
        const files = bdecode(await c.get("/scrape")).get("files") as Map<string, BencodeValue>;
        for (const h of hashes) assert.ok(files.has(String.fromCharCode(...h)), "listed");
        assert.ok(files.size >= 26, `${files.size} torrents`); // and the honest client's
      });
    } finally {
      running = false;
      await honestLoop;
      honest.close();
      for (const c of open) c.close();
      assert.equal(await shoal.stop(), 0, shoal.output.join("\n"));
    }
    assert.ok(answered > 50, `honest client answered ${answered} times`);
    assert.ok(worst < 5000, `honest client waited up to ${Math.round(worst)} ms`);
    console.log(`honest client: ${answered} announces, worst reply ${Math.round(worst)} ms`);
  },
);

processTest(
  "http (epoll): a client that connects and says nothing is not accepted until it speaks",
  async () => {
    const shoal = await startShoalWith("http", {
      network: { use_ipv6: false, io: "ffi" },
      metrics: METRICS,
    }, 2);
    try {
      const l = listeningOn(shoal, 4);
      const accepted = async () =>
        [...(await metricsOf(shoal)).entries()]
          .filter(([k]) => k.startsWith("shoal_http_connections_accepted_total"))
          .reduce((n, [, v]) => n + v, 0);
      const before = await accepted();
      const silent = await Deno.connect({ hostname: l.hostname, port: l.port });
      await new Promise((r) => setTimeout(r, 300));
      // The kernel holds it (TCP_DEFER_ACCEPT): no descriptor, no engine in shoal yet.
      assert.equal(await accepted(), before, "a silent connection was accepted");
      const c = HttpClient.wrap(silent);
      const r = await c.get("/scrape?info_hash=aaaaaaaaaaaaaaaaaaaa", "Connection: close\r\n");
      assert.equal(r.status, 200, "its request, when it comes, is answered at once");
      assert.equal(await accepted(), before + 1);
      c.close();
    } finally {
      await shoal.stop();
    }
  },
);
