/**
 * Private tracking over PostgreSQL (Debian's, a throwaway cluster started here): keys and totals
 * across a restart, the site's own rows, and an outage under load: PostgreSQL stopped for
 * `OUTAGE_S` seconds while members announce; every announce is answered throughout, no valid key
 * is refused, and once it is back every byte announced is in the database, once.
 *
 * Ignored, with the reason printed, when PostgreSQL is not installed (`.ci/run` installs it).
 */
import assert from "assert";
import { type PgCluster, postgresInstalled, startPostgres } from "../harness/postgres.ts";
import { PostgresDb } from "../private/postgres.ts";
import { announceQuery, bdecode, HttpClient } from "./helpers/http_client.ts";
import { createKey, eventually, type PrivateShoal, startPrivate } from "./helpers/private.ts";
import { listeningOn, METRICS, metricsOf, processTest } from "./helpers/shoal.ts";
import { randomId } from "./helpers/udp_client.ts";

/** How long PostgreSQL stays down under load (the figure). */
const OUTAGE_S = 20;

const ignore = !postgresInstalled();
if (ignore) {
  console.log(
    "IGNORED PostgreSQL private tracking tests: PostgreSQL is not installed " +
      "(apt-get install postgresql; .ci/run does).",
  );
}

async function withCluster(f: (pg: PgCluster) => Promise<void>): Promise<void> {
  const pg = await startPostgres();
  try {
    await f(pg);
  } finally {
    await pg.destroy();
  }
}

async function announce(
  c: HttpClient,
  key: string,
  fields: Record<string, string | number | Uint8Array>,
): Promise<Map<string, unknown>> {
  const r = await c.get(`/${key}/announce?${announceQuery({ port: 6881, left: 5, ...fields })}`);
  assert.equal(r.status, 200);
  return bdecode(r) as Map<string, unknown>;
}

async function client(p: PrivateShoal): Promise<HttpClient> {
  const l = listeningOn(p.shoal, 4);
  return await HttpClient.connect(l.hostname, l.port);
}

processTest(
  "private over PostgreSQL: keys and totals across a restart, the site's rows",
  async () => {
    await withCluster(async (pg) => {
      const KEY = "pg-key-0123456789abcdef";
      let p = await startPrivate("http", pg.url);
      const ih = randomId(), me = randomId();
      try {
        await createKey(p, KEY, "frank");
        const c = await client(p);
        await announce(c, KEY, { info_hash: ih, peer_id: me, event: "started", uploaded: 0 });
        await announce(c, KEY, { info_hash: ih, peer_id: me, uploaded: 777, downloaded: 5 });
        c.close();
      } finally {
        assert.equal(await p.shoal.stop(), 0);
      }
      const site = new PostgresDb(pg.url);
      await site.open();
      try {
        const row = (await site.keys()).find((k) => k.key === KEY)!;
        assert.equal(row.uploaded, 777);
        assert.equal(row.user, "frank");
        assert.deepEqual(
          (await site.keyTorrents(KEY)).map((t) => [t.uploaded, t.downloaded]),
          [[777, 5]],
        );
        p = await startPrivate("http", pg.url);
        assert.equal((await p.call("GET", `/api/v1/keys/${KEY}`)).json.uploaded, 777);
        // A key the site inserts itself is in force within the refresh interval.
        const mine = "pg-site-key-0123456789";
        assert.equal(await site.insertKey(mine, "gina", null), true);
        const c = await client(p);
        assert.ok(
          await eventually(async () => {
            const r = await announce(c, mine, { info_hash: ih, peer_id: randomId() });
            return r.get("failure reason") === undefined;
          }, 5000),
        );
        c.close();
      } finally {
        await site.close();
        await p.shoal.stop();
      }
    });
  },
  { ignore },
);

processTest(
  `private over PostgreSQL: ${OUTAGE_S} s down under load loses no accounting and refuses no key`,
  async () => {
    await withCluster(async (pg) => {
      const p = await startPrivate("udp", pg.url, {
        network: { use_ipv6: false },
        http: { enabled: true, address: "127.0.0.1:0" },
        metrics: METRICS,
      }, 3);
      const keys = Array.from({ length: 8 }, (_, i) => `outage-key-${i}-0123456789`);
      const l = p.shoal.listening.find((x) => x.scheme === "http" && !x.metrics)!;
      try {
        for (const k of keys) await createKey(p, k);
        const ih = randomId();
        const peers = keys.map(() => randomId());
        const sent = new Array(keys.length).fill(0);
        let answered = 0, refused = 0, running = true;
        const c = await HttpClient.connect(l.hostname, l.port);
        for (let i = 0; i < keys.length; i++) {
          await announce(c, keys[i], {
            info_hash: ih,
            peer_id: peers[i],
            event: "started",
            port: 7000 + i,
          });
        }
        const load = (async () => {
          for (let n = 0; running; n++) {
            const i = n % keys.length;
            sent[i] += 1000 + i;
            const r = await announce(c, keys[i], {
              info_hash: ih,
              peer_id: peers[i],
              uploaded: sent[i],
              port: 7000 + i,
            });
            if (r.get("failure reason") === undefined) answered++;
            else refused++;
            await new Promise((r) => setTimeout(r, 5));
          }
        })();
        await new Promise((r) => setTimeout(r, 1500));
        await pg.stop();
        const downAt = answered;
        await new Promise((r) => setTimeout(r, OUTAGE_S * 1000));
        const during = answered - downAt;
        const m = await metricsOf(p.shoal);
        assert.equal(m.get("shoal_private_database_up"), 0, "the outage was noticed");
        assert.ok((m.get("shoal_private_accounting_backlog") ?? 0) > 0, "accounting waited");
        await pg.start();
        await new Promise((r) => setTimeout(r, 1000));
        running = false;
        await load;
        c.close();
        assert.equal(refused, 0, "no valid key refused");
        assert.ok(during > OUTAGE_S * 10, `announces answered during the outage: ${during}`);
        // Everything announced reaches the totals (the API includes what is not yet written),
        // then the database, once.
        const totals = async () => {
          const out: number[] = [];
          for (const k of keys) out.push((await p.call("GET", `/api/v1/keys/${k}`)).json.uploaded);
          return out;
        };
        assert.ok(
          await eventually(async () => (await totals()).every((t, i) => t === sent[i]), 5000),
          `API totals ${await totals()} != ${sent}`,
        );
        assert.ok(
          await eventually(async () => {
            const mm = await metricsOf(p.shoal);
            return mm.get("shoal_private_accounting_backlog") === 0 &&
              mm.get("shoal_private_database_up") === 1;
          }, 20_000),
          "the backlog was written once PostgreSQL returned",
        );
        const site = new PostgresDb(pg.url);
        await site.open();
        try {
          const rows = new Map((await site.keys()).map((k) => [k.key, k.uploaded]));
          assert.deepEqual(keys.map((k) => rows.get(k)), sent);
        } finally {
          await site.close();
        }
      } finally {
        await p.shoal.stop();
      }
    });
  },
  { ignore },
);
