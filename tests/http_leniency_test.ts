/**
 * What real clients send that opentracker and bittorrent-tracker accept, against the real
 * `shoal http`: DNS names in `ip` (ignored, and counted when trusted), negative `numwant`,
 * any `compact` but 0, long `key`/`trackerid`, a missing `left`, `uploaded=-1`; the
 * `default_numwant` cap; and the scrape size the defaults promise, whose misfit is refused.
 */
import assert from "assert";
import {
  assertRefused,
  type ConfigValue,
  METRICS,
  metricsText,
  processTest,
  runShoal,
  runWithConfig,
  startShoalWith,
} from "./helpers/shoal.ts";
import { announceQuery, bdecode, compactPeers, HttpClient, pct } from "./helpers/http_client.ts";
import { randomId } from "./helpers/udp_client.ts";
import type { BencodeValue } from "../http/bencode.ts";
import { parse } from "toml";

const num = (v: BencodeValue | undefined) => Number(v);

/** Starts `shoal http` on 127.0.0.1 with `network` keys, and metrics. */
async function start(network: Record<string, ConfigValue> = {}) {
  const shoal = await startShoalWith("http", {
    log_level: "warn",
    network: { use_ipv6: false, ...network },
    metrics: METRICS,
  }, 2);
  const port = shoal.listening.find((l) => !l.metrics)!.port;
  const client = await HttpClient.connect("127.0.0.1", port);
  return {
    client,
    /** Announces `n` seeders of `info`, on ports 100 and up. */
    seeders: async (info: Uint8Array, n: number) => {
      for (let p = 0; p < n; p++) {
        await client.get(
          `/announce?${
            announceQuery({ info_hash: info, peer_id: randomId(), port: 100 + p, left: 0 })
          }`,
        );
      }
    },
    metric: async (name: string): Promise<number> => {
      const text = await metricsText(shoal);
      let sum = 0;
      for (const line of text.split("\n")) {
        if (line.startsWith(`${name}{`)) sum += +line.split(" ")[1];
      }
      return sum;
    },
    stop: async () => {
      client.close();
      assert.equal(await shoal.stop(), 0, shoal.output.join("\n"));
    },
  };
}

processTest("http: lenient where other trackers are, and the numwant cap holds", async (t) => {
  for (const trusted of [false, true]) {
    await t.step(
      `ip=, ipv4=, ipv6= that are not literal addresses (trusted: ${trusted})`,
      async () => {
        const s = await start({ trust_ip_parameter: trusted });
        try {
          const info = randomId();
          const odd = [
            "ip=tracker-test.example.org",
            "ipv6=fe80::1%25eth0",
            "ipv4=localhost",
          ];
          for (const [k, param] of odd.entries()) {
            const q = announceQuery({
              info_hash: info,
              peer_id: randomId(),
              port: 7000 + k,
              left: 0,
            });
            const d = bdecode(await s.client.get(`/announce?${q}&${param}`));
            assert.equal(d.get("failure reason"), undefined, param);
            assert.equal(num(d.get("complete")), k + 1, param);
          }
          // Each peer took its socket's address.
          const q = announceQuery({ info_hash: info, peer_id: randomId(), port: 7100, left: 5 });
          const d = bdecode(await s.client.get(`/announce?${q}`));
          assert.deepEqual(compactPeers(d.get("peers"), 6).sort(), [
            "127.0.0.1:7000",
            "127.0.0.1:7001",
            "127.0.0.1:7002",
          ]);
          const ignored = await s.metric("shoal_http_ignored_ip_parameters_total");
          assert.equal(ignored, trusted ? 3 : 0, "counted only where they would have been used");
        } finally {
          await s.stop();
        }
      },
    );
  }

  await t.step(
    "numwant=-1, compact=2, a long key and trackerid, no left, uploaded=-1",
    async () => {
      const s = await start({ default_numwant: 3 });
      try {
        const info = randomId();
        await s.seeders(info, 10);
        const base = { info_hash: info, peer_id: randomId(), port: 200 };
        const cases: [string, (d: Map<string, BencodeValue>) => void][] = [
          [
            "&left=0&numwant=-1",
            (d) => assert.equal((d.get("peers") as Uint8Array).length, 3 * 6),
          ],
          [
            "&left=0&compact=2",
            (d) => assert.ok(d.get("peers") instanceof Uint8Array, "compact"),
          ],
          [`&left=0&key=${"k".repeat(100)}&trackerid=${"t".repeat(100)}`, () => {}],
          ["", (d) => assert.equal(num(d.get("incomplete")), 1, "no left: a leecher")],
          ["&left=0&uploaded=-1&downloaded=-1", () => {}],
        ];
        for (const [extra, check] of cases) {
          const d = bdecode(await s.client.get(`/announce?${announceQuery(base)}${extra}`));
          assert.equal(d.get("failure reason"), undefined, extra);
          check(d);
        }
      } finally {
        await s.stop();
      }
    },
  );

  await t.step("default_numwant is capped by max_response_peers", async () => {
    const s = await start({ default_numwant: 8, max_response_peers: 4 });
    try {
      const info = randomId();
      await s.seeders(info, 10);
      const q = announceQuery({ info_hash: info, peer_id: randomId(), port: 300, left: 1 });
      const d = bdecode(await s.client.get(`/announce?${q}`));
      assert.equal(compactPeers(d.get("peers"), 6).length, 4);
    } finally {
      await s.stop();
    }
  });
});

processTest(
  "http: a scrape of the default max_scrape_torrents fits the default max_request_size",
  async () => {
    const printed = parse((await runShoal(["http", "-p"])).stdout) as {
      protocol: { max_scrape_torrents: number };
    };
    const n = printed.protocol.max_scrape_torrents;
    const s = await start();
    try {
      const hashes = Array.from({ length: n }, () => randomId());
      const r = await s.client.get(`/scrape?${hashes.map((h) => `info_hash=${pct(h)}`).join("&")}`);
      assert.equal(r.status, 200);
      const files = bdecode(r).get("files") as Map<string, BencodeValue>;
      assert.equal(files.size, n, `all ${n} answered`);
    } finally {
      await s.stop();
    }
  },
);

Deno.test("http: a max_request_size that cannot hold max_scrape_torrents is refused", async () => {
  const network = { use_ipv6: false };
  for (
    const [cmd, parts, key] of [
      ["http", { network, protocol: { max_scrape_torrents: 255 } }, "protocol.max_scrape_torrents"],
      [
        "udp",
        {
          network,
          http: {
            enabled: true,
            address: "127.0.0.1:0",
            use_ipv6: false,
            max_scrape_torrents: 150,
            max_request_size: 8192,
          },
        },
        "http.max_scrape_torrents",
      ],
    ] as const
  ) {
    assertRefused(
      await runWithConfig(cmd, parts, 10_000),
      new RegExp(`max_request_size = 8192 cannot hold .*${key.replace(".", "\\.")} = `),
    );
  }
});
