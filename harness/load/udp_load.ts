/**
 * UDP tracker load generator, modelled on a public tracker's traffic and on aquatic's
 * `aquatic_udp_load_test`: many client sockets (each a distinct peer address), a fixed
 * population of peers that re-announce to torrents of skewed popularity (a few huge swarms,
 * most tiny), 75% seeders, some scrapes of 1–10 hashes, and connects as connection IDs age.
 *
 * Closed loop: each socket keeps `inflight` requests outstanding and sends the next one when a
 * reply comes (or the request times out, counted as lost), so it measures the server rather
 * than packet loss. Every reply is checked (action, transaction id, size). Moves packets with
 * the same FFI `recvmmsg`/`sendmmsg` path as the tracker, so it is not the bottleneck.
 *
 * With `--keys FILE` (one passkey a line; needs `--allow-read`) it loads a private tracker: each
 * peer of the population is given one of the keys at random, and its announces carry it as BEP
 * 41 URL data (`0x02, length, "/KEY/announce"`, libtorrent's form) after the 98 bytes. Every
 * key's option bytes are made before the load starts: an announce copies them, allocating nothing.
 *
 * Usage: `deno run --allow-ffi harness/load/udp_load.ts --target 127.0.0.1:3000 [--seconds 10] ...`
 * (`--help` lists the options). Prints a progress line per second on stderr and one JSON line
 * on stdout.
 *
 * @module
 */

import process from "node:process";
import { loadMain, type LoadRate, loadRate } from "./cli.ts";
import { openFfiSocket } from "../../udp/io_ffi.ts";
import type { DatagramSocket, PacketBatch } from "../../udp/io.ts";
import { encodeAddr, parseSocketAddress } from "../../shared/net/address.ts";
import { getI32BE, getU32BE, setU32BE } from "../../shared/base/bytes.ts";
import {
  ANNOUNCE_LEN,
  encodeAnnounceRequest,
  encodeConnectRequest,
  OFF_INFO_HASH,
} from "../../udp/codec.ts";

/** What the load generator does. */
export interface UdpLoadOptions {
  /** Tracker address, e.g. `127.0.0.1:3000`. */
  target: string;
  /** Seconds of measured load (after `warmup`). */
  seconds: number;
  /** Seconds of load before measuring. */
  warmup: number;
  /** Client sockets. */
  sockets: number;
  /** Requests outstanding per socket (rounded up to a power of two). */
  inflight: number;
  /** Torrents in the population. */
  torrents: number;
  /** Peers in the population, each re-announcing to one torrent. */
  peers: number;
  /** Popularity skew: torrent = floor(torrents * u^skew); 1 is uniform. */
  skew: number;
  /** `num_want` of announces. */
  numwant: number;
  /** Share of requests that are scrapes. */
  scrapeShare: number;
  /** Most hashes in a scrape (at least 1). */
  scrapeMax: number;
  /** Share of peers that seed (`left = 0`). */
  seederShare: number;
  /** Seconds after which a socket gets a new connection ID. */
  connectEvery: number;
  /** Milliseconds before an unanswered request counts as lost. */
  timeoutMs: number;
  /** Announce every peer once (event started) and stop: fills the tracker for memory tests. */
  fill: boolean;
  /** Print a progress line per second on stderr. */
  progress: boolean;
  /**
   * A file of passkeys, one a line ("": none): each peer announces with one of them, drawn at
   * random per peer, as BEP 41 URL data `/KEY/announce` (a private tracker's load).
   */
  keys: string;
}

/** Defaults of `UdpLoadOptions`. */
export const UDP_LOAD_DEFAULTS: UdpLoadOptions = {
  target: "127.0.0.1:3000",
  seconds: 10,
  warmup: 1,
  sockets: 16,
  inflight: 32,
  torrents: 100_000,
  peers: 1_000_000,
  skew: 3,
  numwant: 50,
  scrapeShare: 0.1,
  scrapeMax: 10,
  seederShare: 0.75,
  connectEvery: 60,
  timeoutMs: 1000,
  fill: false,
  progress: true,
  keys: "",
};

