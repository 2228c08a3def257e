/**
 * `deno task soak`: mixed UDP and WebSocket load with churn against a real `shoal udp` and
 * `shoal ws`, for minutes. UDP peers announce (started, updates, stopped, or vanish to be
 * cleaned), scrape and reconnect; WebSocket clients announce with offers, answer the offers
 * they get, scrape, and hang up and reconnect. At the end it checks that every request was
 * answered and that no tracker leaks, and exits 1 saying which check failed.
 *
 * A leak is judged on the trackers' live JavaScript memory: run with `--expose-gc`, every
 * thread collects garbage before it reports its heap and external memory (`shoal_heap_bytes`),
 * so the figure is the data the tracker holds, which a healthy tracker under a steady load
 * keeps level once warm. Resident memory (RSS) is traced too, but not judged in short runs: V8
 * and the allocator grow it in steps that flatten only over minutes. Runs of 10 minutes or more
 * also check that RSS levels off: its peak in the last quarter at most 5% + 8 MiB over its
 * peak in the second quarter.
 *
 * `--seconds N` (default 300); `--warmup F` (fraction of the run, default 0.4).
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  AnnounceEvent,
  encodeAnnounceRequest,
  encodeConnectRequest,
  encodeScrapeRequest,
} from "../udp/codec.ts";
import { rssBytes } from "./procstat.ts";
import { parseMetrics, sumMetric } from "../shared/observe/prometheus.ts";
import { shoalTracker } from "./trackers.ts";
import { bin20, RawWs } from "./ws_client.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rand = (n: number) => Math.floor(Math.random() * n);
const id20 = () => crypto.getRandomValues(new Uint8Array(20));

/** What one protocol's clients did. */
export interface Tally {
  /** Requests sent. */
  sent: number;
  /** Requests answered. */
  answered: number;
  /** Requests with no answer within 5 s. */
  unanswered: number;
  /** Answers that were failures (error responses, failure reasons). */
  failures: number;
}

const tally = (): Tally => ({ sent: 0, answered: 0, unanswered: 0, failures: 0 });

/** One UDP client socket, closed-loop: one request in flight, 5 s to answer. */
export async function udpClient(port: number, hashes: Uint8Array[], until: number, t: Tally) {
  const conn = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const to: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port };
  const myPort = (conn.addr as Deno.NetAddr).port;
  let waiting = null as { tid: number; done: (b: Uint8Array | null) => void } | null;
  const reader = (async () => {
    try {
      for (;;) {
        const [b] = await conn.receive();
        const tid = new DataView(b.buffer, b.byteOffset).getInt32(4);
        if (waiting !== null && waiting.tid === tid) waiting.done(b);
      }
    } catch { /* closed */ }
  })();
  let tid = rand(1e9);
  const ask = async (bytes: Uint8Array): Promise<Uint8Array | null> => {
    t.sent++;
    const reply = new Promise<Uint8Array | null>((done) => {
      waiting = { tid: new DataView(bytes.buffer).getInt32(12), done };
      setTimeout(() => done(null), 5000);
    });
    await conn.send(bytes, to);
    const b = await reply;
    waiting = null;
    if (b === null) t.unanswered++;
    else {
      t.answered++;
      if (b[3] === 3) t.failures++;
    }
    return b;
  };

  // Peer slots: each lives a few announces, then stops (or vanishes), and a new peer comes.
  const slots = Array.from({ length: 200 }, () => ({ peer: id20(), hash: 0, age: 0 }));
  let cid = new Uint8Array(8), step = 0;
  while (Date.now() < until) {
    if (step++ % 500 === 0) {
      const r = await ask(encodeConnectRequest(tid = (tid + 1) | 0));
      if (r !== null && r.length >= 16) cid = r.slice(8, 16);
    }
    if (step % 7 === 0) {
      const some = Array.from({ length: 5 }, () => hashes[rand(hashes.length)]);
      await ask(encodeScrapeRequest(cid, tid = (tid + 1) | 0, some));
    } else {
      const s = slots[step % slots.length];
      if (s.age === 0) s.hash = rand(hashes.length);
      const last = s.age === 5;
      const event = s.age === 0 ? AnnounceEvent.Started : last && step % 3 !== 0 // a third vanish without stopping: cleaning removes them
        ? AnnounceEvent.Stopped
        : AnnounceEvent.None;
      if (!last || event === AnnounceEvent.Stopped) {
        await ask(encodeAnnounceRequest({
          connectionId: cid,
          transactionId: tid = (tid + 1) | 0,
          infoHash: hashes[s.hash],
          peerId: s.peer,
          left: s.age % 2 === 0 ? 0n : 1000n,
          port: myPort,
          event,
          numWant: 20,
        }));
      }
      s.age = last ? 0 : s.age + 1;
      if (last) s.peer = id20();
    }
    await sleep(2);
  }
  conn.close();
  await reader;
}

