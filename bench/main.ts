/**
 * `deno task bench`: starts the tracker(s) under test, drives them with the load generators,
 * measures responses per second and CPU per response from `/proc`, stops everything, and
 * prints a Markdown table.
 *
 * - `--compare` also runs the same load, in the same run, against opentracker, bittorrent-tracker
 *   and the C limit responder, with shoal's ratio to each.
 * - `--floor` also measures `bench/floor/udp_floor.ts` under the UDP load, in one thread and with the
 *   hop to a worker: shoal's own socket and channel with no tracker work, the floor under shoal;
 *   and `bench/floor/http_floor.ts` under each HTTP load: shoal's TCP transport, no HTTP engine,
 *   no hop, no swarms.
 * - `--memory` fills `shoal udp` with peers (resident bytes per peer) and holds idle WebSocket
 *   connections on shoal and bittorrent-tracker (resident bytes per connection).
 * - `--cluster N` measures only what a cluster of N nodes costs (`cluster.ts`): the UDP load
 *   (with `--only ws`, the WebTorrent load) on one node of N against one lone node,
 *   `--cluster-rounds` alternating rounds.
 * - `--write` saves the tables to `bench/results/<date>.md`.
 * - `--quick` runs everything for about a second with small populations (used by the tests).
 * - `--ws-load c|ts` picks the ws load generator: `harness/load/ws_load.c` (default, a fraction
 *   of the CPU per message) or `harness/load/ws_load.ts`.
 * - `--ws-torrents N` spreads the ws load over N torrents (16; 1000: many small swarms).
 * - `--ws-binary-ids` makes the ws load's info hashes and peer ids binary strings, as WebTorrent
 *   sends them, instead of ASCII (`ws_load.c` only).
 * - `--udp-inflight N` keeps N requests in flight per UDP load socket (32): the closed loop's
 *   window, which bounds a tracker's rate by its round trip until its CPU does.
 * - `--single-thread auto|on|off` sets shoal's `single_thread` (`auto`, shoal's default, runs its
 *   one socket worker and one request worker in one thread; `off` in two).
 * - `--private` also runs shoal udp and http as a private tracker with `--private-keys` keys
 *   (100k) under the same load, each request carrying one of the keys, after shoal open, and adds
 *   a table of CPU per response private ÷ open; `--private-rounds N` repeats each open/private
 *   pair N times, alternating (1); `--private-write-interval S` is the private tracker's
 *   `write_interval` (5, shoal's default).
 *
 * @module
 */

import { LOAD_FLAGS, parseLoadArgs, runLoadScript } from "../harness/load/cli.ts";
import type { UdpLoadResult } from "../harness/load/udp_load.ts";
import { rssBytes } from "../harness/procstat.ts";
import { readUntil, ROOT, run } from "../harness/process.ts";
import type { ConfigParts } from "../harness/shoal.ts";
import {
  shoalTracker,
  startBittorrentTracker,
  startOpentracker,
  type Tracker,
} from "../harness/trackers.ts";
import { startFloor, startHttpFloor, startResponder } from "./floor/responders.ts";
import { type PrivateKeys, privateKeys } from "./private.ts";
import { clusterBench } from "./cluster.ts";
import {
  BENCH_DEFAULTS,
  type BenchOptions,
  measureHttp,
  measureUdp,
  measureWs,
  median,
  type Row,
  warmSeconds,
  withTracker,
} from "./measure.ts";

/** Waits `ms` and returns the tracker's resident memory then. */
async function settledRss(pid: number, ms: number): Promise<number> {
  await new Promise((r) => setTimeout(r, ms));
  return await rssBytes(pid);
}

