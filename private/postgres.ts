/**
 * Private tracking on PostgreSQL, through the `postgres` driver (porsager's). Its pool
 * reconnects by itself after an outage; the timeouts below make every call reject while the
 * server is unreachable instead of waiting for it. Totals are BIGINT, which the driver returns
 * as strings; they are read as numbers (exact up to 2^53).
 *
 * The URL's password never leaves this module: errors name the server by `redactUrl`.
 *
 * @module
 */

import { redactUrl } from "./redact.ts";
import postgres from "postgres";
import type { AccountsDb, KeyDelta, KeyRow, KeyTorrentDelta, KeyTorrentRow } from "./db.ts";
import {
  createSchema,
  keyRow,
  keyTorrentRow,
  READ_CHANGES,
  READ_KEY_TORRENTS,
  READ_KEYS,
  READ_VERSION,
  schemaAction,
  toNumber,
} from "./schema.ts";

/** Serializes schema creation between shoal processes opening the same database at once. */
const SCHEMA_LOCK = 0x5_4a0a1;

/** The driver's options: a small pool whose every wait is bounded. */
const OPTIONS = {
  max: 4,
  // Seconds: a connection attempt, a wait for a free connection, a query start to end.
  connect_timeout: 5,
  queue_timeout: 15,
  query_timeout: 15,
  // Seconds before the next attempt once connecting failed. Until then the driver rejects
  // calls with the last failure, even when the server is back: its own backoff grows to 20 s.
  backoff: (attempt: number) => Math.min(0.05 * 2 ** attempt, 0.5),
  onnotice: () => {},
  connection: { application_name: "shoal" },
};

/** The accounts database on a PostgreSQL server. */
export class PostgresDb implements AccountsDb {
  /** Always `postgres`. */
  readonly kind = "postgres";
  /** The server as messages name it: the URL without its password. */
  readonly where: string;
  readonly #url: string;
  #sql: postgres.Sql | null = null;

  /** Keeps the URL; nothing connects before `open()`. */
  constructor(url: string) {
    this.#url = url;
    this.where = redactUrl(url);
  }