/** One WebSocket client: announces with offers, answers offers, scrapes, reconnects. */
export async function wsClient(port: number, hashes: string[], until: number, t: Tally) {
  while (Date.now() < until) {
    const ws = await RawWs.connect("127.0.0.1", port, { zeroMask: true });
    const peer = bin20();
    let waiting = null as
      | { match: (m: Record<string, unknown>) => boolean; done: () => void }
      | null;
    const reading = ws.read((text) => {
      const m = JSON.parse(text);
      if ("failure reason" in m) t.failures++;
      if (m.offer !== undefined) {
        // Answer the offer: the offerer gets it (no reply to us unless it fails).
        t.sent++;
        t.answered++; // counted as answered when it arrives; failures are counted above
        ws.sendText(JSON.stringify({
          action: "announce",
          info_hash: m.info_hash,
          peer_id: peer,
          to_peer_id: m.peer_id,
          offer_id: m.offer_id,
          answer: { type: "answer", sdp: "v=0" },
        })).catch(() => {});
      }
      if (waiting?.match(m)) waiting.done();
    });
    const ask = async (
      msg: Record<string, unknown>,
      match: (m: Record<string, unknown>) => boolean,
    ) => {
      t.sent++;
      const ok = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 5000);
        waiting = {
          match,
          done: () => {
            clearTimeout(timer);
            resolve(true);
          },
        };
        ws.sendText(JSON.stringify(msg)).catch(() => resolve(false));
      });
      waiting = null;
      if (ok) t.answered++;
      else t.unanswered++;
    };
    // A connection lives 30 to 60 requests, then hangs up (its peers leave at once).
    const life = 30 + rand(30);
    for (let k = 0; k < life && Date.now() < until; k++) {
      const h = hashes[rand(hashes.length)];
      if (k % 10 === 9) {
        await ask(
          { action: "scrape", info_hash: [h, hashes[rand(hashes.length)]] },
          (m) => m.action === "scrape",
        );
      } else {
        const offers = Array.from({ length: 2 }, () => ({
          offer_id: bin20(),
          offer: { type: "offer", sdp: "v=0" },
        }));
        await ask(
          { action: "announce", info_hash: h, peer_id: peer, left: k % 3, numwant: 2, offers },
          (m) => m.info_hash === h && "interval" in m,
        );
      }
      await sleep(5);
    }
    ws.close();
    await reading;
  }
}

/** Options of a soak run. */
export interface SoakOptions {
  /** Length of the run. */
  seconds: number;
  /** Fraction of the run that is warm-up (memory is judged after it). */
  warmup: number;
}

/** One tracker's memory over a soak run, MiB. */
export interface MemoryTrace {
  /** `shoal udp` or `shoal ws`. */
  name: string;
  /** Live JavaScript memory (heap + external, after garbage collection) at the end of warm-up. */
  liveWarm: number;
  /** The same at the end (the least of the last three samples). */
  liveEnd: number;
  /** Resident memory at the end of warm-up. */
  warm: number;
  /** The most resident memory after the warm-up. */
  peak: number;
  /** Resident memory at the end. */
  end: number;
  /** Resident memory at ten points of the run. */
  trace: number[];
  /** Live memory at ten points of the run. */
  liveTrace: number[];
}

/** What a soak run measured, and what failed (empty when all is well). */
export interface SoakResult {
  /** UDP request counts. */
  udp: Tally;
  /** ws request counts. */
  ws: Tally;
  /** Per tracker. */
  memory: MemoryTrace[];
  /** Failed checks. */
  failures: string[];
}

