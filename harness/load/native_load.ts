/**
 * The C load generators: `ws_load.c` (the load of `ws_load.ts`, at a fraction of its CPU per
 * message) and `http_load.c` (HTTP tracker announces and scrapes, keep-alive or a connection per
 * request). Builds them with gcc, cached under the harness's cache directory by a hash of their
 * sources and flags, runs them and returns the JSON line they print.
 *
 * Usage: `deno run --allow-read --allow-write --allow-run harness/load/native_load.ts ws|http
 * [options]` builds the generator and runs it with the options (`--help` lists them), its output
 * as it is.
 *
 * @module
 */

import { CACHE, run } from "../process.ts";
import { jsonLineOf, type LoadRate } from "./cli.ts";
import type { WsLoadOptions, WsLoadResult } from "./ws_load.ts";

/** This folder, where the C sources are. */
const HERE = new URL(".", import.meta.url).pathname;

/** The C load generators. */
export type NativeLoad = "ws_load" | "http_load";

const SOURCES: Record<NativeLoad, string[]> = {
  ws_load: ["ws_load.c", "load_common.h"],
  http_load: ["http_load.c", "load_common.h"],
};
const CFLAGS = ["-O2", "-Wall", "-Wextra"];
const LIBS: Record<NativeLoad, string[]> = { ws_load: [], http_load: ["-lm"] };

/** What `ws_load.c` adds to `WsLoadResult`. */
export interface NativeWsLoadResult extends WsLoadResult {
  /** Threads the generator ran (1). */
  generatorThreads: number;
}

/** Options of `http_load.c` (its `--help` prints the defaults). */
export interface HttpLoadOptions {
  /** Tracker address, e.g. `127.0.0.1:3000` (default). */
  target: string;
  /** Seconds of measured load, after `warmup` (10). */
  seconds: number;
  /** Seconds of load before measuring (1). */
  warmup: number;
  /** Connections at a time (64). */
  connections: number;
  /** Torrents in the population (100000). */
  torrents: number;
  /** Peers in the population, each announcing to one torrent (1000000). */
  peers: number;
  /** `numwant` of announces (50). */
  numwant: number;
  /**
   * `keepalive` (HTTP/1.1 keep-alive, default), `close` (a connection per request), or
   * `libtorrent` (a connection per announce, shaped as libtorrent 2.0 sends it; no scrapes).
   */
  mode: HttpLoadMode;
  /** Requests in flight per keep-alive connection (1). */
  pipeline: number;
  /** Popularity skew: torrent = floor(torrents * u^skew) (3). */
  skew: number;
  /** Share of requests that are scrapes (0.1). */
  scrapeShare: number;
  /** Most hashes in a scrape (10). */
  scrapeMax: number;
  /** Share of peers that seed (0.75). */
  seederShare: number;
  /** Print a progress line per second on stderr (true). */
  progress: boolean;
  /**
   * A file of passkeys, one a line ("": none, the default): each peer announces to
   * `/KEY/announce` with one of them, drawn at random per peer; scrapes go to `/KEY/scrape`.
   */
  keys: string;
}

/** How `http_load.c` connects and what its announces look like. */
export type HttpLoadMode = "keepalive" | "close" | "libtorrent";

/** What one `http_load.c` run measured. */
export interface HttpLoadResult extends LoadRate {
  /** Well-formed responses (failures included) in the measured window. */
  responses: number;
  /** Responses in the window: announces with `8:interval`, scrapes with `5:files`, failures. */
  byType: { announce: number; scrape: number; failure: number };
  /** Bad status, malformed or unexpected responses, failed connects, in the window. */
  errors: number;
  /** Requests left unanswered by a connection the server closed, in the window. */
  closedEarly: number;
  /** Announces answered per second. */
  announcesPerSecond: number;
  /** Connections opened after the first ones (one per request in `close` mode). */
  reconnects: number;
  /** Threads the generator ran (1). */
  generatorThreads: number;
  /** The mode it ran. */
  mode: HttpLoadMode;
  /** Connections at a time. */
  connections: number;
  /** Requests in flight per connection. */
  pipeline: number;
}

async function sourceHash(name: NativeLoad): Promise<string> {
  const parts = [[...CFLAGS, ...LIBS[name]].join(" ")];
  for (const f of SOURCES[name]) parts.push(await Deno.readTextFile(`${HERE}${f}`));
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(parts.join("\0")),
  );
  return [...new Uint8Array(digest).slice(0, 6)].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/**
 * Builds `name` unless the cache holds a build of the same sources; returns the binary's path.
 * A build goes to a temporary name first, so concurrent builds never run a half-written file.
 */
export async function buildNativeLoad(name: NativeLoad): Promise<string> {
  const bin = `${CACHE}/${name}-${await sourceHash(name)}`;
  try {
    await Deno.stat(bin);
    return bin;
  } catch { /* not built yet */ }
  await Deno.mkdir(CACHE, { recursive: true });
  const tmp = `${bin}.${Deno.pid}.tmp`;
  await run("gcc", [...CFLAGS, "-o", tmp, `${HERE}${name}.c`, ...LIBS[name]]);
  await Deno.rename(tmp, bin);
  // Builds of older sources are of no more use.
  for await (const e of Deno.readDir(CACHE)) {
    if (e.name.startsWith(`${name}-`) && `${CACHE}/${e.name}` !== bin && !e.name.endsWith(".tmp")) {
      await Deno.remove(`${CACHE}/${e.name}`).catch(() => {});
    }
  }
  return bin;
}

/** `{ answerShare: 0.5, progress: false }` → `["--answer-share", "0.5", "--no-progress"]`. */
export function toFlags(options: object): string[] {
  const args: string[] = [];
  for (const [k, v] of Object.entries(options)) {
    if (v === undefined) continue;
    const flag = k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
    if (typeof v === "boolean") args.push(v ? `--${flag}` : `--no-${flag}`);
    else args.push(`--${flag}`, String(v));
  }
  return args;
}

/** Builds and runs `name` with `args`; resolves with the JSON line it printed. */
export async function runNativeLoad<T>(name: NativeLoad, args: string[]): Promise<T> {
  return jsonLineOf<T>(await buildNativeLoad(name), args, `${name} ${args.join(" ")}`);
}

/** Runs `ws_load.c` (options as `ws_load.ts` takes them, plus `batchUs`, `answerDelayMs`). */
export function runNativeWsLoad(
  o: Partial<WsLoadOptions> & { batchUs?: number; answerDelayMs?: number },
): Promise<NativeWsLoadResult> {
  return runNativeLoad("ws_load", toFlags(o));
}

/** Runs `http_load.c`. */
export function runHttpLoad(o: Partial<HttpLoadOptions>): Promise<HttpLoadResult> {
  return runNativeLoad("http_load", toFlags(o));
}

if (import.meta.main) {
  const [which, ...args] = Deno.args.filter((a) => a !== "--");
  const name = which === "ws" ? "ws_load" : which === "http" ? "http_load" : null;
  if (name === null) {
    console.error("Usage: harness/load/native_load.ts ws|http [options] (--help lists them)");
    Deno.exit(2);
  }
  const bin = await buildNativeLoad(name);
  const status = await new Deno.Command(bin, { args }).spawn().status;
  Deno.exit(status.code);
}
