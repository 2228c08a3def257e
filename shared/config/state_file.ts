/**
 * The state file's framing: swarms saved on shutdown and loaded at start, so a restart loses
 * nothing a client would notice. Written atomically (temp file, fsync, rename); read back only
 * if its header, length and checksum all agree, so a torn or foreign file is reported and
 * ignored. What an entry holds belongs to the store that wrote it (`core/swarms.ts`,
 * `ws/swarms.ts`), which names its own field offsets and format number; the framing only
 * needs each entry's info hash, to re-shard entries over however many request workers run now.
 *
 * Layout, little-endian:
 *
 * | bytes | field |
 * |---|---|
 * | 8 | magic `SHOALST3` (the last character is the framing's version) |
 * | 1 | kind: 1 udp, 2 ws |
 * | 1 | the store's entry format |
 * | 2 | zero |
 * | 4 | saved at, Unix seconds |
 * | 4 | body length |
 * | body | entries: u32 payload length, 20-byte info hash, payload |
 * | 4 | FNV-1a of the body |
 *
 * Files of versions 1 and 2 (older shoals) are refused with a message saying so.
 *
 * @module
 */

import { getU32LE, setU32LE } from "../base/bytes.ts";
import { ByteBuffer } from "../base/byte_buffer.ts";
import { wallSeconds } from "../base/clock.ts";
import type { Logger } from "../base/log.ts";
import { Sharder } from "../store/shard.ts";

const MAGIC = "SHOALST3";
const HEADER = 20;
/** Bytes of an entry before its payload: length and info hash. */
const ENTRY_HEAD = 24;

/** Which tracker wrote the file, and the format of its entries. */
export interface StateKind {
  /** `udp` or `ws`. */
  kind: "udp" | "ws";
  /** The store's entry format. */
  format: number;
}

function fnv1a(b: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return h >>> 0;
}

/** Starts an entry for the info hash at `hash[h]`; its payload follows; `endEntry` closes it. */
export function beginEntry(w: ByteBuffer, hash: Uint8Array, h: number): number {
  const at = w.take(ENTRY_HEAD);
  w.buf.set(hash.subarray(h, h + 20), at + 4);
  return at;
}

/** Closes the entry begun at `at`. */
export function endEntry(w: ByteBuffer, at: number): void {
  setU32LE(w.buf, at, w.len - at - ENTRY_HEAD);
}

/** One entry of a body, as offsets. */
export interface Entry {
  /** Offset of the info hash. */
  hash: number;
  /** Offset of the payload. */
  payload: number;
  /** Offset just past the entry. */
  end: number;
}

/** The entries of `body`; throws on one that runs past the end. */
export function* entries(body: Uint8Array): Generator<Entry> {
  for (let at = 0; at < body.length;) {
    if (at + ENTRY_HEAD > body.length) throw new Error("truncated entry");
    const end = at + ENTRY_HEAD + getU32LE(body, at);
    if (end > body.length) throw new Error("truncated entry");
    yield { hash: at + 4, payload: at + ENTRY_HEAD, end };
    at = end;
  }
}

/**
 * Splits `body` into one body per request worker by the process's shard key (a restart may
 * change the number of request workers, and always changes the key).
 */
export function shardEntries(body: Uint8Array, key: Uint32Array, shards: number): Uint8Array[] {
  const sharder = new Sharder(key, shards);
  const parts = Array.from({ length: shards }, () => new ByteBuffer());
  for (const e of entries(body)) {
    const w = parts[sharder.of(body, e.hash)];
    const start = e.hash - 4;
    w.append(body.subarray(start, e.end));
  }
  return parts.map((w) => w.bytes());
}

/** Writes `parts` (the request workers' entries) to `path` atomically; returns its size. */
export async function writeState(
  path: string,
  kind: StateKind,
  parts: Uint8Array[],
): Promise<number> {
  const bodyLen = parts.reduce((n, p) => n + p.length, 0);
  const file = new Uint8Array(HEADER + bodyLen + 4);
  file.set(new TextEncoder().encode(MAGIC), 0);
  file[8] = kind.kind === "udp" ? 1 : 2;
  file[9] = kind.format;
  setU32LE(file, 12, wallSeconds());
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
  const old = /^SHOALST([12])$/.exec(magic);
  if (old) {
    throw new Error(
      `state file version ${old[1]}, written by an older shoal; this one reads version 3 ` +
        `(the swarms refill from announces)`,
    );
  }
  if (file.length < HEADER + 4 || magic !== MAGIC) throw new Error("not a shoal state file");
  const written = file[8] === 1 ? "udp" : file[8] === 2 ? "ws" : "an unknown tracker";
  if (written !== kind.kind) throw new Error(`written by shoal ${written}, not ${kind.kind}`);
  if (file[9] !== kind.format) {
    throw new Error(
      `${kind.kind} entries in format ${file[9]}; this shoal reads format ${kind.format}`,
    );
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
