/**
 * `single_thread`: the socket worker and the request worker in one thread
 * (`shared/runtime/shared_thread.ts`), through the real program: every protocol answers,
 * statistics and the state file see both roles, a key the admin API just created is honoured
 * at once, a thread that fails is replaced whole; `auto` (the default) takes one thread only
 * where it can, and `on` where it cannot is refused with one line.
 */
import assert from "assert";
import { AnnounceEvent } from "../udp/codec.ts";
import {
  assertRefused,
  listeningOn,
  METRICS,
  metricsText,
  processTest,
  type RunningShoal,
  runWithConfig,
  startShoalWith,
} from "./helpers/shoal.ts";
import { randomId, UdpClient } from "./helpers/udp_client.ts";
import { announceQuery, bdecode, HttpClient } from "./helpers/http_client.ts";
import { createKey, eventually, sqliteUrl, startPrivate } from "./helpers/private.ts";
import { bin20, WsClient } from "../harness/ws_client.ts";

const ONE = { single_thread: "on" };

/** The names of process `pid`'s threads (through `cat`: Deno opens `/proc` only with all access). */
async function threadNames(pid: number): Promise<string[]> {
  const out = await new Deno.Command("sh", {
    args: ["-c", `cat /proc/${pid}/task/*/comm`],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout).trim().split("\n");
}

processTest(
  "single thread: udp answers, counts, and keeps its swarms across a restart",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "shoal-single-" });
    const parts = {
      ...ONE,
      network: { use_ipv6: false, io: "ffi" },
      state: { path: `${dir}/swarms.state` },
      metrics: METRICS,
    };
    let shoal = await startShoalWith("udp", parts, 2);
    const hashes = Array.from({ length: 12 }, () => randomId());
    try {
      await shoal.waitFor(/both in one thread \(single_thread\)/);
      // One worker thread in the process (Deno names them `worker-N`), where two serve otherwise.
      const comms = await threadNames(shoal.child.pid);
      assert.equal(comms.filter((c) => c.startsWith("worker-")).length, 1, comms.join(", "));
      const c = new UdpClient(shoal.listening[0]);
      const cid = await c.connect();
      for (const [k, h] of hashes.entries()) {
        for (let p = 0; p <= k % 3; p++) {
          const r = await c.announce(cid, {
            infoHash: h,
            peerId: randomId(),
            left: p === 0 ? 0n : 100n,
            port: 20000 + p,
            event: p === 0 ? AnnounceEvent.Completed : AnnounceEvent.Started,
          });
          assert.equal(r.action, 1);
          // The peers announced before this one come back (one thread: no lost answers).
          if (r.action === 1) assert.equal(r.peers.length, p);
        }
      }
      const s = await c.scrape(cid, hashes);
      c.close();
      assert.ok(s.action === 2);
      assert.deepEqual(s.torrents.map((t) => t.seeders), hashes.map(() => 1));
      assert.deepEqual(s.torrents.map((t) => t.leechers), hashes.map((_, k) => k % 3));
      assert.deepEqual(s.torrents.map((t) => t.completed), hashes.map(() => 1));
      // Both roles answer the statistics: the socket side's requests and the swarms' peers.
      const m = await metricsText(shoal);
      assert.match(m, /^shoal_peers\{kind="seeder",worker="0"\} 12$/m);
      assert.match(m, /^shoal_peers\{kind="leecher",worker="0"\} 12$/m);
      assert.match(
        m,
        /^shoal_udp_requests_total\{type="announce",ip_version="4",worker="0"\} 24$/m,
      );
      // One series per name and labels: the thread's heap is reported once, not once per role.
      const series = m.split("\n").filter((l) => l !== "" && !l.startsWith("#"))
        .map((l) => l.slice(0, l.lastIndexOf(" ")));
      assert.deepEqual(series.filter((x, k) => series.indexOf(x) !== k), []);
      assert.match(m, /^shoal_heap_bytes\{thread="request worker 0",kind="heap"\} \d+$/m);
    } finally {
      assert.equal(await shoal.stop(), 0, shoal.output.join("\n"));
    }
    assert.ok(shoal.output.some((l) => /state saved to/.test(l)), shoal.output.join("\n"));
    shoal = await startShoalWith("udp", parts, 2);
    try {
      await shoal.waitFor(/loaded 12 torrents, \d+ live peers from the state file/);
      const c = new UdpClient(shoal.listening[0]);
      const s = await c.scrape(await c.connect(), hashes);
      c.close();
      assert.ok(s.action === 2);
      assert.deepEqual(s.torrents.map((t) => t.seeders), hashes.map(() => 1));
      assert.deepEqual(s.torrents.map((t) => t.completed), hashes.map(() => 1));
    } finally {
      assert.equal(await shoal.stop(), 0, shoal.output.join("\n"));
      await Deno.remove(dir, { recursive: true });
    }
  },
);

/** Three peers announce to one torrent of `http`; each gets the ones before it. Stops it. */
async function httpPeers(http: RunningShoal): Promise<void> {
  try {
    const l = listeningOn(http, 4);
    const hash = randomId();
    const c = await HttpClient.connect(l.hostname, l.port);
    try {
      for (let p = 0; p < 3; p++) {
        const q = announceQuery({ info_hash: hash, peer_id: randomId(), port: 7000 + p, left: 5 });
        const r = bdecode(await c.get(`/announce?${q}&compact=1`)) as Map<string, unknown>;
        assert.equal((r.get("peers") as Uint8Array).length, 6 * p);
        assert.equal(Number(r.get("incomplete")), p + 1);
      }
    } finally {
      c.close();
    }
  } finally {
    assert.equal(await http.stop(), 0, http.output.join("\n"));
  }
}

