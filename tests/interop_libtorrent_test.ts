/**
 * A real third-party client: two libtorrent sessions (Debian's python3-libtorrent) with DHT,
 * LSD, UPnP and NAT-PMP off find each other only through `shoal udp` and move a file; the
 * scrape then counts them.
 */
import assert from "assert";
import { ROOT, startShoal, writeConfig } from "./helpers/shoal.ts";

const PYTHON = "/usr/bin/python3";

async function libtorrentMissing(): Promise<string | null> {
  try {
    const r = await new Deno.Command(PYTHON, { args: ["-c", "import libtorrent"], stderr: "piped" })
      .output();
    return r.success ? null : new TextDecoder().decode(r.stderr).trim().split("\n").pop()!;
  } catch (e) {
    return `${PYTHON} cannot run: ${(e as Error).message}`;
  }
}

const missing = await libtorrentMissing();
if (missing) {
  console.log(
    `SKIPPED libtorrent interop: python3-libtorrent is not installed (${missing}); ` +
      "install it with apt-get install python3-libtorrent (.ci/run does)",
  );
}

for (const family of [4, 6] as const) {
  Deno.test({
    name: `libtorrent peers find each other through shoal udp and move a file (IPv${family})`,
    ignore: missing !== null,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const file = await writeConfig(`socket_workers = 2
request_workers = 2
[network]
address = "127.0.0.1:0"
address_ipv6 = "[::1]:0"
io = "ffi"
[protocol]
peer_announce_interval = 60
[statistics]
interval = 0
`);
      const shoal = await startShoal(["udp", "-c", file], 2);
      try {
        const l = shoal.listening.find((x) => x.hostname.includes(":") === (family === 6))!;
        const host = family === 6 ? `[${l.hostname}]` : l.hostname;
        const out = await new Deno.Command(PYTHON, {
          args: [
            `${ROOT}tests/interop/libtorrent_transfer.py`,
            "--tracker",
            `udp://${host}:${l.port}/announce`,
            "--timeout",
            "60",
            ...(family === 6 ? ["--ipv6"] : []),
          ],
          stdout: "piped",
          stderr: "piped",
        }).output();
        const stdout = new TextDecoder().decode(out.stdout).trim();
        const stderr = new TextDecoder().decode(out.stderr);
        const report = JSON.parse(stdout.split("\n").pop() || "{}");
        assert.equal(out.code, 0, `transfer failed: ${stdout}\n${stderr}`);
        assert.equal(report.ok, true);
        assert.equal(report.sha1_match, true, "downloaded bytes differ");
        assert.equal(report.bytes, 3 * 1024 * 1024);
        assert.ok(report.peers_seen >= 1, "the leecher got the seeder from the tracker");
        assert.deepEqual(report.errors, []);
        assert.ok(report.scrape, `no scrape reply: ${stdout}`);
        assert.equal(report.scrape.complete, 2, "both peers seed after the transfer");
        assert.equal(report.scrape.incomplete, 0);
        assert.ok(report.scrape.downloaded >= 1, "the completed event was counted");
      } finally {
        assert.equal(await shoal.stop(), 0);
        await Deno.remove(file);
      }
    },
  });
}