/** What one run measured. */
export interface UdpLoadResult extends LoadRate {
  /** Valid responses in the measured window. */
  responses: number;
  /** Valid responses by type in the measured window. */
  byType: { connect: number; announce: number; scrape: number };
  /** Requests without an answer within `timeoutMs`. */
  lost: number;
  /** Replies with a wrong action, size or error response. */
  invalid: number;
  /** Replies that came after their request was given up. */
  late: number;
}

const KIND_CONNECT = 0, KIND_ANNOUNCE = 1, KIND_SCRAPE = 2;

/** The 20-byte info hash of torrent `t` (the bench's population; also opentracker's allow list). */
export function benchInfoHash(
  t: number,
  out: Uint8Array = new Uint8Array(20),
  off = 0,
): Uint8Array {
  setU32BE(out, off, t);
  // A fixed, arbitrary tail so hashes look like hashes, not small integers.
  for (let i = 4; i < 20; i++) out[off + i] = (i * 37 + 11) & 0xff;
  return out;
}

class Client {
  readonly sock: DatagramSocket;
  readonly gen: Uint32Array;
  readonly kind: Uint8Array;
  readonly hashes: Uint16Array;
  /** The peer a fill announce in each slot is for (resent when it is lost). */
  readonly peer: Int32Array;
  readonly sentAt: Float64Array;
  cid = new Uint8Array(8);
  /** When the connection ID was received; -Infinity until the first one. */
  cidAt = -Infinity;
  /** A connect is in flight. */
  connecting = false;
  constructor(sock: DatagramSocket, inflight: number) {
    this.sock = sock;
    this.gen = new Uint32Array(inflight);
    this.kind = new Uint8Array(inflight);
    this.hashes = new Uint16Array(inflight);
    this.peer = new Int32Array(inflight);
    this.sentAt = new Float64Array(inflight);
  }
}

/** BEP 41 URL data of every key, made once: `stride` bytes a key, `len[k]` of them used. */
export interface KeyOptions {
  /** Option bytes of key `k` at `k * stride`: `0x02, n, "/KEY/announce"`. */
  bytes: Uint8Array;
  /** Bytes of key `k`'s option. */
  len: Uint8Array;
  /** Bytes reserved a key. */
  stride: number;
}

/**
 * Reads the passkeys of `path` (one a line; blank lines skipped) and makes each one's BEP 41
 * URL data option, `/KEY/announce`.
 */
export function keyOptions(path: string): KeyOptions {
  const keys = Deno.readTextFileSync(path).split("\n").map((k) => k.trim()).filter((k) => k);
  if (keys.length === 0) throw new Error(`--keys: no keys in ${path}`);
  const enc = new TextEncoder();
  const stride = 2 + 255;
  const bytes = new Uint8Array(keys.length * stride), len = new Uint8Array(keys.length);
  keys.forEach((k, i) => {
    const url = enc.encode(`/${k}/announce`);
    if (url.length > 255) throw new Error(`--keys: key ${i + 1} is too long for one option`);
    bytes[i * stride] = 2; // UrlData
    bytes[i * stride + 1] = url.length;
    bytes.set(url, i * stride + 2);
    len[i] = 2 + url.length;
  });
  return { bytes, len, stride };
}

