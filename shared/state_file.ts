/**
 * The state file: swarms saved on shutdown and loaded at start, so a restart loses nothing
 * a client would notice. Written atomically (temp file, fsync, rename); read back only if its
 * header, length and checksum all agree, so a torn or foreign file is reported and ignored.
 *
 * Layout, little-endian:
 *
 * | bytes | field |
 * |---|---|
 * | 8 | magic `SHOALST2` (the last digit is the format version) |
 * | 1 | kind: 1 udp, 2 ws |
 * | 3 | zero |
 * | 4 | saved at, Unix seconds |
 * | 4 | body length |
 * | body | torrent entries |
 * | 4 | FNV-1a of the body |
 *
 * A torrent entry is its info hash (20), completed count (u32), IPv4 and IPv6 peer counts
 * (u32 each), then that many peer records of `peerRecordLength(4|16)` bytes: IP, port
 * (big-endian), peer id, flags, one spare byte, last announce (u32 wall-clock seconds). ws
 * saves no peers (their connections do not survive a restart), only torrents and completed
 * counts. Format 1 (peer id before the IP) is refused with a message saying so.
 *
 * @module
 */

import { getU32LE, setU32LE } from "./bytes.ts";
import { BatchWriter } from "./channel.ts";
import { HalfSipHash13 } from "./hash.ts";
import type { Logger } from "./log.ts";
import type { Pool } from "./pool.ts";

const MAGIC = "SHOALST2";
const HEADER = 20;
/** Bytes of a torrent entry before its peer records. */
export const ENTRY_HEADER = 32;

/** Which tracker wrote the file. */
export type StateKind = "udp" | "ws";

/** Bytes of one saved peer with an `ipLen`-byte IP. */
export function peerRecordLength(ipLen: number): number {
  return 28 + ipLen;
}

function fnv1a(b: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return h >>> 0;
}

/** Appends `n` bytes to `w` and returns where they start. */
export function take(w: BatchWriter, n: number): number {
  const at = w.reserve(n);
  w.len += n;
  return at;
}

/** Appends a torrent entry header to `w`; returns its offset (to patch peer counts). */
export function writeEntry(
  w: BatchWriter,
  hash: Uint8Array,
  h: number,
  completed: number,
  n4: number,
  n6: number,
): number {
  const at = take(w, ENTRY_HEADER);
  w.buf.set(hash.subarray(h, h + 20), at);
  setU32LE(w.buf, at + 20, completed);
  setU32LE(w.buf, at + 24, n4);
  setU32LE(w.buf, at + 28, n6);
  return at;
}

/** One torrent entry of a body, as offsets. */
export interface Entry {
  /** Offset of the info hash. */
  at: number;
  /** Completed count. */
  completed: number;
  /** IPv4 peers. */
  n4: number;
  /** IPv6 peers. */
  n6: number;
  /** Offset of the first peer record. */
  peers: number;
  /** Offset just past the entry. */
  end: number;
}

/** The entries of `body`; throws on one that runs past the end. */
export function* entries(body: Uint8Array): Generator<Entry> {
  let at = 0;
  while (at < body.length) {
    if (at + ENTRY_HEADER > body.length) throw new Error("truncated torrent entry");
    const completed = getU32LE(body, at + 20);
    const n4 = getU32LE(body, at + 24), n6 = getU32LE(body, at + 28);
    const peers = at + ENTRY_HEADER;
    const end = peers + n4 * peerRecordLength(4) + n6 * peerRecordLength(16);
    if (end > body.length) throw new Error("truncated peer list");
    yield { at, completed, n4, n6, peers, end };
    at = end;
  }
}

/**
 * Splits `body` into one body per request worker, by the shard key the socket workers use
 * (a restart may change the number of request workers, and always changes the key).
 */
export function shardEntries(body: Uint8Array, key: Uint32Array, shards: number): Uint8Array[] {
  const hasher = new HalfSipHash13(key[0], key[1]);
  const parts = Array.from({ length: shards }, () => new BatchWriter());
  for (const e of entries(body)) {
    const w = parts[hasher.hash(body, e.at, 20) % shards];
    w.buf.set(body.subarray(e.at, e.end), take(w, e.end - e.at));
  }
  return parts.map((w) => w.buf.slice(0, w.len));
}

