/**
 * Private tracking's databases (`private/sqlite.ts`, `private/postgres.ts`) against the
 * `AccountsDb` contract, each case on both: the schema and its version, keys and torrents, the
 * change counter (moved by shoal and by the site's own SQL, never by accounting), and
 * accounting. PostgreSQL runs as a throwaway cluster (`harness/postgres.ts`); it also has to
 * survive an outage. Without PostgreSQL installed its tests are skipped, saying so.
 */
import assert from "assert";
import postgres from "postgres";
import { DatabaseSync } from "node:sqlite";
import {
  type AccountsDb,
  type KeyDelta,
  type KeyTorrentDelta,
  SCHEMA_VERSION,
} from "../../private/db.ts";
import { SqliteDb } from "../../private/sqlite.ts";
import { PostgresDb } from "../../private/postgres.ts";
import { redactUrl } from "../../private/redact.ts";
import { postgresInstalled, startPostgres } from "../../harness/postgres.ts";
import { freePort } from "../../harness/process.ts";

const K1 = "key_one_0123456789", K2 = "key_two_0123456789", K3 = "key_three_01234567";
const H1 = "a".repeat(40), H2 = "0123456789abcdef0123456789abcdef01234567";

/** SQL on the same database through a connection of its own, as the site's code would. */
interface Site {
  query(sql: string): Promise<Record<string, unknown>[]>;
}

/** One case's fresh, empty database: shoal's handles on it (closed after the case) and the site's. */
interface Fixture {
  /** A new handle on the database, opened. */
  open(): Promise<AccountsDb>;
  site: Site;
}

/** A database kind: makes a fresh database per case, and tears down what it started. */
interface Backend {
  fresh(n: number): Promise<{ db: () => AccountsDb; site: Site; close: () => Promise<void> }>;
  teardown(): Promise<void>;
}

const key = (k: string, uploaded: number, downloaded: number, completed: number): KeyDelta => ({
  key: k,
  uploaded,
  downloaded,
  completed,
});
const kt = (k: string, infoHash: string, up: number, down: number, done: number, seeded: boolean) =>
  ({ ...key(k, up, down, done), infoHash, seeded }) as KeyTorrentDelta;
const byKey = <T extends { key: string; infoHash?: string }>(rows: T[]) =>
  rows.sort((a, b) => (a.key + (a.infoHash ?? "")).localeCompare(b.key + (b.infoHash ?? "")));