/** Fills the UDP tracker `start` starts with peers; resident bytes per peer. */
async function memoryPerPeer(o: BenchOptions, start: () => Promise<Tracker>): Promise<number> {
  return await withTracker(start, async (t) => {
    const before = await settledRss(t.pid, 500);
    const r = await runLoadScript<UdpLoadResult>("udp_load.ts", [
      "--target",
      `127.0.0.1:${t.udpPort}`,
      "--fill",
      "--peers",
      String(o.memoryPeers),
      "--torrents",
      String(o.memoryTorrents),
      "--numwant",
      "0",
      // A small window, so that a tracker slower than the burst (opentracker) drops few.
      "--inflight",
      "8",
    ]);
    if (r.byType.announce < o.memoryPeers * 0.99) {
      throw new Error(`fill announced only ${r.byType.announce} of ${o.memoryPeers} peers`);
    }
    const after = await settledRss(t.pid, 2000);
    return (after - before) / o.memoryPeers;
  });
}

/** Resident bytes per idle connection: 2 s after the last one opened, and after `idleSeconds`. */
interface IdleMemory {
  /** 2 s after the last connection opened. */
  fresh: number;
  /** After the connections sat idle for `idleSeconds`. */
  settled: number;
}

/**
 * Holds idle WebSocket connections to `t`; resident bytes per connection, read twice. The first
 * reading still holds the young generation V8 grew while the connections arrived; V8's memory
 * reducer gives it back once the process is quiet (about 30 s on this machine), so the second
 * reading is what idle connections cost for as long as they stay.
 */
async function memoryPerConnection(
  t: Tracker,
  n: number,
  idleSeconds: number,
): Promise<IdleMemory> {
  const before = await settledRss(t.pid, 500);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...LOAD_FLAGS,
      `${ROOT}harness/load/ws_idle.ts`,
      "--target",
      `127.0.0.1:${t.wsPort}`,
      "--connections",
      String(n),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = await readUntil(reader, /ready \d+/, "ws_idle");
  const ready = Date.now();
  const fresh = await settledRss(t.pid, 2000);
  const settled = await settledRss(t.pid, Math.max(0, ready + idleSeconds * 1000 - Date.now()));
  // Count them again: a tracker that closed some (a limit) must not look lean for it.
  const stdin = child.stdin.getWriter();
  await stdin.write(new TextEncoder().encode("count\n"));
  text = await readUntil(reader, /open \d+/, "ws_idle", text);
  const open = Number(/open (\d+)/.exec(text)![1]);
  if (open !== n) throw new Error(`${t.name} closed ${n - open} of ${n} idle connections`);
  await stdin.close();
  await child.status;
  reader.releaseLock();
  return { fresh: (fresh - before) / n, settled: (settled - before) / n };
}

function fmt(n: number): string {
  return n >= 10000 ? `${(n / 1000).toFixed(1)}k` : String(Math.round(n));
}

async function machine(): Promise<string> {
  // Deno reads /proc/cpuinfo only with --allow-all; grep may.
  const info = await run("grep", ["-m1", "model name", "/proc/cpuinfo"]).catch(() => "");
  const cpu = /model name\s*:\s*(.*)/.exec(info)?.[1] ?? "unknown CPU";
  return `${navigator.hardwareConcurrency} × ${cpu.trim()}, Linux ${Deno.osRelease()}, Deno ${Deno.version.deno}`;
}

/** The open and private rows of one protocol under `--private`, round by round. */
interface PrivatePair {
  /** The protocol, as rows name it. */
  protocol: string;
  /** shoal open, a row a round. */
  open: Row[];
  /** shoal private, a row a round. */
  priv: Row[];
}

/** 100000 → `100k`. */
function count(n: number): string {
  return n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n);
}

