/**
 * A cluster of three shoal nodes over a real `nats-server`, met by a real client: a libtorrent
 * seeder announcing over UDP to node A and a libtorrent leecher announcing over HTTP to node B
 * (`shoal http`) find each other and move a file; the leecher's scrape on B and a UDP scrape on
 * node C, which neither client spoke to, count both. The
 * client side is `tests/interop/libtorrent_transfer.py`.
 *
 * Ignored, with the reason printed, when `/usr/bin/python3 -c "import libtorrent"` fails.
 */
import assert from "node:assert/strict";
import { hasNatsServer, startNats } from "../harness/nats.ts";
import { ROOT, type RunningShoal, startShoalWith } from "./helpers/shoal.ts";

const PYTHON = "/usr/bin/python3";
const SCRIPT = `${ROOT}tests/interop/libtorrent_transfer.py`;
const TRANSFER_TIMEOUT_S = 60;

const probe = await new Deno.Command(PYTHON, {
  args: ["-c", "import libtorrent"],
  stdout: "null",
  stderr: "null",
}).output().catch(() => null);
const missing = probe?.success ? null : `${PYTHON} -c "import libtorrent" failed`;
if (missing) {
  console.log(
    `IGNORED cluster interop test: ${missing}. Install python3-libtorrent (.ci/run does).`,
  );
}

function cluster(node: string, nats: string) {
  return {
    enabled: true,
    servers: nats,
    name: "interop",
    node,
    secret: "interop-cluster-secret-01",
    node_timeout: 2,
  };
}

function url(s: RunningShoal, scheme: "udp" | "http"): string {
  const l = s.listening.find((x) => x.scheme === scheme && !x.metrics);
  assert.ok(l, `no ${scheme} listening line:\n${s.output.join("\n")}`);
  return `${scheme}://${l.hostname}:${l.port}/announce`;
}

Deno.test({
  name:
    "cluster: libtorrent seeder on node A (UDP) and leecher on node B (HTTP) move a file; C counts both",
  ignore: missing !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    assert.ok(hasNatsServer(), "nats-server is not installed (.ci/run installs it)");
    const nats = await startNats();
    const running: RunningShoal[] = [];
    try {
      const udp = { network: { use_ipv6: false }, protocol: { peer_announce_interval: 60 } };
      const a = await startShoalWith("udp", { ...udp, cluster: cluster("a", nats.url) });
      running.push(a);
      const b = await startShoalWith("http", {
        network: { address_ipv6: "[::1]:0", min_announce_interval: 0 },
        cluster: cluster("b", nats.url),
      }, 2);
      running.push(b);
      const c = await startShoalWith("udp", { ...udp, cluster: cluster("c", nats.url) });
      running.push(c);
      for (const s of running) await s.waitFor(/cluster: nodes a, b, c/, 10_000);

      const out = await new Deno.Command(PYTHON, {
        args: [
          SCRIPT,
          "--tracker",
          url(a, "udp"),
          "--leecher-tracker",
          url(b, "http"),
          "--scrape-udp",
          url(c, "udp").slice("udp://".length, -"/announce".length),
          "--timeout",
          String(TRANSFER_TIMEOUT_S),
        ],
        stdout: "piped",
        stderr: "piped",
        stdin: "null",
        signal: AbortSignal.timeout((TRANSFER_TIMEOUT_S + 60) * 1000),
      }).output();
      const stdout = new TextDecoder().decode(out.stdout).trim();
      const context =
        `exit ${out.code}\nstdout: ${stdout}\nstderr: ${
          new TextDecoder().decode(out.stderr).trim()
        }\n` + running.map((s) => s.output.join("\n")).join("\n----\n");
      const report = JSON.parse(stdout.split("\n").pop() ?? "{}");
      assert.equal(out.code, 0, `transfer failed: ${report.reason}; ${context}`);
      assert.equal(report.sha1_match, true, context);
      assert.ok(report.peers_seen >= 1, `the leecher got no peer from node B; ${context}`);
      assert.equal(report.scrape?.complete, 2, `B's scrape: both seed after; ${context}`);

      // A scrape on node C, which neither client spoke to, counts both (while both seed).
      assert.deepEqual(report.udp_scrape, { seeders: 2, completed: 1, leechers: 0 }, context);
    } finally {
      for (const s of running) await s.stop();
      await nats.destroy();
    }
  },
});
