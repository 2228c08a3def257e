/**
 * The WebTorrent browser driver (`tests/browser/webtorrent_e2e.ts`) run to completion for a
 * test: its JSON line, with the tracker's output in the message when it failed.
 *
 * @module
 */

import assert from "assert";
import { ROOT, type RunningShoal } from "./shoal.ts";

/** The driver's JSON line: a transfer's, or `--refused`'s. */
export interface DriverResult {
  /** Why it failed, if it did (with `logs`). */
  error?: string;
  /** The pages' console, on failure. */
  logs?: string[];
  /** SHA-256 of the seeded bytes. */
  want: string;
  /** SHA-256 of the downloaded bytes. */
  got: string;
  /** The info hash as WebTorrent's binary string. */
  binary: string;
  /** Peers the leecher saw. */
  peers: number;
  /** The tracker's scrape of the torrent after the transfer. */
  scrape: { complete: number; incomplete: number };
  /** `--refused`: the warnings the page's torrent got. */
  warnings: string[];
}

/** Runs the driver with `args` (the tracker URL first) against `shoal`; its JSON line. */
export async function browserDriver(shoal: RunningShoal, args: string[]): Promise<DriverResult> {
  // The browser driver needs -A (playwright-core reads /proc); this runner does not.
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}tests/browser/webtorrent_e2e.ts`, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `driver failed: ${text}\n${stderr}`);
  const r = JSON.parse(text.split("\n").pop()!);
  assert.ok(!r.error, `${r.error}\n${(r.logs ?? []).join("\n")}\n${shoal.output.join("\n")}`);
  return r;
}