/** The table of `--private`: CPU per response of shoal private over shoal open, by protocol. */
function privateTable(o: BenchOptions, pairs: PrivatePair[]): string[] {
  const lines = [
    "",
    `Private mode, ${
      count(o.privateKeys)
    } keys in SQLite, accounting written every ${o.privateWriteInterval} s: each peer announces with one key drawn at random (UDP: BEP 41 URL data \`/KEY/announce\`; HTTP: \`/KEY/announce\`), each HTTP scrape with a random key (UDP scrapes carry none); uploaded and downloaded are always 0. Against shoal open under the same load in the same run${
      o.privateRounds > 1 ? `, ${o.privateRounds} alternating pairs (medians)` : ""
    }; each tracker first takes ${
      warmSeconds(o)
    } s of the load unmeasured; CPU per response counts every answer (connects and scrapes too). Target: private ÷ open ≤ 1.15.`,
    "",
    "| protocol | open responses/s | private responses/s | open CPU µs per response | private CPU µs per response | private ÷ open |" +
    (o.privateRounds > 1 ? " each round |" : ""),
    "|---|---:|---:|---:|---:|---:|" + (o.privateRounds > 1 ? "---|" : ""),
  ];
  for (const p of pairs) {
    const cpu = (rs: Row[]) => median(rs.map((r) => r.cpuMicros));
    const rate = (rs: Row[]) => median(rs.map((r) => r.perSecond));
    const ratio = cpu(p.priv) / cpu(p.open);
    const rounds = p.open.map((r, i) => `${(p.priv[i].cpuMicros / r.cpuMicros).toFixed(2)}×`);
    lines.push(
      `| ${p.protocol} | ${fmt(rate(p.open))} | ${fmt(rate(p.priv))} | ${
        cpu(p.open).toFixed(2)
      } | ${cpu(p.priv).toFixed(2)} | ${ratio.toFixed(2)}×${ratio > 1.15 ? " (over 1.15)" : ""} |` +
        (o.privateRounds > 1 ? ` ${rounds.join(", ")} |` : ""),
    );
  }
  return lines;
}

/** Runs the bench and returns the Markdown report. */
export async function runBench(o: BenchOptions): Promise<string> {
  const keys = o.private && (o.only === "all" || o.only === "udp" || o.only === "http")
    ? await privateKeys(o.privateKeys)
    : null;
  try {
    return await benchRows(o, keys);
  } finally {
    await keys?.remove();
  }
}

