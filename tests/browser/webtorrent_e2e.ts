/**
 * Browser driver (run with `deno run -A`): two headless Chromium pages, each running the
 * WebTorrent browser bundle, seed and download a random file through the tracker given as
 * the first argument. Prints one JSON line: {magnet, want, got, peers}, or {error, logs}.
 *
 * `--leecher-tracker URL` gives the downloading page another tracker URL (say, its own
 * passkey). `--refused` only seeds, and prints {warnings}: the messages of the warnings and
 * errors the seeding torrent got in the second after its first one (within 15 s), such as a
 * tracker's failure reason.
 *
 * @module
 */

import { parseArgs } from "args";
import { launchChromium, webtorrentBundle } from "./chromium.ts";

const PAGE = `<!doctype html><meta charset="utf-8"><title>shoal e2e</title>
<script type="module">
import WebTorrent from "/webtorrent.min.js";
window.WebTorrent = WebTorrent;
window.ready = true;
</script>`;

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const { values: opts, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: { "leecher-tracker": { type: "string" }, refused: { type: "boolean" } },
});
const tracker = positionals[0];
const leecherTracker = opts["leecher-tracker"] ?? tracker;
const bundle = await Deno.readFile(await webtorrentBundle());
// The pages come from a little local web server.
const web = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
  if (new URL(req.url).pathname === "/webtorrent.min.js") {
    return new Response(bundle, { headers: { "content-type": "text/javascript" } });
  }
  return new Response(PAGE, { headers: { "content-type": "text/html" } });
});
const site = `http://127.0.0.1:${web.addr.port}/`;

/** The magnet link `m` without its trackers (`tr` parameters). */
function withoutTrackers(m: string): string {
  const [head, query = ""] = m.split("?", 2);
  return `${head}?${query.split("&").filter((p) => !p.startsWith("tr=")).join("&")}`;
}

/** `--refused`: one page seeds through `tracker`; prints the warnings its torrent gets. */
async function refused(): Promise<void> {
  const browser = await launchChromium();
  const logs: string[] = [];
  try {
    const page = await browser.newPage();
    page.on("console", (m) => logs.push(`seeder: ${m.text()}`));
    page.on("pageerror", (e) => logs.push(`seeder error: ${e.message}`));
    await page.goto(site);
    await page.waitForFunction(() => (window as unknown as { ready: boolean }).ready === true);
    const warnings = await page.evaluate(
      ({ bytes, tracker }) =>
        new Promise<string[]>((resolve) => {
          // deno-lint-ignore no-explicit-any
          const w = window as any;
          const client = new w.WebTorrent();
          const seen: string[] = [];
          const on = (e: Error) => {
            if (seen.push(e.message) === 1) setTimeout(() => resolve(seen), 1000);
          };
          client.on("error", on);
          const t = client.seed(new File([new Uint8Array(bytes)], "payload.bin"), {
            announce: [tracker],
          });
          t.on("warning", on);
          t.on("error", on);
          setTimeout(() => resolve(seen), 15000);
        }),
      { bytes: [...crypto.getRandomValues(new Uint8Array(65536))], tracker },
    );
    console.log(JSON.stringify({ warnings, logs }));
  } catch (e) {
    console.log(JSON.stringify({ error: String(e), logs }));
  } finally {
    await browser.close();
    await web.shutdown();
  }
}

if (opts.refused) {
  await refused();
  Deno.exit(0);
}
const browser = await launchChromium();
const logs: string[] = [];
try {
  const payload = new Uint8Array(1 << 20);
  for (let i = 0; i < payload.length; i += 65536) {
    crypto.getRandomValues(payload.subarray(i, i + 65536));
  }
  const want = await sha256(payload);
  const [seeder, leecher] = await Promise.all([browser.newPage(), browser.newPage()]);
  for (const [name, p] of [["seeder", seeder], ["leecher", leecher]] as const) {
    p.on("console", (m) => logs.push(`${name}: ${m.text()}`));
    p.on("pageerror", (e) => logs.push(`${name} error: ${e.message}`));
    await p.goto(site);
    await p.waitForFunction(() => (window as unknown as { ready: boolean }).ready === true);
  }

  const magnet = await seeder.evaluate(
    ({ bytes, tracker }) =>
      new Promise<string>((resolve, reject) => {
        // deno-lint-ignore no-explicit-any
        const w = window as any;
        const client = new w.WebTorrent();
        client.on("error", (e: Error) => reject(e.message));
        client.on("warning", (e: Error) => console.log("warning", e.message));
        const f = new File([new Uint8Array(bytes)], "payload.bin");
        client.seed(f, { announce: [tracker] }, (t: { magnetURI: string }) => resolve(t.magnetURI));
      }),
    { bytes: [...payload], tracker },
  );

  const got = await leecher.evaluate(
    ({ magnet, tracker }) =>
      new Promise<{ hash: string; peers: number }>((resolve, reject) => {
        // deno-lint-ignore no-explicit-any
        const w = window as any;
        const client = new w.WebTorrent();
        client.on("error", (e: Error) => reject(e.message));
        client.on("warning", (e: Error) => console.log("warning", e.message));
        // deno-lint-ignore no-explicit-any
        client.add(magnet, { announce: [tracker] }, (t: any) => {
          t.on("done", async () => {
            const buf = await t.files[0].arrayBuffer();
            const d = new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
            resolve({
              hash: [...d].map((b) => b.toString(16).padStart(2, "0")).join(""),
              peers: t.numPeers,
            });
          });
        });
        setTimeout(() => reject("no download within 60 s"), 60000);
      }),
    // A site's user downloads with their own key only: the magnet's `tr` (the seeder's URL,
    // and key) would also credit the leecher's traffic to the seeder's key, and WebTorrent
    // sends `completed` at once but `started` only once its offers are made, so through a
    // second tracker the download can end before the first announce to its own.
    {
      magnet: leecherTracker === tracker ? magnet : withoutTrackers(magnet),
      tracker: leecherTracker,
    },
  );
  // While both pages are open, the tracker should count both peers of the swarm.
  const hex = /btih:([0-9a-f]{40})/i.exec(magnet)![1];
  const binary = String.fromCharCode(...hex.match(/../g)!.map((h) => parseInt(h, 16)));
  const ws = new WebSocket(tracker);
  await new Promise((r) => (ws.onopen = r));
  ws.send(JSON.stringify({ action: "scrape", info_hash: binary }));
  const scrape = await new Promise<Record<string, number>>((resolve) => {
    ws.onmessage = (e) => resolve(JSON.parse(e.data).files[binary]);
  });
  ws.close();
  console.log(JSON.stringify({ magnet, binary, want, got: got.hash, peers: got.peers, scrape }));
} catch (e) {
  console.log(JSON.stringify({ error: String(e), logs }));
} finally {
  await browser.close();
  await web.shutdown();
}
