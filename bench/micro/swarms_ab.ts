/**
 * The request worker's batch work of several checkouts, timed side by side in one process:
 * `handleRequestBatch` over the UDP bench's load shape (1M peers over 100k torrents of skewed
 * popularity, 75% seeders, numwant 50), in batches of 64, rounds alternating between
 * checkouts. With `--full` every peer has announced first (a tracker long in service); else
 * each round starts from empty swarms, as the bench's 8 s of load does. Peers and torrents
 * come from one seeded generator, so every checkout sees the same announces.
 *
 * Usage: `deno run --allow-read bench/micro/swarms_ab.ts [--full] [--rounds 6] DIR...`, each DIR a
 * checkout of shoal (e.g. `.` and a clone at an older commit). Prints the median ns per
 * announce of each and all its rounds.
 *
 * @module
 */

import { parseArgs } from "args";
import {
  A_ADDR,
  A_EVENT,
  A_FLAGS,
  A_INFO_HASH,
  A_PEER_ID,
  A_PORT,
  A_TOKEN,
  A_WANT,
  ANNOUNCE_LEN,
  ANNOUNCE_SEEDER,
  REC_FAMILY,
  REQ_ANNOUNCE,
} from "../../core/records.ts";
import { encodeAddr } from "../../shared/net/address.ts";
import { benchInfoHash } from "../../harness/load/udp_load.ts";

const PEERS = 1_000_000, TORRENTS = 100_000, BATCH = 64, PER_ROUND = 1_024_000;
/**
 * Every checkout reads this checkout's record layout (`core/records.ts`): compare checkouts
 * from the one that made the core (before it, announces were BEP 15 packets in `udp/`).
 */
const REC = ANNOUNCE_LEN;
const LOCALHOST = new Uint8Array(18);
encodeAddr("127.0.0.1", 6881, LOCALHOST, 0);

const { values: args, positionals: dirs } = parseArgs({
  args: Deno.args.filter((a) => a !== "--"),
  options: { full: { type: "boolean", default: false }, rounds: { type: "string", default: "6" } },
  allowPositionals: true,
});
if (dirs.length === 0) {
  console.error("usage: swarms_ab.ts [--full] [--rounds N] DIR...");
  Deno.exit(2);
}
const rounds = Number(args.rounds);

let seed = 12345;
const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
const torrentOf = new Int32Array(PEERS), portOf = new Uint16Array(PEERS);
const inTorrent = new Int32Array(TORRENTS);
for (let p = 0; p < PEERS; p++) {
  const t = Math.min(TORRENTS - 1, Math.floor(TORRENTS * rnd() ** 3));
  torrentOf[p] = t;
  portOf[p] = 1 + (inTorrent[t]++ % 65535);
}

/** Writes peer `p`'s announce with `event` as the record at `buf[at]` (127.0.0.1). */
function record(buf: Uint8Array, dv: DataView, at: number, p: number, event: number): void {
  buf.fill(0, at, at + REC);
  buf[at] = REQ_ANNOUNCE;
  buf[at + REC_FAMILY] = 4;
  const seeder = (Math.imul(p, 2654435761) >>> 0) / 4294967296 < 0.75;
  buf[at + A_FLAGS] = seeder ? ANNOUNCE_SEEDER : 0;
  buf[at + A_EVENT] = event;
  buf.set(LOCALHOST, at + A_ADDR);
  dv.setUint32(at + A_TOKEN, p, true);
  dv.setUint16(at + A_PORT, portOf[p]);
  dv.setUint16(at + A_WANT, 50, true);
  benchInfoHash(torrentOf[p], buf, at + A_INFO_HASH);
  dv.setUint32(at + A_PEER_ID + 16, p);
}

interface Subject {
  dir: string;
  fresh: () => void;
  run: (batch: Uint8Array) => void;
  ns: number[];
}

const subjects: Subject[] = [];
for (const dir of dirs) {
  const root = new URL(dir.endsWith("/") ? dir : dir + "/", `file://${Deno.cwd()}/`);
  const { Swarms } = await import(new URL("core/swarms.ts", root).href);
  const { handleRequestBatch } = await import(new URL("core/request_batch.ts", root).href);
  const { BatchWriter } = await import(new URL("shared/runtime/channel.ts", root).href);
  const { AccessList } = await import(new URL("shared/store/access_list.ts", root).href);
  const settings = { interval: 900 };
  const access = new AccessList(), w = new BatchWriter();
  let swarms = new Swarms(settings, new Uint32Array([1, 2, 3, 4]));
  subjects.push({
    dir,
    fresh: () => swarms = new Swarms(settings, new Uint32Array([1, 2, 3, 4])),
    run: (batch) => {
      handleRequestBatch(swarms, access, batch, w, 1000);
      w.clear();
    },
    ns: [],
  });
}

const big = new Uint8Array(PER_ROUND * REC), bigView = new DataView(big.buffer);
const batches = Array.from(
  { length: PER_ROUND / BATCH },
  (_, k) => big.subarray(k * BATCH * REC, (k + 1) * BATCH * REC),
);
const fill = (peer: (i: number) => number, event: number) => {
  for (let i = 0; i < PER_ROUND; i++) record(big, bigView, i * REC, peer(i), event);
};

if (args.full) {
  // Every peer announces `started` once, in order, then rounds of random re-announces.
  for (let from = 0; from < PEERS; from += PER_ROUND) {
    fill((i) => Math.min(PEERS - 1, from + i), 2);
    for (const s of subjects) for (const b of batches) s.run(b);
  }
}
for (let round = 0; round < rounds; round++) {
  fill(() => Math.floor(rnd() * PEERS), 0);
  for (const s of subjects) {
    if (!args.full) s.fresh();
    const t0 = performance.now();
    for (const b of batches) s.run(b);
    s.ns.push((performance.now() - t0) * 1e6 / PER_ROUND);
  }
}
for (const s of subjects) {
  const sorted = [...s.ns].sort((a, b) => a - b);
  const all = s.ns.map((x) => x.toFixed(0)).join(" ");
  console.log(`${s.dir}: ${sorted[sorted.length >> 1].toFixed(0)} ns per announce (${all})`);
}
