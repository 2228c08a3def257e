/**
 * Private tracking with the real `shoal` over SQLite: keys in HTTP paths (both forms), in UDP's
 * BEP 41 URL data (parsed as the BEP has it, hostile forms included), and in the ws upgrade
 * path; refusals in each protocol's error form; revocation within a second, dropping the peer;
 * accounting through the admin API; the API closed without its token; keys and totals across a
 * restart; registered torrents; and keys the site writes into the database itself.
 */
import assert from "assert";
import { DatabaseSync } from "node:sqlite";
import { assertRefused, listeningOn, METRICS, metricsText } from "./helpers/shoal.ts";
import { processTest, runWithConfig } from "./helpers/shoal.ts";
import {
  createKey,
  eventually,
  type PrivateShoal,
  sqliteUrl,
  startPrivate,
} from "./helpers/private.ts";
import { TOKEN } from "./helpers/private.ts";
import { announceQuery, bdecode, HttpClient, text } from "./helpers/http_client.ts";
import { randomId, UdpClient } from "./helpers/udp_client.ts";
import { AnnounceEvent } from "../udp/codec.ts";
import { bin20, WsClient } from "../harness/ws_client.ts";

const KEY = "alice-key-0123456789";
const KEY2 = "bob-key-abcdefghijklm";

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

/** An HTTP announce on `path` (with the key where the path puts it); the decoded answer. */
async function httpAnnounce(
  p: PrivateShoal,
  path: string,
  fields: Record<string, string | number | Uint8Array>,
): Promise<Map<string, unknown>> {
  const l = listeningOn(p.shoal, 4);
  const c = await HttpClient.connect(l.hostname, l.port);
  try {
    const r = await c.get(`${path}?${announceQuery({ port: 6881, left: 100, ...fields })}`);
    assert.equal(r.status, 200);
    return bdecode(r) as Map<string, unknown>;
  } finally {
    c.close();
  }
}

/** BEP 41 URL data options for `path`, as libtorrent sends them (no end-of-options byte). */
function urlData(path: string): Uint8Array {
  const b = new TextEncoder().encode(path);
  return new Uint8Array([2, b.length, ...b]);
}

processTest("private: a start without api_token, or with a bad database, is refused", async () => {
  assertRefused(
    await runWithConfig("udp", { private: { enabled: true } }),
    /private\.api_token is required/,
  );
  assertRefused(
    await runWithConfig("http", { private: { enabled: true, api_token: "short" } }),
    /private\.api_token must be at least 16/,
  );
  assertRefused(
    await runWithConfig("ws", { private: { enabled: true, database: "mysql://x" } }),
    /private\.database/,
  );
});