/** Runs the load; resolves with what it measured. */
export async function runUdpLoad(o: UdpLoadOptions): Promise<UdpLoadResult> {
  const parsed = parseSocketAddress(o.target);
  if (typeof parsed === "string") throw new Error(`--target: ${parsed}`);
  const family = parsed.family;
  const target = new Uint8Array(18);
  encodeAddr(parsed.hostname, parsed.port, target, 0);
  let w = 1, wBits = 0;
  while (w < o.inflight) {
    w *= 2;
    wBits++;
  }
  const slotMask = w - 1;

  // The population: each peer belongs to one torrent, by skewed popularity. Every client
  // shares this host's IP and a tracker knows a peer by its address, so the peers of a
  // torrent announce distinct ports (a torrent holds at most 65,535 of them).
  const torrentOf = new Int32Array(o.peers);
  const portOf = new Uint16Array(o.peers);
  const inTorrent = new Int32Array(o.torrents);
  for (let p = 0; p < o.peers; p++) {
    const t = Math.min(o.torrents - 1, Math.floor(o.torrents * Math.random() ** o.skew));
    torrentOf[p] = t;
    portOf[p] = 1 + (inTorrent[t]++ % 65535);
  }
  const peerIdPrefix = new TextEncoder().encode("-SB0001-");
  // A private tracker's load: each peer's key, drawn once.
  const keyOpts = o.keys === "" ? null : keyOptions(o.keys);
  const keyOf = keyOpts === null ? null : new Uint32Array(o.peers);
  if (keyOpts !== null && keyOf !== null) {
    for (let p = 0; p < o.peers; p++) keyOf[p] = Math.floor(Math.random() * keyOpts.len.length);
  }

  const clients: Client[] = [];
  for (let i = 0; i < o.sockets; i++) {
    const sock = openFfiSocket({
      hostname: family === 4 ? "127.0.0.1" : "::1",
      port: 0,
      family,
      reusePort: false,
      recvBufferSize: 4 << 20,
      checkFree: false,
      batchSize: 64,
    });
    clients.push(new Client(sock, w));
  }

  const announce = encodeAnnounceRequest({
    connectionId: new Uint8Array(8),
    transactionId: 0,
    infoHash: new Uint8Array(20),
    peerId: new Uint8Array(20),
    left: 0n,
    port: 1,
    numWant: o.numwant,
    // Room for the longest URL data option; what is sent is `announceLen` bytes.
    options: keyOpts === null ? undefined : new Uint8Array(keyOpts.stride),
  });
  let announceLen = ANNOUNCE_LEN;
  const scrape = new Uint8Array(16 + 20 * Math.max(1, o.scrapeMax));
  setU32BE(scrape, 8, 2);
  const connect = encodeConnectRequest(0);

  const counts = { connect: 0, announce: 0, scrape: 0 };
  let lost = 0, invalid = 0, late = 0;
  const problems: string[] = [];
  const problem = (s: string) => {
    if (problems.length < 5 && !problems.includes(s)) problems.push(s);
  };
  let nextFillPeer = 0;
  const fillRetry: number[] = [];
  let running = true;
  let fillDone: () => void = () => {};
  const fillFinished = new Promise<void>((r) => (fillDone = r));

  const send = (c: Client, ci: number, slot: number, now: number) => {
    const gen = (c.gen[slot] = (c.gen[slot] + 1) & ((1 << (31 - wBits)) - 1));
    const tid = (gen << wBits) | slot;
    c.sentAt[slot] = now;
    if (!c.connecting && now - c.cidAt > o.connectEvery * 1000) {
      // The first ID, or a fresh one as the old ages, as clients do.
      c.connecting = true;
      c.kind[slot] = KIND_CONNECT;
      setU32BE(connect, 12, tid);
      c.sock.send(connect, 0, 16, target, 0);
      return;
    }
    if (c.cidAt === -Infinity) {
      c.kind[slot] = 255; // no ID yet: this slot waits for the first connect
      return;
    }
    if (o.fill) {
      // A lost announce is sent again (a tracker that drops some under the burst, as
      // opentracker does, is still filled with every peer).
      const retry = fillRetry.pop();
      if (retry === undefined && nextFillPeer >= o.peers) {
        c.kind[slot] = 255; // idle slot
        return;
      }
      const p = retry ?? nextFillPeer++;
      c.peer[slot] = p;
      writeAnnounce(c, p, tid, 2);
      c.kind[slot] = KIND_ANNOUNCE;
      c.sock.send(announce, 0, announceLen, target, 0);
      return;
    }
    if (Math.random() < o.scrapeShare) {
      const n = 1 + Math.floor(Math.random() * Math.max(1, o.scrapeMax));
      scrape.set(c.cid, 0);
      setU32BE(scrape, 12, tid);
      // Distinct hashes (as a client scraping its torrents would send).
      let first = Math.min(o.torrents - 1, Math.floor(o.torrents * Math.random() ** o.skew));
      if (first + n > o.torrents) first = Math.max(0, o.torrents - n);
      for (let k = 0; k < n; k++) benchInfoHash(first + k, scrape, 16 + 20 * k);
      c.kind[slot] = KIND_SCRAPE;
      c.hashes[slot] = n;
      c.sock.send(scrape, 0, 16 + 20 * n, target, 0);
      return;
    }
    // A peer of this socket's share of the population (so its address stays the same).
    let p = Math.floor(Math.random() * o.peers);
    p -= p % o.sockets;
    p = Math.min(o.peers - 1, p + ci);
    writeAnnounce(c, p, tid, 0);
    c.kind[slot] = KIND_ANNOUNCE;
    c.sock.send(announce, 0, announceLen, target, 0);
  };

  const writeAnnounce = (c: Client, p: number, tid: number, event: number) => {
    announce.set(c.cid, 0);
    setU32BE(announce, 12, tid);
    benchInfoHash(torrentOf[p], announce, OFF_INFO_HASH);
    announce.set(peerIdPrefix, 36);
    setU32BE(announce, 44, 0);
    setU32BE(announce, 48, 0);
    setU32BE(announce, 52, p);
    // left: 0 for seeders (a stable share of the population), else 1 MiB.
    const seeder = (p * 2654435761 >>> 0) / 4294967296 < o.seederShare;
    setU32BE(announce, 68, seeder ? 0 : 1 << 20);
    setU32BE(announce, 80, event);
    announce[96] = portOf[p] >> 8;
    announce[97] = portOf[p] & 0xff;
    if (keyOpts !== null && keyOf !== null) {
      const k = keyOf[p], from = k * keyOpts.stride, n = keyOpts.len[k], b = keyOpts.bytes;
      for (let j = 0; j < n; j++) announce[ANNOUNCE_LEN + j] = b[from + j];
      announceLen = ANNOUNCE_LEN + n;
    }
  };

  const started = performance.now();
  const measureFrom = started + o.warmup * 1000;
  const end = measureFrom + o.seconds * 1000;
  let measuring = false;
  const window = { connect: 0, announce: 0, scrape: 0 };
  let cpu0 = process.cpuUsage();

  const onReplies = (c: Client, ci: number) => (b: PacketBatch) => {
    const now = performance.now();
    if (!measuring && now >= measureFrom) {
      measuring = true;
      window.connect = counts.connect;
      window.announce = counts.announce;
      window.scrape = counts.scrape;
      // A fill counts the whole run, so its CPU is counted from the start too.
      if (!o.fill) cpu0 = process.cpuUsage();
    }
    for (let i = 0; i < b.count; i++) {
      const off = b.offsets[i], len = b.lengths[i];
      if (len < 8) {
        invalid++;
        continue;
      }
      const action = getI32BE(b.data, off), tid = getU32BE(b.data, off + 4);
      const slot = tid & slotMask, gen = tid >>> wBits;
      if (c.gen[slot] !== gen || c.kind[slot] === 255) {
        late++;
        continue;
      }
      const kind = c.kind[slot];
      let ok = false;
      if (action === 3) {
        problem(`error response: ${new TextDecoder().decode(b.data.subarray(off + 8, off + len))}`);
      } else if (kind === KIND_CONNECT) {
        ok = action === 0 && len === 16;
        c.connecting = false;
        if (ok) {
          c.cid.set(b.data.subarray(off + 8, off + 16));
          c.cidAt = now;
          counts.connect++;
        }
      } else if (kind === KIND_ANNOUNCE) {
        const size = family === 4 ? 6 : 18;
        ok = action === 1 && len >= 20 && (len - 20) % size === 0;
        if (ok) counts.announce++;
      } else {
        ok = action === 2 && len === 8 + 12 * c.hashes[slot];
        if (ok) counts.scrape++;
      }
      if (!ok) {
        invalid++;
        if (action !== 3) problem(`bad reply: action ${action}, ${len} bytes for kind ${kind}`);
      }
      if (running) send(c, ci, slot, now);
      else c.kind[slot] = 255;
    }
    c.sock.flush();
    checkFilled();
  };
  /** Ends a fill once every peer was sent and every slot is idle (after a reply or a loss). */
  const checkFilled = () => {
    if (
      o.fill && nextFillPeer >= o.peers && fillRetry.length === 0 &&
      clients.every((x) => x.kind.every((k) => k === 255))
    ) fillDone();
  };

  // Connect every socket first, then fill its slots.
  const serving = clients.map((c, ci) => c.sock.serve(onReplies(c, ci)));
  await Promise.all(clients.map(async (c, ci) => {
    const deadline = performance.now() + 5000;
    while (c.cidAt === -Infinity) {
      if (performance.now() > deadline) throw new Error(`no connect response from ${o.target}`);
      c.connecting = false;
      send(c, ci, 0, performance.now());
      c.sock.flush();
      await new Promise((r) => setTimeout(r, 100));
    }
  }));
  clients.forEach((c, ci) => {
    for (let s = 0; s < w; s++) send(c, ci, s, performance.now());
    c.sock.flush();
  });

  // Lost requests are replaced; progress once a second.
  let last = { ...counts }, lastAt = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    for (let ci = 0; ci < clients.length; ci++) {
      const c = clients[ci];
      for (let s = 0; s < w; s++) {
        if (c.kind[s] !== 255 && now - c.sentAt[s] > o.timeoutMs) {
          lost++;
          if (c.kind[s] === KIND_CONNECT) c.connecting = false;
          if (o.fill && c.kind[s] === KIND_ANNOUNCE) fillRetry.push(c.peer[s]);
          if (running) send(c, ci, s, now);
          else c.kind[s] = 255;
        }
      }
      c.sock.flush();
    }
    checkFilled();
    if (o.progress && now - lastAt >= 1000) {
      const dt = (now - lastAt) / 1000;
      const r = (k: keyof typeof counts) => Math.round((counts[k] - last[k]) / dt);
      console.error(
        `udp load: ${r("announce") + r("scrape") + r("connect")} responses/s (announce ${
          r("announce")
        }, scrape ${r("scrape")}, connect ${r("connect")}), lost ${lost}, invalid ${invalid}`,
      );
      last = { ...counts };
      lastAt = now;
    }
  }, 100);

  if (o.fill) await fillFinished;
  else await new Promise((r) => setTimeout(r, Math.max(0, end - performance.now())));
  running = false;
  const stoppedAt = performance.now();
  const cpu1 = process.cpuUsage();
  clearInterval(timer);
  const seconds = o.fill ? (stoppedAt - started) / 1000 : (stoppedAt - measureFrom) / 1000;
  const byType = o.fill ? { ...counts } : {
    connect: counts.connect - window.connect,
    announce: counts.announce - window.announce,
    scrape: counts.scrape - window.scrape,
  };
  // Let answers in flight land (they are not counted), then stop.
  await new Promise((r) => setTimeout(r, 200));
  clients.forEach((c) => c.sock.close());
  await Promise.all(serving);
  const responses = byType.connect + byType.announce + byType.scrape;
  const total = counts.connect + counts.announce + counts.scrape;
  return {
    ...loadRate(seconds, responses, total, [cpu0, cpu1], problems),
    responses,
    byType,
    lost,
    invalid,
    late,
  };
}

if (import.meta.main) {
  await loadMain("deno run --allow-ffi harness/load/udp_load.ts", UDP_LOAD_DEFAULTS, runUdpLoad);
}
