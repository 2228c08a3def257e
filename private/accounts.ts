/**
 * Private tracking on the main thread: the keys and registered torrents in memory, as the
 * workers get them (`init`, then `keys` and `registered` messages), refreshed when the
 * database's change counter moves; the accounting the request workers post, added to the
 * totals at once (the API shows them) and written to the database in one transaction every
 * `write_interval`, kept and retried while the database is unreachable; and the admin API's
 * backend. No worker ever waits for the database.
 *
 * @module
 */

import type { Logger } from "../shared/base/log.ts";
import type { Pool } from "../shared/runtime/pool.ts";
import type { PrivateInit } from "../shared/runtime/private_init.ts";
import { DRAIN_LEN } from "../shared/store/peer_accounts.ts";
import type { ApiBackend, KeyInfo, TorrentInfo, UserInfo } from "./api_types.ts";
import type { AccountsDb, KeyDelta, KeyTorrentDelta } from "./db.ts";
import { maskKey } from "./key_text.ts";
import { PendingRows } from "./pending_rows.ts";
import { KeyRows } from "./key_rows.ts";

/** Most per-key-and-torrent rows waiting to be written; past it only per-key totals are kept. */
export const MAX_PENDING_TORRENT_ROWS = 1_000_000;

/** What the accounts are configured with. */
export interface AccountsSettings {
  /** Only registered torrents are tracked. */
  registeredOnly: boolean;
  /** Peer-id prefixes of the clients allowed (empty: any). */
  clients: string[];
}

/** Keys, torrents and totals of a private tracker. */
export class Accounts implements ApiBackend {
  /** Write attempts that failed (the database was unreachable). */
  writeFailures = 0;
  /** Whether the last database call worked. */
  databaseUp = true;
  /** Per-key-and-torrent deltas not kept because too many waited. */
  droppedTorrentRows = 0;
  #db: AccountsDb;
  #s: AccountsSettings;
  #log: Logger | null = null;
  #pool: Pool<unknown> | null = null;
  #keys = new KeyRows();
  #registered = new Set<string>();
  #changes = -1;
  /** Per key index: uploaded, downloaded, completed not yet written; and which are set. */
  #pendKey = new Float64Array(3 * 1024);
  #pendKeys: number[] = [];
  #pendMark = new Uint8Array(1024);
  #rowsPending = new PendingRows(MAX_PENDING_TORRENT_ROWS);
  #writing: Promise<void> | null = null;
  #refreshing = false;

  /** Accounts kept in `db`. */
  constructor(db: AccountsDb, settings: AccountsSettings) {
    this.#db = db;
    this.#s = settings;
  }

  /** Opens the database and loads keys and torrents. */
  async open(): Promise<void> {
    await this.#db.open();
    this.#changes = await this.#db.changes();
    await this.#reload(false);
  }

  /** Keys known (revoked included, deleted not). */
  get keyCount(): number {
    return this.#keys.count;
  }

  /** Accounting rows waiting to be written (per key, and per key and torrent). */
  get backlog(): number {
    return this.#pendKeys.length + this.#rowsPending.size;
  }

  /** What every worker starts with. */
  init(): PrivateInit {
    return {
      keys: this.#keys.all(),
      registered: this.#s.registeredOnly ? this.#registeredBytes() : null,
      clients: this.#s.clients,
    };
  }

  /** Starts taking the workers' accounting; `refreshMs` and `writeMs` are the intervals. */
  attach(pool: Pool<unknown>, log: Logger, refreshMs: number, writeMs: number): void {
    this.#pool = pool;
    this.#log = log;
    pool.onAccounting((b) => this.merge(b));
    setInterval(() => this.refresh(), refreshMs);
    setInterval(() => this.write(), writeMs);
  }

  /** Adds request-worker accounting records (`peer_accounts.ts`) to the totals and the backlog. */
  merge(b: Uint8Array): void {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let o = 0; o + DRAIN_LEN <= b.length; o += DRAIN_LEN) {
      const i = v.getUint32(o, true);
      const row = this.#keys.rows[i];
      if (row === undefined) continue;
      const up = v.getFloat64(o + 24, true), down = v.getFloat64(o + 32, true);
      const done = v.getUint32(o + 40, true), seeded = b[o + 44] === 1;
      if (up !== 0 || down !== 0 || done !== 0) {
        row.uploaded += up;
        row.downloaded += down;
        row.completed += done;
        this.#addKey(i, up, down, done);
      } else if (!seeded) continue;
      // The record's key index and info hash are the row's identity (`ROW_ID_LEN` bytes).
      if (!this.#rowsPending.add(b, o, up, down, done, seeded)) this.droppedTorrentRows++;
    }
  }