processTest("private HTTP: both key forms, refusals, the API's token, revocation", async () => {
  const p = await startPrivate("http", await sqliteUrl(), { metrics: METRICS }, 2);
  try {
    // The API refuses without the token, with a wrong one, and never shows a key then.
    const bare = await fetch(`${p.api}/api/v1/keys/${KEY}`);
    assert.equal(bare.status, 401);
    await bare.body?.cancel();
    const wrong = await fetch(`${p.api}/api/v1/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}x` },
      body: JSON.stringify({ key: KEY }),
    });
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    assert.equal((await p.call("GET", `/api/v1/keys/${KEY}`)).status, 404, "no key was made");

    await createKey(p, KEY, "alice");
    const ih = randomId(), seeder = randomId();
    let r = await httpAnnounce(p, `/${KEY}/announce`, { info_hash: ih, peer_id: seeder, left: 0 });
    assert.equal(r.get("failure reason"), undefined);
    assert.equal(r.get("complete"), 1);
    r = await httpAnnounce(p, `/announce/${KEY}`, {
      info_hash: ih,
      peer_id: randomId(),
      port: 6882,
    });
    assert.equal(r.get("complete"), 1);
    assert.equal(r.get("incomplete"), 1);

    for (
      const [path, re] of [
        ["/announce", /private: announce with the URL that holds your passkey/],
        [`/${KEY2}/announce`, /unknown passkey/],
        ["/short/announce", /unknown passkey/],
        [`/${"x".repeat(65)}/announce`, /unknown passkey/],
      ] as const
    ) {
      const f = await httpAnnounce(p, path, { info_hash: ih, peer_id: randomId() });
      assert.match(text(f.get("failure reason") as never), re, path);
      assert.equal(f.get("peers"), undefined, "a refused peer learns nothing of the swarm");
    }

    // Counted by reason; the keys themselves appear nowhere in the output.
    const metrics = await metricsText(p.shoal);
    assert.match(metrics, /shoal_private_refusals_total\{[^}]*reason="unknown_key"[^}]*\} 3/);
    assert.match(metrics, /shoal_private_refusals_total\{[^}]*reason="missing_key"[^}]*\} 1/);
    assert.match(metrics, /shoal_private_keys 1/);
    assert.match(metrics, /shoal_private_unaccounted_peers_total\{worker="0"\} 0/);
    assert.ok(!p.shoal.output.some((l) => l.includes(KEY)), p.shoal.output.join("\n"));

    // Scrapes need a key too, in both forms.
    const l = listeningOn(p.shoal, 4);
    const c = await HttpClient.connect(l.hostname, l.port);
    const q = `info_hash=${[...ih].map((b) => "%" + b.toString(16).padStart(2, "0")).join("")}`;
    const s1 = bdecode(await c.get(`/${KEY}/scrape?${q}`));
    assert.ok(s1.get("files") instanceof Map);
    const s2 = bdecode(await c.get(`/scrape?${q}`));
    assert.match(text(s2.get("failure reason") as never), /passkey/);
    const s3 = bdecode(await c.get(`/scrape/${KEY}?${q}`));
    assert.ok(s3.get("files") instanceof Map);
    c.close();

    // Revoked: refused within a second, and its peers leave the swarm.
    const before = await p.call("GET", `/api/v1/torrents/${hex(ih)}`);
    assert.equal(before.json.seeders + before.json.leechers, 2);
    const at = Date.now();
    assert.equal((await p.call("DELETE", `/api/v1/keys/${KEY}`)).status, 204);
    assert.ok(
      await eventually(async () => {
        const f = await httpAnnounce(p, `/${KEY}/announce`, { info_hash: ih, peer_id: seeder });
        return /revoked/.test(text(f.get("failure reason") as never));
      }, 1000),
      "refused within a second",
    );
    assert.ok(Date.now() - at < 1500);
    const after = await p.call("GET", `/api/v1/torrents/${hex(ih)}`);
    assert.equal(after.json.seeders + after.json.leechers, 0, JSON.stringify(after.json));
    assert.match(
      await metricsText(p.shoal),
      /shoal_private_revoked_peers_dropped_total\{worker="0"\} 2/,
    );
    const info = await p.call("GET", `/api/v1/keys/${KEY}`);
    assert.equal(info.json.revoked, true, "its totals stay readable");
  } finally {
    await p.shoal.stop();
  }
});

processTest(
  "private UDP: keys in BEP 41 URL data, hostile options, scrapes after an announce",
  async () => {
    const p = await startPrivate("udp", await sqliteUrl(), { network: { use_ipv6: false } });
    const u = new UdpClient(listeningOn(p.shoal, 4));
    try {
      await createKey(p, KEY);
      const cid = await u.connect();
      const ih = randomId();
      const ask = (options: Uint8Array, peerId = randomId()) =>
        u.announce(cid, { infoHash: ih, peerId, options, left: 10n });
      const errorOf = async (options: Uint8Array) => {
        const r = await ask(options);
        assert.equal(r.action, 3, `expected an error for ${options.slice(0, 8)}`);
        return (r as { message: string }).message;
      };

      // Scrape before any keyed announce from this address: refused.
      const s0 = await u.scrape(cid, [ih]);
      assert.equal(s0.action, 3);

      // libtorrent's form: one URLData option, no end byte.
      const ok = await ask(urlData(`/${KEY}/announce?x=1`));
      assert.equal(ok.action, 1);
      // Split over three options, with NOPs between, then end-of-options and junk after it.
      const parts = [`/${KEY.slice(0, 5)}`, KEY.slice(5, 12), `${KEY.slice(12)}/announce`];
      const split = new Uint8Array([
        ...urlData(parts[0]),
        1,
        1,
        ...urlData(parts[1]),
        1,
        ...urlData(parts[2]),
        0,
        2,
        200,
        9,
      ]);
      assert.equal((await ask(split)).action, 1);
      // 1,000 NOPs before the URL data are read through.
      const nops = new Uint8Array([
        ...new Uint8Array(1000).fill(1),
        ...urlData(`/${KEY}/announce`),
      ]);
      assert.equal((await ask(nops)).action, 1);
      // An unknown option is skipped by its length.
      assert.equal(
        (await ask(new Uint8Array([7, 3, 1, 2, 3, ...urlData(`/${KEY}/announce`)]))).action,
        1,
      );

      assert.match(await errorOf(new Uint8Array(0)), /needs the HTTP URL/);
      assert.match(await errorOf(new Uint8Array([0, ...urlData(`/${KEY}/announce`)])), /private/);
      assert.match(await errorOf(new Uint8Array([2, 200, 47, 97])), /malformed/);
      assert.match(await errorOf(new Uint8Array([2])), /malformed/);
      assert.match(await errorOf(urlData(`/${KEY2}/announce`)), /unknown passkey/);
      assert.match(await errorOf(urlData("/\u00ff\u0000/announce")), /unknown passkey/);
      // Keys of every length from 0 to 70 bytes of random bytes: refused, never a crash.
      for (let n = 0; n <= 70; n += 7) {
        const junk = crypto.getRandomValues(new Uint8Array(n));
        const r = await ask(
          new Uint8Array([2, n + 9, 47, ...junk, ...new TextEncoder().encode("/announce")]),
        );
        assert.equal(r.action, 3);
      }

      // Now that this address announced with a key, its scrapes are answered.
      const s1 = await u.scrape(cid, [ih]);
      assert.equal(s1.action, 2);
      // One peer: every announce came from this socket's address and port.
      assert.equal((s1 as { torrents: { leechers: number }[] }).torrents[0].leechers, 1);

      // Accounting from successive announces: deltas, a restart of the client's counters, and
      // a completed event.
      const me = randomId();
      const step = (uploaded: bigint, downloaded: bigint, event: number) =>
        u.announce(cid, {
          infoHash: ih,
          peerId: me,
          uploaded,
          downloaded,
          event,
          left: 1n,
          options: urlData(`/${KEY}/announce`),
        });
      await step(0n, 0n, AnnounceEvent.Started);
      await step(1000n, 4000n, AnnounceEvent.None);
      await step(1500n, 9000n, AnnounceEvent.Completed);
      await step(200n, 0n, AnnounceEvent.None); // the client restarted: 200 more, not -1300
      assert.ok(
        await eventually(async () => {
          const k = (await p.call("GET", `/api/v1/keys/${KEY}`)).json;
          return k.uploaded === 1700 && k.downloaded === 9000 && k.completed === 1;
        }, 5000),
        JSON.stringify((await p.call("GET", `/api/v1/keys/${KEY}`)).json),
      );
    } finally {
      u.close();
      await p.shoal.stop();
    }
  },
);

