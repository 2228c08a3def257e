/**
 * A real client end to end: two pages in headless Chromium, each running the `webtorrent`
 * browser bundle, meet only through `shoal ws` (no ICE servers) and move a file over WebRTC.
 */
import assert from "assert";
import { processTest, ROOT, startShoalWith } from "./helpers/shoal.ts";
import { browserMissing } from "./browser/requirements.ts";
import { WsClient } from "../harness/ws_client.ts";

const missing = await browserMissing();
if (missing) console.log(`SKIPPED WebTorrent browser test: ${missing}`);

processTest(
  "WebTorrent in two Chromium pages moves a file, signalling only through shoal ws",
  async () => {
    const shoal = await startShoalWith("ws", { socket_workers: 2, request_workers: 2 });
    const tracker = `ws://127.0.0.1:${shoal.listening[0].port}`;
    try {
      // The browser driver needs -A (playwright-core reads /proc); this runner does not.
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `${ROOT}tests/browser/webtorrent_e2e.ts`, tracker],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout).trim();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, `driver failed: ${text}\n${stderr}`);
      const r = JSON.parse(text.split("\n").pop()!);
      assert.ok(!r.error, `${r.error}\n${(r.logs ?? []).join("\n")}\n${shoal.output.join("\n")}`);
      assert.equal(r.got, r.want, "the downloaded bytes are the seeded bytes");
      assert.ok(r.peers >= 1);

      assert.equal(r.scrape.complete + r.scrape.incomplete, 2, "the tracker saw both peers");
      assert.equal(r.scrape.complete, 2, "the leecher finished and announced it");
      // The browser is gone: closed connections leave the swarm at once.
      const c = await WsClient.connect(tracker);
      c.send({ action: "scrape", info_hash: r.binary });
      const files = (await c.next((m) => m.action === "scrape")).files;
      await c.close();
      assert.equal(files[r.binary].complete + files[r.binary].incomplete, 0);
      // The leecher's `completed` is counted (WebTorrent's seeder announces one too).
      assert.ok(files[r.binary].downloaded >= 1);
    } finally {
      assert.equal(await shoal.stop(), 0);
    }
  },
  { ignore: missing !== null },
);