async function benchRows(o: BenchOptions, keys: PrivateKeys | null): Promise<string> {
  const workers = (socket: number, request: number) => ({
    socket_workers: socket,
    request_workers: request,
    single_thread: o.singleThread,
  });
  // Every bench client comes from 127.0.0.1: lift the per-IP connection limit.
  const lifted = { max_connections_per_ip: 100000000 };
  const udp = workers(o.udpSocketWorkers, o.udpRequestWorkers);
  const http = { ...workers(o.httpSocketWorkers, o.httpRequestWorkers), network: lifted };
  const ws = { ...workers(o.wsSocketWorkers, o.wsRequestWorkers), limits: lifted };
  const rows: Row[] = [];
  const log = (s: string) => console.error(`bench: ${s}`);
  const wants = (p: string) => o.only === "all" || o.only === p;
  const pairs: PrivatePair[] = [];
  /** shoal open under `measure`; with `--private`, alternating with shoal private. */
  const shoalRows = async (
    protocol: "udp" | "http",
    parts: ConfigParts,
    name: string,
    measure: (t: Tracker, keysFile: string, opts: BenchOptions) => Promise<Row>,
  ) => {
    if (keys === null) {
      log(`shoal ${name}`);
      rows.push(await withTracker(() => shoalTracker(protocol, parts), (t) => measure(t, "", o)));
      return;
    }
    // Open and private alike take the load unmeasured first (`WARM_SECONDS`).
    const warm = { ...o, seconds: warmSeconds(o) };
    const warmed = (k: string) => async (t: Tracker) => {
      await measure(t, k, warm);
      return measure(t, k, o);
    };
    const open = () => withTracker(() => shoalTracker(protocol, parts), warmed(""));
    const pair: PrivatePair = { protocol: "", open: [], priv: [] };
    for (let r = 1; r <= o.privateRounds; r++) {
      const round = o.privateRounds > 1 ? ` (round ${r} of ${o.privateRounds})` : "";
      log(`shoal ${name}${round}`);
      pair.open.push(await open());
      log(`shoal ${name}, private with ${keys.count} keys${round}`);
      const section = await keys.section(o.privateWriteInterval);
      const priv = await withTracker(
        () => shoalTracker(protocol, { ...parts, ...section }),
        warmed(keys.keysFile),
      );
      pair.priv.push({ ...priv, target: `shoal private (${count(keys.count)} keys)` });
    }
    pair.protocol = pair.open[0].protocol;
    pairs.push(pair);
    rows.push(...pair.open, ...pair.priv);
  };
  if (wants("udp")) {
    await shoalRows("udp", udp, "udp", (t, k, q) => measureUdp(t, q, k));
    if (o.floor) {
      for (const hop of [false, true]) {
        log(`UDP floor${hop ? " with the hop" : ""}`);
        rows.push(await withTracker(() => startFloor(hop), (t) => measureUdp(t, o)));
      }
    }
    if (o.compare) {
      log("opentracker udp");
      rows.push(await withTracker(() => startOpentracker(o.torrents), (t) => measureUdp(t, o)));
      log("bittorrent-tracker udp");
      rows.push(await withTracker(startBittorrentTracker, (t) => measureUdp(t, o)));
      log("C limit responder udp");
      rows.push(await withTracker(() => startResponder(), (t) => measureUdp(t, o)));
    }
  }
  if (wants("http")) {
    for (const mode of ["keepalive", "close", "libtorrent"] as const) {
      await shoalRows("http", http, `http ${mode}`, (t, k, q) => measureHttp(t, q, mode, k));
      if (o.floor) {
        log(`HTTP floor ${mode}`);
        rows.push(await withTracker(startHttpFloor, (t) => measureHttp(t, o, mode)));
      }
      if (o.compare) {
        log(`opentracker http ${mode}`);
        rows.push(
          await withTracker(() => startOpentracker(o.torrents), (t) => measureHttp(t, o, mode)),
        );
        log(`bittorrent-tracker http ${mode}`);
        rows.push(
          await withTracker(
            () => startBittorrentTracker({ http: true }),
            (t) => measureHttp(t, o, mode),
          ),
        );
      }
    }
  }
  if (wants("ws")) {
    log("shoal ws");
    rows.push(await withTracker(() => shoalTracker("ws", ws), (t) => measureWs(t, o)));
    if (o.compare) {
      log("bittorrent-tracker ws");
      rows.push(await withTracker(startBittorrentTracker, (t) => measureWs(t, o)));
    }
  }

  const lines = [
    `Machine: ${await machine()}. Load generators on the same machine (loopback).`,
    "",
    `UDP load: ${o.peers} peers over ${o.torrents} torrents (skewed), 75% seeders, ~10% scrapes of 1–10 hashes, numwant ${o.numwant}, 16 sockets × ${o.udpInflight} requests in flight. ` +
    `ws load (${
      o.wsLoad === "ts" ? "ws_load.ts" : "ws_load.c"
    }): ${o.wsConnections} connections over ${o.wsTorrents} torrents, announces with 5 offers of 300-byte SDP, half of offers answered, ${
      o.wsBinaryIds ? "binary info hashes and peer ids (code points 128–255)" : "ASCII ids"
    }. ` +
    `shoal: udp ${o.udpSocketWorkers} socket + ${o.udpRequestWorkers} request worker(s), ws ${o.wsSocketWorkers} + ${o.wsRequestWorkers}${
      o.singleThread === "off" ? ', two threads (`single_thread = "off"`)' : ", one thread each"
    }. ${o.seconds} s each.`,
    "",
    "| tracker | protocol | responses/s (ws: messages/s) | tracker CPU µs per response | load generator CPU µs per response | lost / closed | invalid / failures | shoal ÷ this |",
    "|---|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of rows) {
    const shoal = rows.find((x) => x.target === "shoal" && x.protocol === r.protocol);
    const ratio = r.target === "shoal" || !shoal
      ? "—"
      : `${(shoal.perSecond / r.perSecond).toFixed(2)}×`;
    lines.push(
      `| ${r.target} | ${r.protocol} | ${fmt(r.perSecond)} | ${r.cpuMicros.toFixed(2)} | ${
        r.generatorCpuMicros.toFixed(2)
      } | ${r.lost} | ${r.invalid} | ${ratio} |`,
    );
  }
  if (pairs.length > 0) lines.push(...privateTable(o, pairs));
  const notes = rows.filter((r) => r.problems.length > 0);
  if (notes.length > 0) {
    lines.push("", "Problems the load generators saw:");
    for (const r of notes) lines.push(`- ${r.target} ${r.protocol}: ${r.problems.join("; ")}`);
  }
  if (o.memory) {
    lines.push(
      "",
      "| memory | shoal | opentracker | bittorrent-tracker |",
      "|---|---:|---:|---:|",
    );
    if (wants("udp")) {
      log(`memory: ${o.memoryPeers} peers over ${o.memoryTorrents} torrents`);
      const perPeer = await memoryPerPeer(o, () => shoalTracker("udp", udp));
      // opentracker on the same fill; its allow list of the torrents is in place before it.
      const other = o.compare
        ? await memoryPerPeer(o, () => startOpentracker(o.memoryTorrents))
        : null;
      lines.push(
        `| resident bytes per peer (udp, ${o.memoryPeers} peers, ${o.memoryTorrents} torrents) | ${
          perPeer.toFixed(0)
        } | ${other === null ? "—" : other.toFixed(0)} | — |`,
      );
    }
    if (wants("ws")) {
      log(`memory: ${o.idleConnections} idle WebSocket connections`);
      const idle = (t: Tracker) => memoryPerConnection(t, o.idleConnections, o.idleSeconds);
      const shoal = await withTracker(() => shoalTracker("ws", ws), idle);
      const other = o.compare ? await withTracker(startBittorrentTracker, idle) : null;
      const cell = (m: IdleMemory | null, k: keyof IdleMemory) => m ? m[k].toFixed(0) : "—";
      lines.push(
        `| resident bytes per idle WebSocket connection (${o.idleConnections}), 2 s after the last connect | ${
          cell(shoal, "fresh")
        } | — | ${cell(other, "fresh")} |`,
        `| resident bytes per idle WebSocket connection (${o.idleConnections}), after ${o.idleSeconds} s idle | ${
          cell(shoal, "settled")
        } | — | ${cell(other, "settled")} |`,
      );
    }
  }
  return lines.join("\n");
}