processTest(
  "private ws: the key in the upgrade path; none, unknown or revoked get a failure reason",
  async () => {
    const p = await startPrivate("ws", await sqliteUrl());
    const l = p.shoal.listening.find((x) => !x.metrics)!;
    const base = `ws://${l.hostname}:${l.port}`;
    try {
      await createKey(p, KEY);
      const announce = (c: WsClient, info_hash: string) =>
        c.send({
          action: "announce",
          info_hash,
          peer_id: bin20(),
          numwant: 0,
          offers: [],
          left: 0,
        });
      const ih = bin20();
      for (const path of [`/${KEY}`, `/${KEY}/announce`]) {
        const ok = await WsClient.connect(`${base}${path}`);
        announce(ok, ih);
        const m = await ok.next((m) => m.action === "announce");
        assert.equal(m["failure reason"], undefined, path);
        assert.equal(m.info_hash, ih);
        await ok.close();
      }
      for (const [path, re] of [["/", /private/], [`/${KEY2}`, /unknown passkey/]] as const) {
        const no = await WsClient.connect(`${base}${path}`);
        announce(no, ih);
        const m = await no.next((m) => m.action === "announce");
        assert.match(m["failure reason"], re);
        assert.equal(m.info_hash, ih, "WebTorrent matches a failure to its torrent by info_hash");
        await no.close();
      }
      // Accounted from successive announces, through the fast path and the general one (an
      // unknown member sends it there).
      const acct = await WsClient.connect(`${base}/${KEY}`);
      const me = bin20();
      const step = (event: string | undefined, uploaded: number, extra = {}) =>
        acct.send({
          action: "announce",
          info_hash: ih,
          peer_id: me,
          numwant: 0,
          offers: [],
          left: 5,
          event,
          uploaded,
          downloaded: 0,
          ...extra,
        });
      step("started", 0);
      step(undefined, 4000);
      step(undefined, 4500, { unknown_member: true });
      for (let i = 0; i < 3; i++) await acct.next((m) => m.action === "announce");
      assert.ok(
        await eventually(
          async () => (await p.call("GET", `/api/v1/keys/${KEY}`)).json.uploaded === 4500,
          5000,
        ),
        JSON.stringify((await p.call("GET", `/api/v1/keys/${KEY}`)).json),
      );
      await acct.close();

      // Revoked while connected: the connection is closed; a new one is refused.
      const live = await WsClient.connect(`${base}/${KEY}`);
      announce(live, ih);
      await live.next((m) => m.action === "announce");
      assert.equal((await p.call("DELETE", `/api/v1/keys/${KEY}`)).status, 204);
      const code = await Promise.race([
        live.closed,
        new Promise<number>((r) => setTimeout(() => r(-1), 2000)),
      ]);
      assert.equal(code, 1008, "closed on revocation");
      const again = await WsClient.connect(`${base}/${KEY}`);
      announce(again, ih);
      assert.match((await again.next((m) => m.action === "announce"))["failure reason"], /revoked/);
      await again.close();
    } finally {
      await p.shoal.stop();
    }
  },
);