/** Writes `parts` (the request workers' entries) to `path` atomically; returns its size. */
export async function writeState(
  path: string,
  kind: StateKind,
  parts: Uint8Array[],
  now = Math.floor(Date.now() / 1000),
): Promise<number> {
  const bodyLen = parts.reduce((n, p) => n + p.length, 0);
  const file = new Uint8Array(HEADER + bodyLen + 4);
  file.set(new TextEncoder().encode(MAGIC), 0);
  file[8] = kind === "udp" ? 1 : 2;
  setU32LE(file, 12, now);
  setU32LE(file, 16, bodyLen);
  let at = HEADER;
  for (const p of parts) {
    file.set(p, at);
    at += p.length;
  }
  setU32LE(file, at, fnv1a(file.subarray(HEADER, at)));
  const tmp = `${path}.tmp`;
  const f = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
  try {
    let off = 0;
    while (off < file.length) off += await f.write(file.subarray(off));
    await f.sync();
  } finally {
    f.close();
  }
  await Deno.rename(tmp, path);
  return file.length;
}

/**
 * Reads the body of the state file at `path`: null when there is none, else the body.
 * Throws an `Error` saying what is wrong with a file that exists but cannot be used.
 */
export async function readState(path: string, kind: StateKind): Promise<Uint8Array | null> {
  let file: Uint8Array;
  try {
    file = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw new Error(`cannot read it: ${(err as Error).message}`);
  }
  const magic = new TextDecoder().decode(file.subarray(0, 8));
  if (magic === "SHOALST1") {
    throw new Error("state format 1, written by an older shoal; this one reads format 2");
  }
  if (file.length < HEADER + 4 || magic !== MAGIC) throw new Error("not a shoal state file");
  if (file[8] !== (kind === "udp" ? 1 : 2)) {
    throw new Error(`written by shoal ${kind === "udp" ? "ws" : "udp"}, not ${kind}`);
  }
  const bodyLen = getU32LE(file, 16);
  if (file.length !== HEADER + bodyLen + 4) {
    throw new Error(`truncated: ${file.length} bytes, expected ${HEADER + bodyLen + 4}`);
  }
  const body = file.subarray(HEADER, HEADER + bodyLen);
  if (fnv1a(body) !== getU32LE(file, HEADER + bodyLen)) throw new Error("checksum mismatch");
  for (const _ of entries(body)) { /* validates every entry's length */ }
  return body;
}

/**
 * Reads the state file at `path` (if any) and splits it over `shards` request workers.
 * A file that cannot be used is reported and ignored: the tracker starts empty.
 */
export async function loadState(
  path: string,
  kind: StateKind,
  key: Uint32Array,
  shards: number,
  log: Logger,
): Promise<Uint8Array[] | null> {
  if (path === "") return null;
  try {
    const body = await readState(path, kind);
    if (body === null) {
      log.info(`state.path: ${path} does not exist yet; starting empty`);
      return null;
    }
    return shardEntries(body, key, shards);
  } catch (err) {
    log.error(`state.path: ignoring ${path}: ${(err as Error).message}; starting empty`);
    return null;
  }
}

/**
 * Saves the swarms of `pool`'s request workers to `path` on SIGTERM/SIGINT and every
 * `intervalS` seconds (0: only on stop); nothing when `path` is empty. A save keeps the previous
 * file if any worker does not answer within 10 s, and saves run one at a time (a periodic save
 * and the one on stop must not share the temp file).
 */
export function keepState(
  pool: Pool,
  path: string,
  intervalS: number,
  kind: StateKind,
  expected: number,
  log: Logger,
): void {
  if (path === "") return pool.stopOnSignals();
  let saving = Promise.resolve();
  const save = (): Promise<void> => {
    const run = saving.then(async () => {
      const replies = await pool.collect({ type: "save?" }, "saved", "request", 10000);
      if (replies.length !== expected) {
        // A partial snapshot would silently lose swarms.
        log.error(
          `state.path: ${replies.length} of ${expected} request workers answered; not saved`,
        );
        return;
      }
      const parts = replies.map((r) => (r as { body: Uint8Array }).body);
      const bytes = await writeState(path, kind, parts);
      log.info(`state saved to ${path} (${bytes} bytes)`);
    });
    saving = run.catch(() => {});
    return run;
  };
  pool.stopOnSignals(save);
  if (intervalS === 0) return;
  setInterval(() => {
    save().catch((err) => log.error(`state.path: periodic save failed: ${(err as Error).message}`));
  }, intervalS * 1000);
}