/** Runs the soak and returns what it saw. */
export async function soak(o: SoakOptions): Promise<SoakResult> {
  const workers = { socket_workers: 1, request_workers: 1 };
  const cleaning = { interval: 2, max_peer_age: 8 };
  const opts = { metrics: true, exposeGc: true };
  const trackers = [
    await shoalTracker("udp", { ...workers, cleaning }, opts),
    await shoalTracker("ws", { ...workers, cleaning: { ...cleaning, max_offer_age: 5 } }, opts),
  ];
  const names = ["shoal udp", "shoal ws"];
  const rss: number[][] = [[], []], live: number[][] = [[], []];
  const liveBytes = async (port: number) => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const m = parseMetrics(text);
    return sumMetric(m, "shoal_heap_bytes", { kind: "heap" }) +
      sumMetric(m, "shoal_heap_bytes", { kind: "external" });
  };
  const start = Date.now(), until = start + o.seconds * 1000;
  const udp = tally(), ws = tally();
  try {
    const sampler = (async () => {
      for (let tick = 0; Date.now() < until; tick++) {
        for (let k = 0; k < 2; k++) {
          rss[k].push(await rssBytes(trackers[k].pid));
          // Every 5 s: a collection per thread is not free.
          if (tick % 5 === 0) live[k].push(await liveBytes(trackers[k].metricsPort!));
        }
        await sleep(1000);
      }
    })();
    const udpHashes = Array.from({ length: 500 }, id20);
    const wsHashes = Array.from({ length: 100 }, bin20);
    await Promise.all([
      ...Array.from({ length: 8 }, () => udpClient(trackers[0].udpPort!, udpHashes, until, udp)),
      ...Array.from({ length: 32 }, () => wsClient(trackers[1].wsPort!, wsHashes, until, ws)),
      sampler,
    ]);
    // Once more at the end, under the same load just finished.
    for (let k = 0; k < 2; k++) live[k].push(await liveBytes(trackers[k].metricsPort!));
  } finally {
    for (const t of trackers) await t.stop();
  }

  const failures: string[] = [];
  const mib = (b: number) => Math.round(b / 1048576 * 10) / 10;
  const tenPoints = (samples: number[]) =>
    Array.from(
      { length: 10 },
      (_, i) => mib(samples[Math.floor((i + 1) * samples.length / 10) - 1]),
    );
  const memory = rss.map((samples, k): MemoryTrace => {
    const cut = Math.max(1, Math.floor(samples.length * o.warmup));
    const warm = Math.max(...samples.slice(Math.max(0, cut - 3), cut));
    const peak = Math.max(...samples.slice(cut));
    // Live memory: its level at the end of warm-up against its level at the end. A leak grows
    // with the requests served; a healthy tracker's live data follows its (steady) state.
    const l = live[k], lcut = Math.max(1, Math.floor(l.length * o.warmup));
    const liveWarm = Math.max(...l.slice(Math.max(0, lcut - 3), lcut));
    const liveEnd = Math.min(...l.slice(-3));
    if (liveEnd > liveWarm * 1.1 + 4 * 1048576) {
      failures.push(
        `${names[k]}: live memory (after GC) grew from ${mib(liveWarm)} to ${mib(liveEnd)} MiB`,
      );
    }
    if (o.seconds >= 600) {
      const q = Math.floor(samples.length / 4);
      const second = Math.max(...samples.slice(q, 2 * q)), last = Math.max(...samples.slice(3 * q));
      if (last > second * 1.05 + 8 * 1048576) {
        failures.push(
          `${names[k]}: resident memory still rising: ${mib(second)} MiB at most in the ` +
            `second quarter, ${mib(last)} MiB in the last`,
        );
      }
    }
    return {
      name: names[k],
      liveWarm: mib(liveWarm),
      liveEnd: mib(liveEnd),
      warm: mib(warm),
      peak: mib(peak),
      end: mib(samples.at(-1)!),
      trace: tenPoints(samples),
      liveTrace: tenPoints(l),
    };
  });
  for (const [name, t] of [["udp", udp], ["ws", ws]] as const) {
    if (t.unanswered > 0) {
      failures.push(`${name}: ${t.unanswered} of ${t.sent} requests unanswered`);
    }
    if (t.sent < o.seconds * 100) failures.push(`${name}: only ${t.sent} requests sent`);
  }
  return { udp, ws, memory, failures };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args.filter((a) => a !== "--"), // `deno task soak -- --seconds 60` passes "--"
    options: {
      seconds: { type: "string", default: "300" },
      warmup: { type: "string", default: "0.4" },
    },
  });
  const o = { seconds: Number(values.seconds), warmup: Number(values.warmup) };
  if (!(o.seconds >= 5) || !(o.warmup > 0 && o.warmup < 1)) {
    console.error("soak: --seconds must be at least 5 and --warmup between 0 and 1");
    Deno.exit(2);
  }
  console.log(`soak: ${o.seconds} s of mixed UDP and WebSocket load with churn`);
  const r = await soak(o);
  console.log(
    "| tracker | requests | answered | unanswered | error replies | live after GC, warm / end (MiB) | RSS warm / peak / end (MiB) |",
  );
  console.log("|---|---|---|---|---|---|---|");
  for (const [k, t] of [r.udp, r.ws].entries()) {
    const m = r.memory[k];
    console.log(
      `| ${m.name} | ${t.sent} | ${t.answered} | ${t.unanswered} | ${t.failures} | ${m.liveWarm} / ${m.liveEnd} | ${m.warm} / ${m.peak} / ${m.end} |`,
    );
  }
  for (const m of r.memory) {
    console.log(`${m.name} RSS at each tenth of the run (MiB): ${m.trace.join(" ")}`);
    console.log(`${m.name} live memory at each tenth (MiB): ${m.liveTrace.join(" ")}`);
  }
  for (const f of r.failures) console.error(`soak: FAILED: ${f}`);
  if (r.failures.length === 0) console.log("soak: passed");
  Deno.exit(r.failures.length === 0 ? 0 : 1);
}
