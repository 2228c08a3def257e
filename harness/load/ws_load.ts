/**
 * WebTorrent tracker load generator, modelled on aquatic's `aquatic_ws_load_test`: N
 * connections, each a peer of one of T torrents, announcing with offers in a closed loop (the
 * next announce when the reply came) and answering a share of the offers they receive.
 * Reports the messages per second the server sent, by kind, and errors.
 *
 * Usage: `deno run --allow-net harness/load/ws_load.ts --target 127.0.0.1:3000 [--seconds 10] ...`
 * (`--help` lists the options). Prints a progress line per second on stderr and one JSON line
 * on stdout.
 *
 * @module
 */

import { loadMain, type LoadRate, loadRate } from "./cli.ts";
import { RawWs } from "../ws_client.ts";
import { parseSocketAddress } from "../../shared/net/address.ts";
import process from "node:process";

/** What the load generator does. */
export interface WsLoadOptions {
  /** Tracker address, e.g. `127.0.0.1:3000`. */
  target: string;
  /** Seconds of measured load (after `warmup`). */
  seconds: number;
  /** Seconds of load before measuring. */
  warmup: number;
  /** Connections (one peer each). */
  connections: number;
  /** Torrents the peers are spread over. */
  torrents: number;
  /** Offers per announce. */
  offers: number;
  /** Share of received offers that are answered. */
  answerShare: number;
  /** Characters of fake SDP per offer or answer. */
  sdpSize: number;
  /** Share of peers that seed (shoal sends a seeder's offers only to leechers). */
  seederShare: number;
  /** Print a progress line per second on stderr. */
  progress: boolean;
}

/** Defaults of `WsLoadOptions`. */
export const WS_LOAD_DEFAULTS: WsLoadOptions = {
  target: "127.0.0.1:3000",
  seconds: 10,
  warmup: 1,
  connections: 256,
  torrents: 16,
  offers: 5,
  answerShare: 0.5,
  sdpSize: 300,
  seederShare: 0,
  progress: true,
};

/** What one run measured. */
export interface WsLoadResult extends LoadRate {
  /** Messages the server sent in the measured window. */
  messages: number;
  /** By kind: announce replies, offers, answers, failures. */
  byKind: { replies: number; offers: number; answers: number; failures: number };
  /** Connections that failed or closed. */
  closed: number;
}

function bin20(n: number): string {
  // 20 printable characters: cheap to build, valid binary strings.
  return n.toString(36).padStart(20, "0").slice(-20);
}

/** Runs the load; resolves with what it measured. */
export async function runWsLoad(o: WsLoadOptions): Promise<WsLoadResult> {
  const addr = parseSocketAddress(o.target);
  if (typeof addr === "string") throw new Error(`--target: ${addr}`);
  const counts = { replies: 0, offers: 0, answers: 0, failures: 0 };
  let closed = 0;
  const problems: string[] = [];
  const sdp = "v=0 ".padEnd(o.sdpSize, "x");
  const offer = { type: "offer", sdp };
  const answer = { type: "answer", sdp };
  let running = true;
  let offerSeq = 0;

  const conns = await Promise.all(Array.from({ length: o.connections }, async (_, i) => {
    // A little spread so the server's accept queue is not flooded at once.
    await new Promise((r) => setTimeout(r, Math.floor(i / 64) * 10));
    return await RawWs.connect(addr.hostname, addr.port, { zeroMask: true });
  }));
  const peers = conns.map((_, i) => bin20(1e12 + i));
  const hashes = Array.from({ length: o.torrents }, (_, t) => bin20(2e12 + t));

  const announce = (i: number) => {
    if (!running) return;
    const offers = Array.from({ length: o.offers }, () => ({ offer_id: bin20(offerSeq++), offer }));
    conns[i].sendText(JSON.stringify({
      action: "announce",
      info_hash: hashes[i % o.torrents],
      peer_id: peers[i],
      left: i < o.connections * o.seederShare ? 0 : 1,
      numwant: o.offers,
      offers,
    })).catch(() => {});
  };

  const reading = conns.map((c, i) =>
    c.read((text) => {
      if (text.includes('"offer":')) {
        counts.offers++;
        if (running && Math.random() < o.answerShare) {
          const m = JSON.parse(text);
          c.sendText(JSON.stringify({
            action: "announce",
            info_hash: m.info_hash,
            peer_id: peers[i],
            to_peer_id: m.peer_id,
            offer_id: m.offer_id,
            answer,
          })).catch(() => {});
        }
      } else if (text.includes('"answer":')) {
        counts.answers++;
      } else if (text.includes('"failure reason"')) {
        counts.failures++;
        if (problems.length < 5) problems.push(text.slice(0, 200));
        if (text.includes('"announce"')) announce(i);
      } else if (text.includes('"interval":')) {
        counts.replies++;
        announce(i); // closed loop: the next announce once the reply came
      }
    }).then(() => {
      if (running) closed++;
    })
  );

  conns.forEach((_, i) => announce(i));
  await new Promise((r) => setTimeout(r, o.warmup * 1000));
  const at = { ...counts };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let last = { ...counts }, lastAt = t0;
  const timer = setInterval(() => {
    const now = performance.now(), dt = (now - lastAt) / 1000;
    const r = (k: keyof typeof counts) => Math.round((counts[k] - last[k]) / dt);
    if (o.progress) {
      console.error(
        `ws load: ${r("replies") + r("offers") + r("answers") + r("failures")} messages/s ` +
          `(replies ${r("replies")}, offers ${r("offers")}, answers ${r("answers")}, failures ${
            r("failures")
          }), closed ${closed}`,
      );
    }
    last = { ...counts };
    lastAt = now;
  }, 1000);
  await new Promise((r) => setTimeout(r, o.seconds * 1000));
  const seconds = (performance.now() - t0) / 1000;
  const cpu1 = process.cpuUsage();
  running = false;
  clearInterval(timer);
  const byKind = {
    replies: counts.replies - at.replies,
    offers: counts.offers - at.offers,
    answers: counts.answers - at.answers,
    failures: counts.failures - at.failures,
  };
  conns.forEach((c) => c.close());
  await Promise.all(reading);
  const messages = byKind.replies + byKind.offers + byKind.answers + byKind.failures;
  const total = counts.replies + counts.offers + counts.answers + counts.failures;
  return {
    ...loadRate(seconds, messages, total, [cpu0, cpu1], problems),
    messages,
    byKind,
    closed,
  };
}

if (import.meta.main) {
  await loadMain("deno run --allow-net harness/load/ws_load.ts", WS_LOAD_DEFAULTS, runWsLoad);
}
