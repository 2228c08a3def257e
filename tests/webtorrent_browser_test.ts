/**
 * A real client end to end: two pages in headless Chromium, each running the `webtorrent`
 * browser bundle, meet only through `shoal ws` (no ICE servers) and move a file over WebRTC.
 */
import assert from "assert";
import { processTest, startShoalWith } from "./helpers/shoal.ts";
import { browserDriver } from "./helpers/browser_driver.ts";
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
      const r = await browserDriver(shoal, [tracker]);
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
