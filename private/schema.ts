/**
 * The SQL of private tracking's schema (`db.ts` describes it), for SQLite and PostgreSQL, and the
 * version check both databases share. Creation runs in one transaction, only when the database
 * holds no `schema_version` yet; every statement tolerates objects that exist already, so tables
 * a site made itself from the README are kept.
 *
 * @module
 */

import { type KeyRow, type KeyTorrentRow, SCHEMA_VERSION } from "./db.ts";

/** The two databases private tracking runs on. */
export type Dialect = "sqlite" | "postgres";

/** What `open()` does after reading the stored version: create the schema, or use it as it is. */
export type SchemaAction = "create" | "current";

/**
 * Decides from the stored `schema_version` (null: none) what `open()` does. Throws, in one
 * line, when the database was made by a newer shoal (its schema may mean something else) or an
 * older one this build cannot migrate.
 */
export function schemaAction(found: number | null): SchemaAction {
  if (found === null) return "create";
  if (found === SCHEMA_VERSION) return "current";
  if (found > SCHEMA_VERSION) {
    throw new Error(
      `the database's schema_version ${found} is newer than this shoal's ${SCHEMA_VERSION}: ` +
        "upgrade shoal",
    );
  }
  throw new Error(
    `the database's schema_version ${found} is older than ${SCHEMA_VERSION} and cannot be migrated`,
  );
}

/** Reads a count or byte total as a driver returns it (number, bigint or numeric string). */
export function toNumber(value: unknown): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`not a number in the database: ${String(value)}`);
  return n;
}

/** A row of `READ_KEYS` as a `KeyRow`, whatever types the driver gave its columns. */
export function keyRow(r: Record<string, unknown>): KeyRow {
  return {
    key: String(r.key),
    user: String(r.user_id),
    validUntil: r.valid_until === null ? null : toNumber(r.valid_until),
    revoked: toNumber(r.revoked) !== 0,
    uploaded: toNumber(r.uploaded),
    downloaded: toNumber(r.downloaded),
    completed: toNumber(r.completed),
  };
}

/** The SQL that reads one key's totals per torrent (the key as its one parameter). */
export const READ_KEY_TORRENTS = "SELECT key, info_hash, uploaded, downloaded, completed, " +
  "seeded FROM shoal_key_torrents WHERE key = ";

/** A row of `READ_KEY_TORRENTS` as a `KeyTorrentRow`. */
export function keyTorrentRow(r: Record<string, unknown>): KeyTorrentRow {
  return {
    key: String(r.key),
    infoHash: String(r.info_hash),
    uploaded: toNumber(r.uploaded),
    downloaded: toNumber(r.downloaded),
    completed: toNumber(r.completed),
    seeded: toNumber(r.seeded) !== 0,
  };
}

/** The SQL that reads the stored version (no row: none yet). */
export const READ_VERSION = "SELECT value FROM shoal_meta WHERE name = 'schema_version'";

/** The SQL that reads the change counter. */
export const READ_CHANGES = "SELECT value FROM shoal_meta WHERE name = 'changes'";

/** The SQL that reads every key, columns named as `KeyRow`'s sources. */
export const READ_KEYS = "SELECT key, user_id, valid_until, revoked, uploaded, downloaded, " +
  "completed FROM shoal_keys";

/** Unix seconds now, as a column default. */
const NOW: Record<Dialect, string> = {
  sqlite: "(CAST(strftime('%s', 'now') AS BIGINT))",
  postgres: "(CAST(EXTRACT(EPOCH FROM now()) AS BIGINT))",
};

/** The tables, the same in both dialects but for the clock (SQLite reads BIGINT as INTEGER). */
function tables(dialect: Dialect): string[] {
  const now = NOW[dialect];
  // SQLite: a table keyed by text is one B-tree without a rowid, so an upsert is one search
  // (measured: about half the time of a rowid table with its index).
  const keyed = dialect === "sqlite" ? " WITHOUT ROWID" : "";
  return [
    `CREATE TABLE IF NOT EXISTS shoal_meta (
      name TEXT PRIMARY KEY,
      value BIGINT NOT NULL
    )`,
    `CREATE TABLE IF NOT EXISTS shoal_keys (
      key TEXT PRIMARY KEY,
      user_id TEXT NOT NULL,
      valid_until BIGINT,
      revoked SMALLINT NOT NULL DEFAULT 0,
      uploaded BIGINT NOT NULL DEFAULT 0,
      downloaded BIGINT NOT NULL DEFAULT 0,
      completed BIGINT NOT NULL DEFAULT 0,
      created BIGINT NOT NULL DEFAULT ${now}
    )${keyed}`,
    `CREATE TABLE IF NOT EXISTS shoal_torrents (
      info_hash TEXT PRIMARY KEY,
      created BIGINT NOT NULL DEFAULT ${now}
    )`,
    `CREATE TABLE IF NOT EXISTS shoal_key_torrents (
      key TEXT NOT NULL,
      info_hash TEXT NOT NULL,
      uploaded BIGINT NOT NULL DEFAULT 0,
      downloaded BIGINT NOT NULL DEFAULT 0,
      completed BIGINT NOT NULL DEFAULT 0,
      seeded SMALLINT NOT NULL DEFAULT 0,
      PRIMARY KEY (key, info_hash)
    )${keyed}`,
  ];
}