  /** Connects, and creates the schema or checks its version, under an advisory lock. */
  async open(): Promise<void> {
    if (this.#sql) throw new Error("the PostgreSQL database is open already");
    const sql = postgres(this.#url, OPTIONS);
    this.#sql = sql;
    try {
      await this.#attempt(() =>
        sql.begin(async (tx) => {
          await tx.unsafe(`SELECT pg_advisory_xact_lock(${SCHEMA_LOCK})`);
          const [meta] = await tx.unsafe("SELECT to_regclass('shoal_meta') IS NOT NULL AS found");
          const [version] = meta.found ? await tx.unsafe(READ_VERSION) : [];
          if (schemaAction(version ? toNumber(version.value) : null) === "create") {
            for (const statement of createSchema("postgres")) await tx.unsafe(statement);
          }
        })
      );
    } catch (e) {
      this.#sql = null;
      await sql.end({ timeout: 1 });
      throw e;
    }
  }

  /** The `changes` counter. */
  changes(): Promise<number> {
    return this.#attempt(async (sql) => {
      const [row] = await sql.unsafe(READ_CHANGES);
      return row ? toNumber(row.value) : 0;
    });
  }

  /** Every key. */
  keys(): Promise<KeyRow[]> {
    return this.#attempt(async (sql) => (await sql.unsafe(READ_KEYS)).map(keyRow));
  }

  /** Every registered torrent. */
  torrents(): Promise<string[]> {
    return this.#attempt(async (sql) =>
      (await sql`SELECT info_hash FROM shoal_torrents`).map((r) => r.info_hash)
    );
  }

  /** Adds a key; false when it exists already. */
  insertKey(key: string, user: string, validUntil: number | null): Promise<boolean> {
    return this.#attempt(async (sql) =>
      (await sql`INSERT INTO shoal_keys (key, user_id, valid_until)
        VALUES (${key}, ${user}, ${validUntil}) ON CONFLICT (key) DO NOTHING`).count > 0
    );
  }

  /** Marks a key revoked; false when there is no such key. */
  revokeKey(key: string): Promise<boolean> {
    return this.#attempt(async (sql) =>
      (await sql`UPDATE shoal_keys SET revoked = 1 WHERE key = ${key}`).count > 0
    );
  }

  /** Registers a torrent; false when it was registered already. */
  registerTorrent(infoHash: string): Promise<boolean> {
    return this.#attempt(async (sql) =>
      (await sql`INSERT INTO shoal_torrents (info_hash) VALUES (${infoHash})
        ON CONFLICT (info_hash) DO NOTHING`).count > 0
    );
  }

  /** Unregisters a torrent; false when it was not registered. */
  unregisterTorrent(infoHash: string): Promise<boolean> {
    return this.#attempt(async (sql) =>
      (await sql`DELETE FROM shoal_torrents WHERE info_hash = ${infoHash}`).count > 0
    );
  }

  /** One key's totals per torrent. */
  keyTorrents(key: string): Promise<KeyTorrentRow[]> {
    return this.#attempt(async (sql) =>
      (await sql.unsafe(READ_KEY_TORRENTS + "$1", [key])).map(keyTorrentRow)
    );
  }

  /**
   * Adds the deltas in one transaction of two statements, each taking its rows as arrays
   * (`unnest`). Repeated keys are summed first (one statement may not update a row twice);
   * deltas of keys the site deleted meanwhile match no key and are dropped.
   */
  write(keys: KeyDelta[], keyTorrents: KeyTorrentDelta[]): Promise<void> {
    if (keys.length === 0 && keyTorrents.length === 0) return Promise.resolve();
    const col = <T, U>(rows: T[], f: (row: T) => U) => rows.map(f);
    return this.#attempt((sql) =>
      sql.begin(async (tx) => {
        if (keys.length > 0) {
          await tx`UPDATE shoal_keys AS k SET uploaded = k.uploaded + d.uploaded,
              downloaded = k.downloaded + d.downloaded, completed = k.completed + d.completed
            FROM (SELECT key, sum(up)::bigint AS uploaded, sum(down)::bigint AS downloaded,
                sum(done)::bigint AS completed
              FROM unnest(${col(keys, (d) => d.key)}::text[],
                ${col(keys, (d) => d.uploaded)}::bigint[],
                ${col(keys, (d) => d.downloaded)}::bigint[],
                ${col(keys, (d) => d.completed)}::bigint[]) AS u(key, up, down, done)
              GROUP BY key) AS d
            WHERE k.key = d.key`;
        }
        if (keyTorrents.length > 0) {
          const kt = keyTorrents;
          await tx`INSERT INTO shoal_key_torrents AS t
              (key, info_hash, uploaded, downloaded, completed, seeded)
            SELECT u.key, u.info_hash, sum(up), sum(down), sum(done), max(seed)
            FROM unnest(${col(kt, (d) => d.key)}::text[], ${col(kt, (d) => d.infoHash)}::text[],
              ${col(kt, (d) => d.uploaded)}::bigint[], ${col(kt, (d) => d.downloaded)}::bigint[],
              ${col(kt, (d) => d.completed)}::bigint[],
              ${col(kt, (d) => d.seeded ? 1 : 0)}::smallint[])
              AS u(key, info_hash, up, down, done, seed)
            WHERE EXISTS (SELECT 1 FROM shoal_keys AS k WHERE k.key = u.key)
            GROUP BY u.key, u.info_hash
            ON CONFLICT (key, info_hash) DO UPDATE SET uploaded = t.uploaded + excluded.uploaded,
              downloaded = t.downloaded + excluded.downloaded,
              completed = t.completed + excluded.completed,
              seeded = GREATEST(t.seeded, excluded.seeded)`;
        }
      })
    );
  }

  /** Closes the pool, letting running queries finish for up to 5 s. */
  async close(): Promise<void> {
    const sql = this.#sql;
    this.#sql = null;
    await sql?.end({ timeout: 5 });
  }

  /** Runs `body` on the pool; a rejection names the server, never the password. */
  async #attempt<T>(body: (sql: postgres.Sql) => Promise<T>): Promise<T> {
    const sql = this.#sql;
    if (!sql) throw new Error("the PostgreSQL database is not open");
    try {
      return await body(sql);
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      const code = (error as { code?: unknown }).code;
      throw Object.assign(new Error(`PostgreSQL ${this.where}: ${error.message}`, { cause: e }), {
        code,
      });
    }
  }
}
