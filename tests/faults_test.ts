/**
 * Worker faults: a socket or request worker that throws, or hangs, is replaced while the
 * tracker keeps answering; one that keeps failing stops the process with a reason.
 * Faults are injected with `SHOAL_FAULT` (see `shared/pool.ts`).
 */
import assert from "assert";
import { encodeAnnounceRequest } from "../udp/codec.ts";
import { ROOT, RUN_FLAGS, startShoalWith, testConfig, trackerUrl } from "./helpers/shoal.ts";
import { randomId, UdpClient } from "./helpers/udp_client.ts";
import { bin20, WsClient } from "../harness/ws_client.ts";

/** Two workers of each kind, so that one can fail while the other serves. */
const WORKERS = { socket_workers: 2, request_workers: 2 };
const UDP = { ...WORKERS, network: { use_ipv6: false, io: "ffi" } };

/** `shoal udp` with `UDP`, its workers failing as `fault` (`SHOAL_FAULT`) says. */
const faulty = (fault: string) => startShoalWith("udp", UDP, 1, { env: { SHOAL_FAULT: fault } });

/** Sleeps `ms`. */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Probe {
  /** Longest time any client went without an announce answer, in ms. */
  worstGap: number;
  /** Announces sent and answered. */
  sent: number;
  answered: number;
  /** Each client's info hash (one torrent per client, spread over the request workers). */
  hashes: Uint8Array[];
}

/**
 * Announces from `n` sockets (different source ports, so the kernel spreads them over the
 * socket workers) every `everyMs` for `ms`, and measures the longest silence any one saw.
 */
async function probeUdp(
  target: { hostname: string; port: number },
  n: number,
  ms: number,
  everyMs = 20,
): Promise<Probe> {
  const clients = Array.from({ length: n }, () => new UdpClient(target));
  const cids = await Promise.all(clients.map((c) => c.connect()));
  const hashes = clients.map(() => randomId());
  const start = performance.now();
  let sent = 0, answered = 0;
  const gaps = clients.map(() => 0);
  const last = clients.map(() => start);
  const readers = clients.map(async (c, k) => {
    try {
      for (;;) {
        const [b] = await c.conn.receive();
        if (b.length < 4 || b[3] !== 1) continue; // only announce answers count
        const t = performance.now();
        answered++;
        gaps[k] = Math.max(gaps[k], t - last[k]);
        last[k] = t;
      }
    } catch { /* closed */ }
  });
  const peerIds = clients.map(() => randomId());
  while (performance.now() - start < ms) {
    for (let k = 0; k < n; k++) {
      const c = clients[k];
      const bytes = encodeAnnounceRequest({
        connectionId: cids[k],
        transactionId: c.nextTid(),
        infoHash: hashes[k],
        peerId: peerIds[k],
        left: 0n,
        port: c.port,
      });
      c.conn.send(bytes, c.tracker).catch(() => {});
      sent++;
    }
    await sleep(everyMs);
  }
  await sleep(200);
  const end = performance.now() - 200;
  for (let k = 0; k < n; k++) gaps[k] = Math.max(gaps[k], end - last[k]);
  for (const c of clients) c.close();
  await Promise.all(readers);
  return { worstGap: Math.max(...gaps), sent, answered, hashes };
}

