/**
 * A real client end to end: two pages in headless Chromium, each running the `webtorrent`
 * browser bundle, meet only through `shoal ws` (no ICE servers) and move a file over WebRTC.
 */
import assert from "assert";
import { startShoal, writeConfig } from "./helpers/shoal.ts";
import { browserMissing, launchChromium, webtorrentBundle } from "./helpers/browser.ts";
import { WsClient } from "./helpers/ws_client.ts";

const missing = await browserMissing();
if (missing) console.log(`SKIPPED WebTorrent browser test: ${missing}`);

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

Deno.test({
  name: "WebTorrent in two Chromium pages moves a file, signalling only through shoal ws",
  ignore: missing !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const bundle = await Deno.readFile(await webtorrentBundle());
    const file = await writeConfig(`socket_workers = 2
request_workers = 2
[network]
address = "127.0.0.1:0"
[statistics]
interval = 0
`);
    const shoal = await startShoal(["ws", "-c", file], 1);
    const tracker = `ws://127.0.0.1:${shoal.listening[0].port}`;
    // The pages come from a little local web server.
    const web = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
      const path = new URL(req.url).pathname;
      if (path === "/webtorrent.min.js") {
        return new Response(bundle, { headers: { "content-type": "text/javascript" } });
      }
      return new Response(PAGE, { headers: { "content-type": "text/html" } });
    });
    const site = `http://127.0.0.1:${web.addr.port}/`;
    const browser = await launchChromium();
    try {
      const payload = new Uint8Array(1 << 20);
      for (let i = 0; i < payload.length; i += 65536) {
        crypto.getRandomValues(payload.subarray(i, i + 65536));
      }
      const want = await sha256(payload);
      const [seeder, leecher] = await Promise.all([browser.newPage(), browser.newPage()]);
      const logs: string[] = [];
      for (const [name, p] of [["seeder", seeder], ["leecher", leecher]] as const) {
        p.on("console", (m) => logs.push(`${name}: ${m.text()}`));
        p.on("pageerror", (e) => logs.push(`${name} error: ${e.message}`));
        await p.goto(site);
        await p.evaluate(() =>
          localStorage.setItem("debug", "bittorrent-tracker*,simple-peer*,webtorrent*")
        );
        await p.reload();
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
            client.seed(f, { announce: [tracker] }, (t: { magnetURI: string }) =>
              resolve(t.magnetURI));
          }),
        { bytes: [...payload], tracker },
      );
      assert.match(magnet, /^magnet:\?xt=urn:btih:/);

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
        { magnet, tracker },
      ).catch((e) => {
        throw new Error(`leecher failed: ${e}\n${logs.join("\n")}\n${shoal.output.join("\n")}`);
      });
      assert.equal(got.hash, want, "the downloaded bytes are the seeded bytes");
      assert.ok(got.peers >= 1);

      // The tracker saw both peers of the swarm.
      const infoHash = /btih:([0-9a-f]{40})/i.exec(magnet)![1];
      const binary = String.fromCharCode(...infoHash.match(/../g)!.map((h) => parseInt(h, 16)));
      const c = await WsClient.connect(tracker);
      c.send({ action: "scrape", info_hash: binary });
      const files = (await c.next((m) => m.action === "scrape")).files;
      await c.close();
      assert.equal(files[binary].complete + files[binary].incomplete, 2);
    } finally {
      await browser.close();
      await web.shutdown();
      assert.equal(await shoal.stop(), 0);
      await Deno.remove(file);
    }
  },
});
