/**
 * Private tracking on SQLite (`node:sqlite`), the embedded default. The site's own code may
 * open the same file: WAL lets it read while shoal writes, and the busy timeout makes either
 * side wait for the other's write lock instead of failing at once. The calls are synchronous,
 * so a wait for the lock blocks the main thread for up to `BUSY_TIMEOUT_MS`.
 *
 * @module
 */

import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
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

/** How long a statement waits for another connection's write lock before failing. */
export const BUSY_TIMEOUT_MS = 5000;

/** SQLite's page cache for shoal's connection, in KiB. */
const CACHE_KIB = 64 * 1024;

type Row = Record<string, SQLInputValue>;

/** Per-torrent rows in one upsert statement (6 parameters each; SQLite allows 32766). */
export const ROWS_PER_INSERT = 64;

/**
 * The upsert of `rows` per-torrent rows. SQLite applies a statement's rows one after another,
 * so a row repeated within one statement is summed as in two statements.
 */
function upsertKeyTorrents(rows: number): string {
  return "INSERT INTO shoal_key_torrents (key, info_hash, uploaded, downloaded, completed, seeded) " +
    `VALUES ${Array(rows).fill("(?, ?, ?, ?, ?, ?)").join(", ")} ` +
    "ON CONFLICT (key, info_hash) DO UPDATE SET uploaded = uploaded + excluded.uploaded, " +
    "downloaded = downloaded + excluded.downloaded, completed = completed + excluded.completed, " +
    "seeded = MAX(seeded, excluded.seeded)";
}

/** The accounts database in one SQLite file. */
export class SqliteDb implements AccountsDb {
  /** Always `sqlite`. */
  readonly kind = "sqlite";
  readonly #path: string;
  #db: DatabaseSync | null = null;
  #statements = new Map<string, StatementSync>();

  /** Names the file; nothing is opened before `open()`. */
  constructor(path: string) {
    this.#path = path;
  }