const CASES: [string, (f: Fixture) => Promise<void>][] = [
  ["open creates the schema; opening again keeps it", async (f) => {
    const db = await f.open();
    const meta = await f.site.query("SELECT name, value FROM shoal_meta ORDER BY name");
    assert.deepEqual(meta.map((r) => [r.name, Number(r.value)]), [
      ["changes", 0],
      ["schema_version", SCHEMA_VERSION],
    ]);
    for (const t of ["shoal_keys", "shoal_torrents", "shoal_key_torrents"]) {
      assert.deepEqual(await f.site.query(`SELECT * FROM ${t}`), [], t);
    }
    assert.equal(await db.insertKey(K1, "alice", null), true);
    assert.equal(await db.registerTorrent(H1), true);
    const changes = await db.changes();
    const again = await f.open(); // while the first is open
    assert.equal(await again.changes(), changes);
    assert.deepEqual((await again.keys()).map((k) => k.key), [K1]);
    await db.close();
    assert.deepEqual(await (await f.open()).torrents(), [H1]);
    assert.equal((await f.site.query("SELECT * FROM shoal_meta")).length, 2);
  }],
  ["a database with a newer schema_version is refused", async (f) => {
    await (await f.open()).close();
    await f.site.query(
      `UPDATE shoal_meta SET value = ${SCHEMA_VERSION + 1} WHERE name = 'schema_version'`,
    );
    await assert.rejects(f.open(), (e: Error) => {
      assert.match(e.message, new RegExp(`schema_version ${SCHEMA_VERSION + 1} is newer`));
      assert.ok(!e.message.includes("\n"), "one line");
      return true;
    });
  }],
  ["keys: insert, a duplicate, revoke, and their totals", async (f) => {
    const db = await f.open();
    assert.equal(await db.insertKey(K1, "alice", null), true);
    assert.equal(await db.insertKey(K1, "bob", 123), false, "a duplicate");
    assert.equal(await db.insertKey(K2, "bob", 2_000_000_000), true);
    assert.equal(await db.revokeKey(K3), false, "an unknown key");
    assert.equal(await db.revokeKey(K1), true);
    await db.write([key(K1, 10, 20, 1)], []);
    assert.deepEqual(byKey(await db.keys()), [
      { ...key(K1, 10, 20, 1), user: "alice", validUntil: null, revoked: true },
      { ...key(K2, 0, 0, 0), user: "bob", validUntil: 2_000_000_000, revoked: false },
    ]);
  }],
  ["changes moves with keys and torrents, by shoal or the site, not with accounting", async (f) => {
    const db = await f.open();
    let last = await db.changes();
    const moved = async (what: string, expected: boolean) => {
      const now = await db.changes();
      if (expected) assert.ok(now > last, `${what} moves changes`);
      else assert.equal(now, last, `${what} leaves changes`);
      last = now;
    };
    await db.insertKey(K1, "alice", null);
    await moved("insertKey", true);
    await db.insertKey(K1, "alice", null);
    await moved("a duplicate insertKey", false);
    await db.revokeKey(K1);
    await moved("revokeKey", true);
    await db.revokeKey(K1);
    await moved("revoking a revoked key", false);
    await f.site.query(`INSERT INTO shoal_keys (key, user_id) VALUES ('${K2}', 'site')`);
    await moved("the site's insert", true);
    await f.site.query(`UPDATE shoal_keys SET valid_until = 99 WHERE key = '${K2}'`);
    await moved("the site's valid_until", true);
    await f.site.query(`UPDATE shoal_keys SET user_id = 'other' WHERE key = '${K2}'`);
    await moved("the site's user_id", true);
    await f.site.query(`UPDATE shoal_keys SET revoked = 1 WHERE key = '${K2}'`);
    await moved("the site's revoked", true);
    await f.site.query(`UPDATE shoal_keys SET key = '${K3}' WHERE key = '${K2}'`);
    await moved("the site's renaming", true);
    await f.site.query(`UPDATE shoal_keys SET uploaded = uploaded + 5 WHERE key = '${K3}'`);
    await moved("the site's accounting", false);
    await f.site.query(`DELETE FROM shoal_keys WHERE key = '${K3}'`);
    await moved("the site's delete", true);
    assert.equal(await db.registerTorrent(H1), true);
    await moved("registerTorrent", true);
    assert.equal(await db.registerTorrent(H1), false);
    await moved("registering twice", false);
    await f.site.query(`INSERT INTO shoal_torrents (info_hash) VALUES ('${H2}')`);
    await moved("the site's torrent", true);
    assert.equal(await db.unregisterTorrent(H2), true);
    await moved("unregisterTorrent", true);
    assert.equal(await db.unregisterTorrent(H2), false);
    await db.write([key(K1, 1, 2, 3)], [kt(K1, H1, 1, 2, 3, true)]);
    await moved("write", false);
    assert.deepEqual((await db.torrents()).sort(), [H1]);
  }],
  ["write sums deltas across writes; seeded only ever goes true", async (f) => {
    const db = await f.open();
    await db.insertKey(K1, "alice", null);
    await db.insertKey(K2, "bob", null);
    await db.write([key(K1, 100, 10, 0), key(K2, 1, 2, 3), key(K2, 1, 2, 3)], [
      kt(K1, H1, 100, 10, 0, false),
      kt(K1, H2, 0, 0, 0, true),
    ]);
    await db.write([key(K1, 50, 5, 1)], [kt(K1, H1, 50, 5, 1, true), kt(K1, H2, 7, 0, 0, false)]);
    await db.write([], [kt(K1, H1, 0, 0, 0, false)]);
    await db.write([], []);
    // Totals up to 2^53 - 1 are exact.
    await db.write([key(K2, 2 ** 52 + 1, 0, 0)], []);
    await db.write([key(K2, 2 ** 52 - 4, 0, 0)], []);
    assert.deepEqual(byKey(await db.keys()).map((k) => [k.uploaded, k.downloaded, k.completed]), [
      [150, 15, 1],
      [2 ** 53 - 1, 4, 6],
    ]);
    assert.deepEqual(byKey(await db.keyTorrents(K1)), [
      kt(K1, H2, 7, 0, 0, true),
      kt(K1, H1, 150, 15, 1, true),
    ]);
    assert.deepEqual(await db.keyTorrents(K2), []);
    assert.deepEqual(await db.keyTorrents(K3), []);
  }],
  ["write drops the deltas of a key the site deleted", async (f) => {
    const db = await f.open();
    await db.insertKey(K1, "alice", null);
    await db.insertKey(K2, "bob", null);
    await f.site.query(`DELETE FROM shoal_keys WHERE key = '${K2}'`);
    await db.write([key(K2, 5, 5, 5), key(K1, 1, 1, 1)], [
      kt(K2, H1, 5, 5, 5, true),
      kt(K1, H1, 1, 1, 1, false),
    ]);
    assert.deepEqual((await db.keys()).map((k) => [k.key, k.uploaded]), [[K1, 1]]);
    assert.deepEqual(await db.keyTorrents(K2), []);
    assert.deepEqual(await db.keyTorrents(K1), [kt(K1, H1, 1, 1, 1, false)]);
  }],
  [
    "a write of more rows than one statement takes keeps every row, and drops a deleted key's",
    async (f) => {
      const db = await f.open();
      await db.insertKey(K1, "alice", null);
      await db.insertKey(K2, "bob", null);
      await f.site.query(`DELETE FROM shoal_keys WHERE key = '${K2}'`);
      // 2 × 64 + 3 rows of K1, with K2's rows (deleted) among them and a row repeated.
      const hex = (i: number) => i.toString(16).padStart(40, "0");
      const rows: KeyTorrentDelta[] = [];
      for (let i = 0; i < 131; i++) {
        rows.push(kt(K1, hex(i), i, 2 * i, i % 2, i % 3 === 0));
        if (i % 10 === 0) rows.push(kt(K2, hex(i), 1, 1, 1, true));
      }
      rows.push(kt(K1, hex(5), 1000, 0, 0, true));
      await db.write([], rows);
      const got = byKey(await db.keyTorrents(K1)).sort((a, b) => a.infoHash < b.infoHash ? -1 : 1);
      const want = Array.from(
        { length: 131 },
        (_, i) => kt(K1, hex(i), i + (i === 5 ? 1000 : 0), 2 * i, i % 2, i % 3 === 0 || i === 5),
      );
      assert.deepEqual(got, want);
      assert.deepEqual(await db.keyTorrents(K2), []);
    },
  ],
  ["a failing write adds nothing", async (f) => {
    const db = await f.open();
    await db.insertKey(K1, "alice", null);
    const bad = kt(K1, null as unknown as string, 1, 1, 1, false); // breaks NOT NULL
    await assert.rejects(db.write([key(K1, 5, 5, 5)], [kt(K1, H1, 5, 5, 5, true), bad]));
    assert.deepEqual((await db.keys()).map((k) => k.uploaded), [0]);
    assert.deepEqual(await db.keyTorrents(K1), []);
    await db.write([key(K1, 5, 5, 5)], []);
    assert.deepEqual((await db.keys()).map((k) => k.uploaded), [5]);
  }],
];

