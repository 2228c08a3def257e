/**
 * Private tracking as a tracker runs it (composed in `main.ts`): the `[private]` section
 * checked, the database opened and read, and the `TrackerExtras` the runtime calls: the keys
 * every worker starts with, then the refresh and write loops and the admin API.
 *
 * @module
 */

import { MetricsText } from "../shared/observe/prometheus.ts";
import { redactUrl } from "./redact.ts";
import { OperatorError } from "../shared/base/errors.ts";
import type { TrackerExtras } from "../shared/runtime/tracker.ts";
import type { Pool } from "../shared/runtime/pool.ts";
import type { Logger } from "../shared/base/log.ts";
import { Accounts } from "./accounts.ts";
import { apiHandler, serveApi } from "./api.ts";
import type { ApiServer } from "./api_types.ts";
import type { AccountsDb } from "./db.ts";

/** The `[private]` section (`shared/config/private_section.ts`). */
export interface PrivateSection {
  /** On or off. */
  enabled: boolean;
  /** Only registered torrents. */
  registered_torrents_only: boolean;
  /** `sqlite:PATH` or `postgres://…`. */
  database: string;
  /** Admin API address. */
  api_address: string;
  /** Admin API token. */
  api_token: string;
  /** Seconds between accounting writes. */
  write_interval: number;
  /** Seconds between checks for the site's own changes. */
  refresh_interval: number;
  /** Allowed peer-id prefixes, comma-separated. */
  client_prefixes: string;
}

/** Shortest admin API token accepted: a guessable token would open every key. */
const MIN_TOKEN = 16;

/**
 * The database `url` names (`sqlite:PATH` or a `postgres://` URL). Loaded only when asked for:
 * an open tracker, or one on SQLite, never loads the PostgreSQL driver.
 */
export async function openDatabase(url: string): Promise<AccountsDb> {
  if (url.startsWith("sqlite:")) {
    const { SqliteDb } = await import("./sqlite.ts");
    return new SqliteDb(url.slice("sqlite:".length));
  }
  const { PostgresDb } = await import("./postgres.ts");
  return new PostgresDb(url);
}

/**
 * Private tracking for a tracker whose `[private]` section is `s`: null when it is off. A
 * section that cannot work is an `OperatorError` (a one-line error, exit status 2).
 */
export async function privateTracking(s: PrivateSection): Promise<TrackerExtras | null> {
  if (!s.enabled) return null;
  if (s.api_token === "") {
    throw new OperatorError("private.api_token is required when private.enabled is true");
  }
  if (s.api_token.length < MIN_TOKEN) {
    throw new OperatorError(`private.api_token must be at least ${MIN_TOKEN} characters`);
  }
  const clients = s.client_prefixes.split(",").map((c) => c.trim()).filter((c) => c !== "");
  const db = await openDatabase(s.database);
  const accounts = new Accounts(db, { registeredOnly: s.registered_torrents_only, clients });
  try {
    await accounts.open();
  } catch (err) {
    throw new OperatorError(
      `private.database ${redactUrl(s.database)}: ${(err as Error).message.split("\n")[0]}`,
    );
  }
  let api: ApiServer | null = null;
  return {
    init: () => accounts.init(),
    attach: (pool: Pool<unknown>, l: Logger) => {
      accounts.attach(pool, l, s.refresh_interval * 1000, s.write_interval * 1000);
      api = serveApi(s.api_address, apiHandler(s.api_token, accounts), (line) => l.debug(line));
      // Always printed, as the listening lines are: operators and tests need the port.
      const host = s.api_address.slice(0, s.api_address.lastIndexOf(":"));
      console.log(`admin API on http://${host}:${api.port}`);
      return Promise.resolve();
    },
    stop: async () => {
      await api?.close();
      await accounts.stop(15_000);
      await db.close().catch(() => {});
    },
    metrics: () => privateMetrics(accounts),
    describe: () =>
      `private tracking: ${accounts.keyCount} keys in ${db.kind} (${redactUrl(s.database)})` +
      (s.registered_torrents_only ? ", registered torrents only" : "") +
      `, admin API on ${s.api_address}`,
  };
}

function privateMetrics(a: Accounts): string {
  const m = new MetricsText();
  m.gauge("shoal_private_keys", "Keys known (revoked included).", a.keyCount);
  m.gauge("shoal_private_accounting_backlog", "Accounting rows waiting to be written.", a.backlog);
  m.gauge("shoal_private_database_up", "Whether the last database call worked.", +a.databaseUp);
  m.counter(
    "shoal_private_write_failures_total",
    "Accounting writes that failed (retried).",
    a.writeFailures,
  );
  m.counter(
    "shoal_private_dropped_torrent_rows_total",
    "Per-torrent deltas not kept (backlog full).",
    a.droppedTorrentRows,
  );
  return m.toString();
}
