/**
 * aria2 against a libtorrent seeder, for the interop tests: the seeder
 * (`tests/interop/libtorrent_transfer.py --seed-only`) started and read until it seeds, and
 * aria2c run with DHT, LPD and PEX off, so the two can find each other only through the
 * tracker.
 *
 * @module
 */

import assert from "assert";
import { ROOT } from "./shoal.ts";

/** Debian's interpreter: python3-libtorrent lives there. */
export const PYTHON = "/usr/bin/python3";
const SCRIPT = `${ROOT}tests/interop/libtorrent_transfer.py`;

/** A libtorrent seeder that is seeding. */
export interface Seeder {
  /** Its torrent's SHA-1 of the payload and info hash (hex). */
  ready: { sha1: string; info_hash: string };
  /** Stops it (it sends `stopped`) and returns its exit code. */
  stop(): Promise<number>;
}

/** Starts a libtorrent seeder of `size` bytes announcing to `tracker`, writing `torrent`. */
export async function startSeeder(tracker: string, torrent: string, size: number): Promise<Seeder> {
  const child = new Deno.Command(PYTHON, {
    args: [SCRIPT, "--tracker", tracker, "--seed-only", torrent, "--size", String(size)]
      .concat(["--timeout", "90"]),
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let stopped: Promise<number> | null = null;
  const stop = () =>
    stopped ??= (async () => {
      await child.stdin.close().catch(() => {});
      const { code } = await child.status;
      lines.releaseLock();
      return code;
    })();
  try {
    const { value } = await lines.read();
    const ready = JSON.parse(value!.trim().split("\n")[0]);
    assert.equal(ready.ready, true, value);
    return { ready, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Runs aria2c on `torrent` into `dir`, with `extra` flags; its exit code and output. */
export async function aria2(
  torrent: string,
  dir: string,
  extra: string[] = [],
): Promise<{ code: number; log: string }> {
  const out = await new Deno.Command("aria2c", {
    args: [
      "--enable-dht=false",
      "--enable-dht6=false",
      "--bt-enable-lpd=false",
      "--enable-peer-exchange=false",
      ...extra,
      "--seed-time=0.05",
      "--listen-port=6881-6999",
      "--summary-interval=0",
      "--console-log-level=warn",
      `--dir=${dir}`,
      torrent,
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(90_000),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, log: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

/** The SHA-1 of `b` as hex. */
export async function sha1Hex(b: Uint8Array<ArrayBuffer>): Promise<string> {
  return Array.from(new Uint8Array(await crypto.subtle.digest("SHA-1", b)))
    .map((x) => x.toString(16).padStart(2, "0")).join("");
}