  /** Opens the file (creating it), sets WAL and the busy timeout, and creates or checks the schema. */
  open(): Promise<void> {
    return attempt(() => {
      if (this.#db) throw new Error("the SQLite database is open already");
      const db = new DatabaseSync(this.#path);
      try {
        // The timeout first: switching to WAL itself needs the lock when another connection writes.
        db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
        db.exec("PRAGMA journal_mode = WAL");
        db.exec("PRAGMA synchronous = NORMAL");
        // Up to 64 MiB of pages (SQLite's default is 2 MiB): a write of many rows into a table
        // of millions then finds most pages in memory instead of reading them back from the file.
        db.exec(`PRAGMA cache_size = -${CACHE_KIB}`);
        this.#db = db;
        this.#transaction(() => {
          const exists = this.#get(
            "SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'shoal_meta'",
          );
          const found = exists ? this.#get(READ_VERSION) : undefined;
          if (schemaAction(found ? toNumber(found.value) : null) === "create") {
            for (const sql of createSchema("sqlite")) db.exec(sql);
          }
        });
      } catch (e) {
        this.#db = null;
        db.close();
        throw e;
      }
    });
  }

  /** The `changes` counter. */
  changes(): Promise<number> {
    return attempt(() => toNumber(this.#get(READ_CHANGES)?.value ?? 0));
  }

  /** Every key. */
  keys(): Promise<KeyRow[]> {
    return attempt(() => this.#all(READ_KEYS).map(keyRow));
  }

  /** Every registered torrent. */
  torrents(): Promise<string[]> {
    return attempt(() =>
      this.#all("SELECT info_hash FROM shoal_torrents").map((r) => String(r.info_hash))
    );
  }

  /** Adds a key; false when it exists already. */
  insertKey(key: string, user: string, validUntil: number | null): Promise<boolean> {
    return attempt(() =>
      this.#run(
        "INSERT INTO shoal_keys (key, user_id, valid_until) VALUES (?, ?, ?) " +
          "ON CONFLICT (key) DO NOTHING",
        key,
        user,
        validUntil,
      ) > 0
    );
  }

  /** Marks a key revoked; false when there is no such key. */
  revokeKey(key: string): Promise<boolean> {
    return attempt(() => this.#run("UPDATE shoal_keys SET revoked = 1 WHERE key = ?", key) > 0);
  }

  /** Registers a torrent; false when it was registered already. */
  registerTorrent(infoHash: string): Promise<boolean> {
    return attempt(() =>
      this.#run(
        "INSERT INTO shoal_torrents (info_hash) VALUES (?) ON CONFLICT (info_hash) DO NOTHING",
        infoHash,
      ) > 0
    );
  }

  /** Unregisters a torrent; false when it was not registered. */
  unregisterTorrent(infoHash: string): Promise<boolean> {
    return attempt(() => this.#run("DELETE FROM shoal_torrents WHERE info_hash = ?", infoHash) > 0);
  }

  /** One key's totals per torrent. */
  keyTorrents(key: string): Promise<KeyTorrentRow[]> {
    return attempt(() => this.#all(READ_KEY_TORRENTS + "?", key).map(keyTorrentRow));
  }

  /**
   * Adds the deltas in one transaction. Deltas of keys the site deleted meanwhile are dropped:
   * the key update matches no row, and that tells whether the key exists, so a per-torrent
   * row costs a key lookup only when its key had no delta of its own (once per key). The
   * per-torrent rows go `ROWS_PER_INSERT` to a statement: a statement's call from JavaScript
   * costs about as much as SQLite's work for a row (`bench/results/2026-12-07.md`).
   */
  write(keys: KeyDelta[], keyTorrents: KeyTorrentDelta[]): Promise<void> {
    return attempt(() => {
      if (keys.length === 0 && keyTorrents.length === 0) return;
      const key = this.#prepare(
        "UPDATE shoal_keys SET uploaded = uploaded + ?, downloaded = downloaded + ?, " +
          "completed = completed + ? WHERE key = ?",
      );
      const one = this.#prepare(upsertKeyTorrents(1));
      const many = this.#prepare(upsertKeyTorrents(ROWS_PER_INSERT));
      const has = this.#prepare("SELECT 1 FROM shoal_keys WHERE key = ?");
      this.#transaction(() => {
        const exists = new Map<string, boolean>();
        for (const d of keys) {
          const changed = key.run(d.uploaded, d.downloaded, d.completed, d.key).changes;
          exists.set(d.key, toNumber(changed) > 0);
        }
        const params: SQLInputValue[] = [];
        for (const d of keyTorrents) {
          let ok = exists.get(d.key);
          if (ok === undefined) exists.set(d.key, ok = has.get(d.key) !== undefined);
          if (!ok) continue;
          params.push(d.key, d.infoHash, d.uploaded, d.downloaded, d.completed, d.seeded ? 1 : 0);
          if (params.length === 6 * ROWS_PER_INSERT) {
            many.run(...params);
            params.length = 0;
          }
        }
        for (let i = 0; i < params.length; i += 6) one.run(...params.slice(i, i + 6));
      });
    });
  }

  /** Closes the file; later calls reject. */
  close(): Promise<void> {
    return attempt(() => {
      this.#statements.clear();
      this.#db?.close();
      this.#db = null;
    });
  }

  #open(): DatabaseSync {
    if (!this.#db) throw new Error("the SQLite database is not open");
    return this.#db;
  }

  /** Prepares each statement once per connection. */
  #prepare(sql: string): StatementSync {
    let s = this.#statements.get(sql);
    if (!s) {
      s = this.#open().prepare(sql);
      // Read totals as bigints: a number past 2^53 reads rounded instead of throwing.
      s.setReadBigInts(true);
      this.#statements.set(sql, s);
    }
    return s;
  }

  #get(sql: string, ...params: SQLInputValue[]): Row | undefined {
    return this.#prepare(sql).get(...params) as Row | undefined;
  }

  #all(sql: string, ...params: SQLInputValue[]): Row[] {
    return this.#prepare(sql).all(...params) as Row[];
  }

  #run(sql: string, ...params: SQLInputValue[]): number {
    return toNumber(this.#prepare(sql).run(...params).changes);
  }

  /** Runs `body` between BEGIN IMMEDIATE (the write lock up front) and COMMIT, or rolls back. */
  #transaction(body: () => void): void {
    const db = this.#open();
    db.exec("BEGIN IMMEDIATE");
    try {
      body();
      db.exec("COMMIT");
    } catch (e) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw e;
    }
  }
}

/** Runs a synchronous call as the interface's promise: a throw becomes a rejection. */
function attempt<T>(body: () => T): Promise<T> {
  try {
    return Promise.resolve(body());
  } catch (e) {
    return Promise.reject(e);
  }
}