for (const target of ["socket:0", "request:1"]) {
  Deno.test(`udp: a ${target.replace(":", " worker ")} that throws under load is replaced within a second`, async () => {
    const shoal = await faulty(`${target}@1500`);
    try {
      const probe = probeUdp(shoal.listening[0], 16, 4000);
      const [role, index] = target.split(":");
      await shoal.waitFor(new RegExp(`${role} worker ${index} failed: .*injected fault`), 8000);
      await shoal.waitFor(new RegExp(`${role} worker ${index} replaced`), 8000);
      const p = await probe;
      // The worst silence spans the death, the restart and one probe interval.
      assert.ok(p.worstGap < 1000, `a client went ${Math.round(p.worstGap)} ms unanswered`);
      assert.ok(p.answered > p.sent * 0.8, `answered ${p.answered} of ${p.sent}`);
      // Swarms were rebuilt by the announces after the restart: every torrent has its seeder.
      const c = new UdpClient(shoal.listening[0]);
      const cid = await c.connect();
      const s = await c.scrape(cid, p.hashes);
      assert.ok(s.action === 2);
      assert.deepEqual(s.torrents.map((t) => t.seeders), p.hashes.map(() => 1));
      c.close();
      console.log(
        `${target}: worst gap ${Math.round(p.worstGap)} ms, ${p.answered}/${p.sent} answered`,
      );
    } finally {
      assert.equal(await shoal.stop(), 0, shoal.output.join("\n"));
    }
  });
}

Deno.test("udp: a worker stuck in a loop is found by the heartbeat and replaced", async () => {
  const shoal = await faulty("request:0:hang@500");
  try {
    await shoal.waitFor(/request worker 0 stopped responding for \d+ ms; replacing it/, 10000);
    await shoal.waitFor(/request worker 0 replaced/, 8000);
    const p = await probeUdp(shoal.listening[0], 8, 500);
    assert.ok(p.answered > p.sent * 0.8, `answered ${p.answered} of ${p.sent}`);
  } finally {
    assert.equal(await shoal.stop(), 0, shoal.output.join("\n"));
  }
});

for (const target of ["request:1", "socket:0"]) {
  Deno.test(`a worker that fails on every start stops the process with a reason (${target})`, async () => {
    const file = await testConfig(UDP);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...RUN_FLAGS, `${ROOT}main.ts`, "udp", "-c", file],
      env: { SHOAL_FAULT: `${target}:always@100` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, stderr);
    const [role, index] = target.split(":");
    assert.match(
      stderr,
      new RegExp(`${role} worker ${index} failed: .*injected fault.*; replacing`),
    );
    assert.match(stderr, /5 worker failures within a minute, giving up; stopping/);
  });
}

Deno.test("ws: a socket worker that dies takes its peers with it; the others keep serving", async () => {
  const shoal = await startShoalWith("ws", { ...WORKERS, network: { io: "ffi" } }, 1, {
    env: { SHOAL_FAULT: "socket:0@2000" },
  });
  const url = trackerUrl(shoal);
  const info = bin20();
  const announce = (c: WsClient, peerId: string) => {
    c.send({ action: "announce", info_hash: info, peer_id: peerId, left: 0, numwant: 0 });
    return c.next((m) => m.action === "announce" && "interval" in m);
  };
  const clients: WsClient[] = [];
  const peerIds = new Map<WsClient, string>();
  try {
    for (let k = 0; k < 16; k++) {
      const c = await WsClient.connect(url);
      clients.push(c);
      peerIds.set(c, bin20());
    }
    await Promise.all(clients.map((c) => announce(c, peerIds.get(c)!)));
    await shoal.waitFor(/socket worker 0 failed: .*injected fault/, 8000);
    await shoal.waitFor(/socket worker 0 replaced/, 8000);
    // The dead worker's connections were closed; the request workers dropped their peers.
    const alive = (await Promise.all(clients.map(async (c) => {
      const closed = await Promise.race([c.closed.then(() => true), sleep(1000).then(() => false)]);
      return closed ? null : c;
    }))).filter((c): c is WsClient => c !== null);
    assert.ok(alive.length > 0 && alive.length < clients.length, `${alive.length} stayed open`);
    const fresh = await WsClient.connect(url);
    clients.push(fresh);
    fresh.send({ action: "scrape", info_hash: info });
    const s = await fresh.next((m) => m.action === "scrape");
    assert.equal(s.files[info].complete, alive.length, JSON.stringify(s));
    // Survivors and newcomers (on either worker, the new one included) announce as before.
    for (const c of [...alive, fresh]) await announce(c, peerIds.get(c) ?? bin20());
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    assert.equal(await shoal.stop(), 0, shoal.output.join("\n"));
  }
});