/** Runs every case on `backend`, each on a fresh database and as a step of its own. */
async function runCases(t: Deno.TestContext, backend: Backend): Promise<void> {
  try {
    let n = 0;
    for (const [name, body] of CASES) {
      await t.step(name, async () => {
        const fresh = await backend.fresh(++n);
        const handles: AccountsDb[] = [];
        try {
          await body({
            site: fresh.site,
            async open() {
              const db = fresh.db();
              handles.push(db);
              await db.open();
              return db;
            },
          });
        } finally {
          for (const db of handles) await db.close();
          await fresh.close();
        }
      });
    }
  } finally {
    await backend.teardown();
  }
}

Deno.test("private db on SQLite", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "shoal-sqlite-" });
  await runCases(t, {
    fresh(n) {
      const path = `${dir}/accounts${n}.sqlite`;
      const site = new DatabaseSync(path);
      site.exec("PRAGMA busy_timeout = 5000");
      return Promise.resolve({
        db: () => new SqliteDb(path),
        site: { query: (sql) => Promise.resolve(site.prepare(sql).all()) },
        close: () => Promise.resolve(site.close()),
      });
    },
    teardown: () => Deno.remove(dir, { recursive: true }),
  });
});

Deno.test("SQLite waits for the site's write lock instead of failing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "shoal-sqlite-" });
  const path = `${dir}/accounts.sqlite`;
  const db = new SqliteDb(path);
  // The site writes from another thread: it holds the write lock for 300 ms.
  const site = new Worker(
    URL.createObjectURL(
      new Blob([`
        import { DatabaseSync } from "node:sqlite";
        self.onmessage = ({ data }) => {
          const db = new DatabaseSync(data);
          db.exec("BEGIN IMMEDIATE");
          db.exec("INSERT INTO shoal_keys (key, user_id) VALUES ('${K2}', 'site')");
          self.postMessage("locked");
          setTimeout(() => (db.exec("COMMIT"), db.close(), self.postMessage("done")), 300);
        };
      `]),
    ),
    { type: "module" },
  );
  const message = () => new Promise((r) => (site.onmessage = ({ data }) => r(data)));
  try {
    await db.open();
    await db.insertKey(K1, "alice", null);
    const locked = message();
    site.postMessage(path);
    assert.equal(await locked, "locked");
    const done = message();
    const start = Date.now();
    await db.write([key(K1, 1, 2, 3)], []);
    assert.ok(Date.now() - start >= 200, `waited ${Date.now() - start} ms`);
    assert.equal(await done, "done");
    assert.deepEqual(byKey(await db.keys()).map((k) => [k.key, k.uploaded]), [[K1, 1], [K2, 0]]);
  } finally {
    site.terminate();
    await db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

const PG = postgresInstalled();
if (!PG) console.log("PostgreSQL is not installed (initdb, postgres): its tests are skipped");

/** The site's connection to a PostgreSQL database: the same driver, a pool of its own. */
function pgSite(url: string): { site: Site; close: () => Promise<void> } {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  return {
    site: { query: async (text) => [...await sql.unsafe(text)] },
    close: () => sql.end({ timeout: 1 }),
  };
}

Deno.test({ name: "private db on PostgreSQL", ignore: !PG }, async (t) => {
  const pg = await startPostgres();
  await runCases(t, {
    async fresh(n) {
      const url = await pg.createDatabase(`case${n}`);
      return { db: () => new PostgresDb(url), ...pgSite(url) };
    },
    teardown: () => pg.destroy(),
  });
});

Deno.test({ name: "PostgreSQL outage: calls reject, then work again", ignore: !PG }, async () => {
  const pg = await startPostgres();
  const db = new PostgresDb(pg.url);
  try {
    await db.open();
    await db.insertKey(K1, "alice", null);
    const keys = [key(K1, 10, 20, 1)], keyTorrents = [kt(K1, H1, 10, 20, 1, true)];
    await db.write(keys, keyTorrents);
    await pg.stop();
    for (const call of [() => db.write(keys, keyTorrents), () => db.changes(), () => db.keys()]) {
      const start = Date.now();
      await assert.rejects(call(), /ECONNREFUSED|CONNECTION|57P01/);
      assert.ok(Date.now() - start < 15_000, `rejected after ${Date.now() - start} ms`);
    }
    await pg.start();
    // Until its backoff (at most 0.5 s) runs out, the driver repeats the last failure.
    const deadline = Date.now() + 15_000;
    for (let tries = 1;; tries++) {
      try {
        await db.write(keys, keyTorrents);
        break;
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`still failing after ${tries} tries: ${e}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.deepEqual((await db.keys()).map((k) => [k.uploaded, k.downloaded, k.completed]), [
      [20, 40, 2],
    ]);
    assert.deepEqual(await db.keyTorrents(K1), [kt(K1, H1, 20, 40, 2, true)]);
    assert.ok(await db.changes() > 0);
  } finally {
    await db.close();
    await pg.destroy();
  }
});

Deno.test("PostgreSQL errors never show the URL's password", async () => {
  assert.equal(
    redactUrl("postgres://u:s3cret@h:5432/db?sslmode=require"),
    "postgres://u@h:5432/db",
  );
  assert.equal(redactUrl("postgresql://u:p@ss@h/db"), "postgresql://u@h/db");
  assert.equal(redactUrl("postgres://h/db?password=s3cret"), "postgres://h/db");
  assert.equal(redactUrl("postgres://u@h1:1,h2:2/db"), "postgres://u@h1:1,h2:2/db");
  // Nothing listens on the port: open() fails at once.
  const db = new PostgresDb(`postgres://shoal:s3cret@127.0.0.1:${freePort()}/x?password=s3cret`);
  await assert.rejects(db.open(), (e: Error) => {
    assert.match(e.message, /shoal@127\.0\.0\.1:\d+\/x\b/);
    assert.ok(!`${e.message}${e.stack}`.includes("s3cret"), e.message);
    return true;
  });
  assert.ok(!Deno.inspect(db, { depth: 5 }).includes("s3cret"));
});
