/**
 * What private tracking keeps in its database, whichever it is (`sqlite.ts`: `node:sqlite`,
 * the embedded default; `postgres.ts`: PostgreSQL), behind one interface the main thread uses.
 * No request worker and no socket worker ever queries it: keys and registered torrents are
 * loaded into memory and refreshed when the database's change counter moves; accounting is
 * written in batched transactions every `write_interval`.
 *
 * The schema (created and versioned by shoal; `SCHEMA_VERSION`) is documented in the README's
 * "Private tracking" section:
 *
 * - `shoal_meta(name PRIMARY KEY, value)`: `schema_version`, and `changes`, a counter that
 *   triggers bump on every insert, delete and change of a key's `user_id`, `valid_until` or
 *   `revoked`, and on every insert or delete of a registered torrent. Accounting updates do not
 *   bump it.
 * - `shoal_keys(key PRIMARY KEY, user_id, valid_until NULL|unix seconds, revoked 0|1,
 *   uploaded, downloaded, completed, created)`.
 * - `shoal_torrents(info_hash PRIMARY KEY as 40 lowercase hex, created)`.
 * - `shoal_key_torrents(key, info_hash, uploaded, downloaded, completed, seeded 0|1,
 *   PRIMARY KEY (key, info_hash))`.
 *
 * @module
 */

/** The schema version this build creates and reads. */
export const SCHEMA_VERSION = 1;

/** One key as the database holds it. */
export interface KeyRow {
  /** The key's text (16–64 of `A–Z a–z 0–9 _ -`). */
  key: string;
  /** The user it belongs to. */
  user: string;
  /** Unix seconds after which it is refused, or null (no expiry). */
  validUntil: number | null;
  /** Revoked: refused, its totals kept. */
  revoked: boolean;
  /** Bytes uploaded, over the key's life. */
  uploaded: number;
  /** Bytes downloaded. */
  downloaded: number;
  /** Completed events. */
  completed: number;
}

/** What one write adds to one key's totals. */
export interface KeyDelta {
  /** The key. */
  key: string;
  /** Bytes uploaded since the last write. */
  uploaded: number;
  /** Bytes downloaded since the last write. */
  downloaded: number;
  /** Completed events since the last write. */
  completed: number;
}

/** What one write adds to one key's totals on one torrent. */
export interface KeyTorrentDelta extends KeyDelta {
  /** The info hash, 40 lowercase hex. */
  infoHash: string;
  /** The key has seeded this torrent (announced with nothing left). Only ever set, not unset. */
  seeded: boolean;
}

/** One key's totals on one torrent. */
export interface KeyTorrentRow extends KeyTorrentDelta {}

/** A private tracker's database. Every method may reject while the database is unreachable. */
export interface AccountsDb {
  /** `sqlite` or `postgres`, for logs. */
  readonly kind: string;
  /** Connects, and creates the schema or checks its version (a newer one is an error). */
  open(): Promise<void>;
  /** The `changes` counter: when it moved since the last call, reload keys and torrents. */
  changes(): Promise<number>;
  /** Every key. */
  keys(): Promise<KeyRow[]>;
  /** Every registered torrent, 40 lowercase hex each. */
  torrents(): Promise<string[]>;
  /** Adds a key; false when it exists already. */
  insertKey(key: string, user: string, validUntil: number | null): Promise<boolean>;
  /** Marks a key revoked; false when there is no such key. */
  revokeKey(key: string): Promise<boolean>;
  /** Registers a torrent (40 lowercase hex); false when it was registered already. */
  registerTorrent(infoHash: string): Promise<boolean>;
  /** Unregisters a torrent; false when it was not registered. */
  unregisterTorrent(infoHash: string): Promise<boolean>;
  /** One key's totals per torrent. */
  keyTorrents(key: string): Promise<KeyTorrentRow[]>;
  /** Adds the deltas to the totals in one transaction: all of them, or none (then it rejects). */
  write(keys: KeyDelta[], keyTorrents: KeyTorrentDelta[]): Promise<void>;
  /** Closes the connection. */
  close(): Promise<void>;
}
