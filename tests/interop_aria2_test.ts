/**
 * Another real client: aria2 (Debian's `aria2`, DHT, LPD and PEX off) downloads a file from a
 * libtorrent seeder, the two finding each other only through `shoal http`; a scrape then
 * counts the download. The seeder is `tests/interop/libtorrent_transfer.py --seed-only`.
 *
 * Ignored, with the reason printed, when aria2c or python3-libtorrent is missing.
 */
import assert from "assert";
import { processTest, startShoalWith } from "./helpers/shoal.ts";
import { aria2, PYTHON, sha1Hex, startSeeder } from "./helpers/aria2.ts";
import { bdecode, HttpClient, pct } from "./helpers/http_client.ts";
import type { BencodeValue } from "../http/bencode.ts";

const SIZE = 2 * 1024 * 1024;

async function works(cmd: string, args: string[]): Promise<boolean> {
  try {
    return (await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

const why = !await works("aria2c", ["--version"])
  ? "aria2c is missing (apt-get install aria2; .ci/run does)"
  : !await works(PYTHON, ["-c", "import libtorrent"])
  ? "python3-libtorrent is missing (apt-get install python3-libtorrent)"
  : null;
if (why) console.log(`IGNORED the aria2 interop test: ${why}`);

processTest(
  "aria2 downloads from a libtorrent seeder found through shoal http",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "shoal-aria2-" });
    const shoal = await startShoalWith("http", {
      network: { use_ipv6: false, min_announce_interval: 0 },
      protocol: { peer_announce_interval: 60 },
    });
    const l = shoal.listening.find((x) => !x.metrics)!;
    const tracker = `http://127.0.0.1:${l.port}/announce`;
    const torrent = `${dir}/file.torrent`;
    const seeder = await startSeeder(tracker, torrent, SIZE);
    try {
      const { ready } = seeder;
      const out = await aria2(torrent, `${dir}/out`);
      assert.equal(out.code, 0, `aria2c failed:\n${out.log}\nshoal:\n${shoal.output.join("\n")}`);
      const got = await Deno.readFile(`${dir}/out/payload.bin`).catch(() => null) ??
        await findPayload(`${dir}/out`);
      assert.equal(got.length, SIZE);
      assert.equal(await sha1Hex(got), ready.sha1, "aria2's file matches the seeder's");
      // aria2 announced `completed`: scrape counts the download.
      const c = await HttpClient.connect("127.0.0.1", l.port);
      const hash = Uint8Array.from(ready.info_hash.match(/../g)!, (h: string) => parseInt(h, 16));
      const files = bdecode(await c.get(`/scrape?info_hash=${pct(hash)}`)).get("files") as Map<
        string,
        Map<string, BencodeValue>
      >;
      c.close();
      const f = files.get(String.fromCharCode(...hash));
      assert.ok(f, "the torrent is known");
      assert.ok(Number(f.get("downloaded")) >= 1, "aria2's completed event counted");
    } finally {
      await seeder.stop();
      assert.equal(await shoal.stop(), 0, shoal.output.join("\n"));
      await Deno.remove(dir, { recursive: true });
    }
  },
  { ignore: why !== null },
);

/** The one file aria2 wrote under `dir`. */
async function findPayload(dir: string): Promise<Uint8Array<ArrayBuffer>> {
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && !e.name.endsWith(".aria2")) return await Deno.readFile(`${dir}/${e.name}`);
  }
  throw new Error(`no file under ${dir}`);
}