processTest(
  "single thread: http (both transports) and ws answer with their swarms' peers",
  async () => {
    for (const io of ["ffi", "deno"]) {
      const http = await startShoalWith("http", {
        ...ONE,
        network: { address: "127.0.0.1:0", use_ipv6: false, io },
      });
      await httpPeers(http);
    }

    const ws = await startShoalWith("ws", { ...ONE, network: { address: "127.0.0.1:0" } });
    const url = `ws://127.0.0.1:${ws.listening[0].port}`;
    const a = await WsClient.connect(url), b = await WsClient.connect(url);
    try {
      const info_hash = bin20(), seeder = bin20();
      a.send({ action: "announce", info_hash, peer_id: seeder, numwant: 0, left: 0 });
      await a.next((m) => m.action === "announce" && m.interval !== undefined);
      b.send({
        action: "announce",
        info_hash,
        peer_id: bin20(),
        numwant: 1,
        left: 10,
        offers: [{ offer_id: bin20(), offer: { type: "offer", sdp: "v=0 one thread" } }],
      });
      const got = await b.next((m) => m.action === "announce" && m.interval !== undefined);
      assert.equal(got.complete, 1);
      const offer = await a.next((m) => m.offer !== undefined);
      assert.equal((offer.offer as { sdp: string }).sdp, "v=0 one thread");
    } finally {
      a.close();
      b.close();
      assert.equal(await ws.stop(), 0, ws.output.join("\n"));
    }
  },
);

processTest(
  "single thread: a key the admin API just created is honoured by the next announce",
  async () => {
    const p = await startPrivate("http", await sqliteUrl(), {
      ...ONE,
      network: { address: "127.0.0.1:0", use_ipv6: false },
    });
    try {
      const l = listeningOn(p.shoal, 4);
      for (let k = 0; k < 5; k++) {
        const key = `one-thread-key-${k}-0123456789`;
        await createKey(p, key);
        const c = await HttpClient.connect(l.hostname, l.port);
        try {
          const peer = { info_hash: randomId(), peer_id: randomId(), port: 6881, left: 1 };
          const q = announceQuery({ ...peer, event: "started", uploaded: 0 });
          const r = bdecode(await c.get(`/${key}/announce?${q}`)) as Map<string, unknown>;
          assert.equal(r.get("failure reason"), undefined, `key ${k}: refused`);
          assert.equal(Number(r.get("incomplete")), 1);
          // The accounting reaches the main thread from the one thread too.
          await c.get(`/${key}/announce?${announceQuery({ ...peer, uploaded: 1000 * (k + 1) })}`);
          const counted = await eventually(async () => {
            const info = await p.call("GET", `/api/v1/keys/${key}`);
            return info.json?.uploaded === 1000 * (k + 1);
          }, 5000);
          assert.ok(counted, `key ${k}: uploaded not counted`);
        } finally {
          c.close();
        }
      }
    } finally {
      assert.equal(await p.shoal.stop(), 0, p.shoal.output.join("\n"));
    }
  },
);

processTest("single thread: a thread that throws is replaced whole and answers again", async () => {
  const shoal = await startShoalWith(
    "udp",
    { ...ONE, network: { use_ipv6: false, io: "ffi" } },
    1,
    { env: { SHOAL_FAULT: "request:0@800" } },
  );
  try {
    await shoal.waitFor(/request worker 0 failed: .*injected fault/, 8000);
    await shoal.waitFor(/request worker 0 replaced/, 8000);
    await shoal.waitFor(/socket worker 0 replaced/, 8000);
    const c = new UdpClient(shoal.listening[0]);
    const h = randomId();
    const cid = await c.connect();
    await c.announce(cid, { infoHash: h, peerId: randomId(), left: 0n });
    const r = await c.announce(cid, { infoHash: h, peerId: randomId(), left: 9n, port: 9999 });
    c.close();
    assert.ok(r.action === 1);
    assert.equal(r.peers.length, 1);
  } finally {
    assert.equal(await shoal.stop(), 0, shoal.output.join("\n"));
  }
});

processTest(
  "single thread: on where it can be (auto), refused with one line where it cannot be (on)",
  async () => {
    // auto, the default: one thread for one socket worker and one request worker; two otherwise.
    for (const [parts, workers] of [[{}, 1], [{ request_workers: 2 }, 3]] as const) {
      const s = await startShoalWith("udp", { network: { use_ipv6: false, io: "ffi" }, ...parts });
      try {
        const comms = await threadNames(s.child.pid);
        assert.equal(
          comms.filter((c) => c.startsWith("worker-")).length,
          workers,
          comms.join(", "),
        );
        assert.equal(s.output.some((l) => /both in one thread/.test(l)), workers === 1);
      } finally {
        assert.equal(await s.stop(), 0, s.output.join("\n"));
      }
    }
    const needs = /single_thread = "on" needs socket_workers = 1, request_workers = 1/;
    assertRefused(await runWithConfig("udp", { ...ONE, request_workers: 2 }), needs);
    assertRefused(await runWithConfig("http", { ...ONE, socket_workers: 2 }), needs);
    assertRefused(
      await runWithConfig("udp", { ...ONE, http: { enabled: true, address: "127.0.0.1:0" } }),
      /single_thread = "on" needs .*; this configuration has udp and http in one process/,
    );
    assertRefused(
      await runWithConfig("udp", { single_thread: "yes" }),
      /single_thread/,
    );
  },
);