/** A key's columns that, changed, make the tracker reload its keys (accounting is not one). */
const KEY_COLUMNS = ["key", "user_id", "valid_until", "revoked"];

const BUMP = "UPDATE shoal_meta SET value = value + 1 WHERE name = 'changes'";

/** SQLite's triggers: row-level only; each bump is a cheap in-process update. */
function sqliteTriggers(): string[] {
  const changed = KEY_COLUMNS.map((c) => `OLD.${c} IS NOT NEW.${c}`).join(" OR ");
  const bumpOn = (name: string, event: string, when = "") =>
    `CREATE TRIGGER IF NOT EXISTS ${name} AFTER ${event} ${when} BEGIN ${BUMP}; END`;
  return [
    bumpOn("shoal_keys_insert", "INSERT ON shoal_keys"),
    bumpOn("shoal_keys_delete", "DELETE ON shoal_keys"),
    // UPDATE OF fires when a column is merely named in SET; WHEN skips no-op updates.
    bumpOn(
      "shoal_keys_update",
      `UPDATE OF ${KEY_COLUMNS.join(", ")} ON shoal_keys`,
      `WHEN ${changed}`,
    ),
    bumpOn("shoal_torrents_insert", "INSERT ON shoal_torrents"),
    bumpOn("shoal_torrents_delete", "DELETE ON shoal_torrents"),
  ];
}

/**
 * PostgreSQL's triggers. Inserts and deletes bump once per statement that touched rows (a site
 * importing a million keys does not update the meta row a million times); a column list rules
 * out transition tables for updates, so those are row-level, skipping no-op updates.
 */
function postgresTriggers(): string[] {
  const changed = KEY_COLUMNS.map((c) => `OLD.${c} IS DISTINCT FROM NEW.${c}`).join(" OR ");
  const statements = [
    `CREATE OR REPLACE FUNCTION shoal_bump_changes() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      ${BUMP};
      RETURN NULL;
    END $$`,
    `CREATE OR REPLACE FUNCTION shoal_bump_changes_if_rows() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF EXISTS (SELECT 1 FROM shoal_rows) THEN ${BUMP}; END IF;
      RETURN NULL;
    END $$`,
  ];
  const each = [
    ["shoal_keys_insert", "INSERT", "shoal_keys", "NEW"],
    ["shoal_keys_delete", "DELETE", "shoal_keys", "OLD"],
    ["shoal_torrents_insert", "INSERT", "shoal_torrents", "NEW"],
    ["shoal_torrents_delete", "DELETE", "shoal_torrents", "OLD"],
  ];
  // No CREATE TRIGGER IF NOT EXISTS before PostgreSQL 14; this runs only on creation anyway.
  for (const [name, event, table, which] of each) {
    statements.push(
      `DROP TRIGGER IF EXISTS ${name} ON ${table}`,
      `CREATE TRIGGER ${name} AFTER ${event} ON ${table} REFERENCING ${which} TABLE AS shoal_rows
      FOR EACH STATEMENT EXECUTE FUNCTION shoal_bump_changes_if_rows()`,
    );
  }
  statements.push(
    "DROP TRIGGER IF EXISTS shoal_keys_update ON shoal_keys",
    `CREATE TRIGGER shoal_keys_update AFTER UPDATE OF ${KEY_COLUMNS.join(", ")} ON shoal_keys
    FOR EACH ROW WHEN (${changed}) EXECUTE FUNCTION shoal_bump_changes()`,
  );
  return statements;
}

/**
 * Every statement that creates the schema, in order, ending with the `schema_version` and
 * `changes` rows. Run them in one transaction, after `schemaAction` said `create`.
 */
export function createSchema(dialect: Dialect): string[] {
  return [
    ...tables(dialect),
    ...(dialect === "sqlite" ? sqliteTriggers() : postgresTriggers()),
    `INSERT INTO shoal_meta (name, value) VALUES ('schema_version', ${SCHEMA_VERSION}),
      ('changes', 0) ON CONFLICT (name) DO NOTHING`,
  ];
}
