/**
 * Headless Chromium for browser tests (Debian's `chromium`, driven by playwright-core), and
 * the WebTorrent browser bundle from the npm registry (`npm pack`, cached in `.cache/`).
 *
 * playwright-core reads files under /proc that Deno only grants with `--allow-all`, so browser
 * drivers run as their own `deno run -A` process, while the test runner keeps narrow flags.
 *
 * @module
 */

import { type Browser, chromium } from "playwright-core";
import { ROOT } from "../helpers/shoal.ts";
import { CHROMIUM } from "./requirements.ts";

/** The pinned WebTorrent release whose browser bundle the tests load. */
export const WEBTORRENT_VERSION = "3.0.21";

/** Starts headless Chromium with the flags this closed network needs. */
export async function launchChromium(): Promise<Browser> {
  return await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      // Real host candidates instead of mDNS names, and loopback ones, for WebRTC on one host.
      "--disable-features=WebRtcHideLocalIpsWithMdns",
      "--allow-loopback-in-peer-connection",
    ],
  });
}

async function run(cmd: string, args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Path of `webtorrent.min.js`, fetched with `npm pack` on first use. */
export async function webtorrentBundle(): Promise<string> {
  const dir = `${ROOT}.cache/webtorrent-${WEBTORRENT_VERSION}`;
  const file = `${dir}/package/dist/webtorrent.min.js`;
  try {
    await Deno.stat(file);
    return file;
  } catch { /* not cached yet */ }
  await Deno.mkdir(dir, { recursive: true });
  await run("npm", ["pack", `webtorrent@${WEBTORRENT_VERSION}`, "--silent"], dir);
  await run("tar", [
    "-xzf",
    `webtorrent-${WEBTORRENT_VERSION}.tgz`,
    "package/dist/webtorrent.min.js",
  ], dir);
  return file;
}