  #addKey(i: number, up: number, down: number, done: number): void {
    if (i >= this.#pendMark.length) {
      const n = Math.max(i + 1, 2 * this.#pendMark.length);
      const mark = new Uint8Array(n), vals = new Float64Array(3 * n);
      mark.set(this.#pendMark);
      vals.set(this.#pendKey);
      this.#pendMark = mark;
      this.#pendKey = vals;
    }
    if (this.#pendMark[i] === 0) {
      this.#pendMark[i] = 1;
      this.#pendKeys.push(i);
    }
    this.#pendKey[3 * i] += up;
    this.#pendKey[3 * i + 1] += down;
    this.#pendKey[3 * i + 2] += done;
  }

  /**
   * Writes the backlog in one transaction. While the database is unreachable it stays (and
   * grows, bounded) for the next try; resolves either way.
   */
  write(): Promise<void> {
    if (this.#writing !== null) return this.#writing;
    if (this.backlog === 0) return Promise.resolve();
    // Taken whole: what comes meanwhile waits for the next write.
    const keys = this.#pendKeys, vals = this.#pendKey;
    const rows = this.#rowsPending;
    this.#pendKeys = [];
    this.#pendKey = new Float64Array(vals.length);
    this.#pendMark.fill(0);
    this.#rowsPending = new PendingRows(MAX_PENDING_TORRENT_ROWS);
    // In the keys' byte order, as the tables' primary keys sort (`KeyRows.rank`).
    const rank = this.#keys.rank();
    keys.sort((a, b) => rank[a] - rank[b]);
    // Keys the site deleted meanwhile are not written (their rows would point nowhere).
    const keyDeltas: KeyDelta[] = [];
    for (const i of keys) {
      if (this.#keys.deleted[i]) continue;
      keyDeltas.push({
        key: this.#keys.rows[i].key,
        uploaded: vals[3 * i],
        downloaded: vals[3 * i + 1],
        completed: vals[3 * i + 2],
      });
    }
    const torrentDeltas: KeyTorrentDelta[] = [];
    const hex = rows.allHex();
    for (const r of rowOrder(rows, rank)) {
      const i = rows.keyOf(r);
      if (this.#keys.deleted[i]) continue;
      torrentDeltas.push({
        key: this.#keys.rows[i].key,
        infoHash: hex.substring(40 * r, 40 * r + 40),
        uploaded: rows.vals[3 * r],
        downloaded: rows.vals[3 * r + 1],
        completed: rows.vals[3 * r + 2],
        seeded: rows.seeded[r] === 1,
      });
    }
    this.#writing = this.#db.write(keyDeltas, torrentDeltas).then(() => {
      this.#up();
    }, (err) => {
      // Put back, added to what came meanwhile: nothing lost, nothing counted twice.
      this.writeFailures++;
      this.#down(err);
      for (const i of keys) this.#addKey(i, vals[3 * i], vals[3 * i + 1], vals[3 * i + 2]);
      this.droppedTorrentRows += this.#rowsPending.addAll(rows);
    }).finally(() => {
      this.#writing = null;
    });
    return this.#writing;
  }

  /** Collects the request workers' last accounting and writes everything (a graceful stop). */
  async stop(timeoutMs: number): Promise<void> {
    const pool = this.#pool;
    if (pool !== null) await pool.drainAccounting(Math.min(5000, timeoutMs / 2));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      await this.write();
      if (this.backlog === 0) return;
      await new Promise((r) => setTimeout(r, 500));
    }
    this.#log?.error(
      `private: ${this.backlog} accounting rows not written at stop (database unreachable)`,
    );
  }

  /** Reloads keys and torrents when the database says they changed (the site's own writes). */
  async refresh(): Promise<void> {
    if (this.#refreshing) return;
    this.#refreshing = true;
    try {
      const c = await this.#db.changes();
      if (c !== this.#changes) {
        await this.#reload(true);
        this.#changes = c;
      }
      this.#up();
    } catch (err) {
      this.#down(err);
    } finally {
      this.#refreshing = false;
    }
  }

  #up(): void {
    if (!this.databaseUp) {
      this.#log?.info(`private: the ${this.#db.kind} database is reachable again`);
    }
    this.databaseUp = true;
  }

  #down(err: unknown): void {
    if (this.databaseUp) {
      this.#log?.error(
        `private: the ${this.#db.kind} database is unreachable (${
          (err as Error).message.split("\n")[0]
        }); serving from memory, accounting waits`,
      );
    }
    this.databaseUp = false;
  }

  async #reload(broadcast: boolean): Promise<void> {
    const rows = await this.#db.keys();
    const torrents = await this.#db.torrents();
    const changed = this.#keys.sync(rows);
    if (broadcast && changed.length > 0) this.#send(changed);
    const same = torrents.length === this.#registered.size &&
      torrents.every((t) => this.#registered.has(t));
    if (!same) {
      this.#registered = new Set(torrents);
      if (broadcast) this.#sendRegistered();
    }
  }

  #send(indices: number[]): void {
    this.#pool?.broadcast({ type: "keys", update: this.#keys.update(indices) });
  }

  #registeredBytes(): Uint8Array {
    const out = new Uint8Array(20 * this.#registered.size);
    let o = 0;
    for (const h of this.#registered) {
      for (let j = 0; j < 20; j++) out[o + j] = parseInt(h.slice(2 * j, 2 * j + 2), 16);
      o += 20;
    }
    return out;
  }

  #sendRegistered(): void {
    if (!this.#s.registeredOnly) return;
    this.#pool?.broadcast({ type: "registered", hashes: this.#registeredBytes() }, "request");
  }

  // The admin API's backend.

  /** Creates a key (in the database first, then in every worker). */
  async createKey(key: string, user: string, validUntil: number | null): Promise<
    "created" | "exists"
  > {
    if (this.#keys.live(key) !== null) return "exists";
    if (!await this.#db.insertKey(key, user, validUntil)) return "exists";
    const at = this.#keys.put({
      key,
      user,
      validUntil,
      revoked: false,
      uploaded: 0,
      downloaded: 0,
      completed: 0,
    });
    this.#send([at]);
    this.#log?.info(`private: key ${maskKey(key)} created`);
    return "created";
  }

  /** Revokes a key: refused by every worker and its peers gone within the second. */
  async revokeKey(key: string): Promise<boolean> {
    if (!await this.#db.revokeKey(key)) return false;
    const i = this.#keys.indexOf(key);
    if (i !== undefined) {
      this.#keys.rows[i].revoked = true;
      this.#send([i]);
    }
    this.#log?.info(`private: key ${maskKey(key)} revoked`);
    return true;
  }

  /** A key and its totals (what is not yet written included). */
  keyInfo(key: string): KeyInfo | null {
    const r = this.#keys.live(key);
    if (r === null) return null;
    return {
      key: r.key,
      user: r.user,
      valid_until: r.validUntil,
      revoked: r.revoked,
      uploaded: r.uploaded,
      downloaded: r.downloaded,
      completed: r.completed,
    };
  }

  /** A user's totals over its keys. */
  userInfo(user: string): UserInfo | null {
    const keys = this.#keys.ofUser(user);
    if (keys.length === 0) return null;
    const u: UserInfo = { user, keys: keys.length, uploaded: 0, downloaded: 0, completed: 0 };
    for (const r of keys) {
      u.uploaded += r.uploaded;
      u.downloaded += r.downloaded;
      u.completed += r.completed;
    }
    return u;
  }

  /** Registers a torrent. */
  async registerTorrent(infoHash: string): Promise<boolean> {
    const added = await this.#db.registerTorrent(infoHash);
    if (!this.#registered.has(infoHash)) {
      this.#registered.add(infoHash);
      this.#sendRegistered();
    }
    return added;
  }

  /** Unregisters a torrent. */
  async unregisterTorrent(infoHash: string): Promise<boolean> {
    const removed = await this.#db.unregisterTorrent(infoHash);
    if (this.#registered.delete(infoHash)) this.#sendRegistered();
    return removed;
  }

  /** A torrent's registration and swarm. */
  async torrentInfo(infoHash: string): Promise<TorrentInfo> {
    const b = new Uint8Array(20);
    for (let j = 0; j < 20; j++) b[j] = parseInt(infoHash.slice(2 * j, 2 * j + 2), 16);
    const [seeders, leechers, completed] = this.#pool ? await this.#pool.torrent(b) : [0, 0, 0];
    return { registered: this.#registered.has(infoHash), seeders, leechers, completed };
  }
}

/**
 * `rows`' indices sorted by their key's `rank` (then as they came): one number per row packs
 * both (`rank × size + row`, exact while under 2^53: ranks are u32, rows at most
 * `MAX_PENDING_TORRENT_ROWS`), so the sort is the typed array's own, with no comparator call.
 */
function rowOrder(rows: PendingRows, rank: Uint32Array): Float64Array {
  const m = rows.size, packed = new Float64Array(m);
  for (let r = 0; r < m; r++) packed[r] = rank[rows.keyOf(r)] * m + r;
  packed.sort();
  for (let k = 0; k < m; k++) packed[k] %= m;
  return packed;
}