processTest(
  "private: keys and totals survive a restart; the site's own rows are seen",
  async () => {
    const db = await sqliteUrl();
    let p = await startPrivate("http", db);
    const ih = randomId(), me = randomId();
    try {
      await createKey(p, KEY, "carol");
      await httpAnnounce(p, `/${KEY}/announce`, {
        info_hash: ih,
        peer_id: me,
        event: "started",
        uploaded: 0,
        downloaded: 0,
      });
      await httpAnnounce(p, `/${KEY}/announce`, {
        info_hash: ih,
        peer_id: me,
        uploaded: 12345,
        downloaded: 678,
      });
    } finally {
      assert.equal(await p.shoal.stop(), 0);
    }
    // The stop wrote everything: the file holds the totals.
    const file = db.slice("sqlite:".length);
    const sql = new DatabaseSync(file);
    const row = sql.prepare("SELECT uploaded, downloaded FROM shoal_keys WHERE key = ?").get(KEY);
    assert.deepEqual({ ...row }, { uploaded: 12345, downloaded: 678 });
    // The site adds a key of its own while shoal is down, and another while it runs.
    sql.prepare("INSERT INTO shoal_keys (key, user_id, created) VALUES (?, ?, 0)").run(
      KEY2,
      "dave",
    );
    p = await startPrivate("http", db);
    try {
      const k = (await p.call("GET", `/api/v1/keys/${KEY}`)).json;
      assert.equal(k.uploaded, 12345);
      assert.equal(k.user, "carol");
      const u = (await p.call("GET", "/api/v1/users/carol")).json;
      assert.equal(u.downloaded, 678);
      let r = await httpAnnounce(p, `/${KEY2}/announce`, { info_hash: ih, peer_id: randomId() });
      assert.equal(r.get("failure reason"), undefined);
      const live = "site-made-key-while-running";
      sql.prepare("INSERT INTO shoal_keys (key, user_id, created) VALUES (?, ?, 0)").run(
        live,
        "eve",
      );
      assert.ok(
        await eventually(async () => {
          r = await httpAnnounce(p, `/${live}/announce`, { info_hash: ih, peer_id: randomId() });
          return r.get("failure reason") === undefined;
        }, 5000),
        "seen within 5 s",
      );
      sql.prepare("UPDATE shoal_keys SET valid_until = 1 WHERE key = ?").run(live);
      assert.ok(
        await eventually(async () => {
          r = await httpAnnounce(p, `/${live}/announce`, { info_hash: ih, peer_id: randomId() });
          return /expired/.test(text(r.get("failure reason") as never));
        }, 5000),
        "an expiry set by the site is seen within 5 s",
      );
    } finally {
      sql.close();
      await p.shoal.stop();
    }
  },
);

processTest("private: registered torrents only; allowed clients by peer-id prefix", async () => {
  const p = await startPrivate("http", await sqliteUrl(), {
    private: { registered_torrents_only: true, client_prefixes: "-qB, -lt" },
  });
  try {
    await createKey(p, KEY);
    const ih = randomId();
    let r = await httpAnnounce(p, `/${KEY}/announce`, {
      info_hash: ih,
      peer_id: new TextEncoder().encode("-qB4620-cccccccccccc"),
    });
    assert.match(text(r.get("failure reason") as never), /not registered/);
    assert.equal((await p.call("POST", `/api/v1/torrents/${hex(ih).toUpperCase()}`)).status, 201);
    assert.ok(
      await eventually(async () => {
        const qb = new TextEncoder().encode("-qB4620-" + "b".repeat(12));
        r = await httpAnnounce(p, `/${KEY}/announce`, { info_hash: ih, peer_id: qb });
        return r.get("failure reason") === undefined;
      }, 1000),
    );
    const t = (await p.call("GET", `/api/v1/torrents/${hex(ih)}`)).json;
    assert.equal(t.registered, true);
    assert.equal(t.leechers, 1);
    const tr = new TextEncoder().encode("-TR3000-aaaaaaaaaaaa");
    r = await httpAnnounce(p, `/${KEY}/announce`, { info_hash: ih, peer_id: tr });
    assert.match(text(r.get("failure reason") as never), /client not allowed/);
    const lt = new TextEncoder().encode("-lt0D80-aaaaaaaaaaaa");
    r = await httpAnnounce(p, `/${KEY}/announce`, { info_hash: ih, peer_id: lt, port: 7001 });
    assert.equal(r.get("failure reason"), undefined);
    assert.equal((await p.call("DELETE", `/api/v1/torrents/${hex(ih)}`)).status, 204);
    assert.equal((await p.call("DELETE", `/api/v1/torrents/${hex(ih)}`)).status, 404);
  } finally {
    await p.shoal.stop();
  }
});