if (import.meta.main) {
  let o = parseLoadArgs(Deno.args, BENCH_DEFAULTS);
  if (o.wsLoad !== "c" && o.wsLoad !== "ts") throw new Error(`--ws-load: c or ts, not ${o.wsLoad}`);
  if (o.wsBinaryIds && o.wsLoad !== "c") throw new Error("--ws-binary-ids needs --ws-load c");
  if (!["auto", "on", "off"].includes(o.singleThread)) {
    throw new Error(`--single-thread: auto, on or off, not ${o.singleThread}`);
  }
  if (o.quick) {
    o = {
      ...o,
      seconds: 1,
      torrents: 1000,
      peers: 10000,
      memoryPeers: 20000,
      memoryTorrents: 2000,
      idleConnections: 200,
      idleSeconds: 2,
      wsConnections: 32,
      privateKeys: 1000,
    };
  }
  const report = o.cluster > 0
    ? await clusterBench(o, (l) => console.error(`bench: ${l}`))
    : await runBench(o);
  console.log(report);
  if (o.write) {
    const date = new Date().toISOString().slice(0, 10);
    await Deno.mkdir(`${ROOT}bench/results`, { recursive: true });
    const path = `${ROOT}bench/results/${date}.md`;
    await Deno.writeTextFile(
      path,
      `# shoal bench, ${date}\n\n\`deno task bench -- ${
        Deno.args.filter((a) => a !== "--").join(" ")
      }\`\n\n${report}\n`,
    );
    console.error(`bench: wrote ${path}`);
  }
}
