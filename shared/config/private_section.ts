/**
 * `[private]`, the same in every tracker: private tracking's keys, database, admin API and
 * accounting. The main thread's side of it is `private/`; workers only see its keys.
 *
 * @module
 */

import { bool, int, str } from "./schema.ts";
import { socketAddress } from "./common.ts";

/** Whether `v` names a database shoal can use. */
function databaseUrl(v: string): string | null {
  if (v.startsWith("sqlite:") && v.length > "sqlite:".length) return null;
  if (/^postgres(ql)?:\/\/./.test(v)) return null;
  return "expected sqlite:PATH or a postgres:// URL";
}

/** `[private]`. */
export function privateSection() {
  return {
    enabled: bool(
      false,
      "Private tracking: every announce needs a valid key in its URL (/KEY/announce).",
    ),
    registered_torrents_only: bool(
      false,
      "Track only torrents registered in the database (POST /api/v1/torrents/HASH).",
    ),
    database: str(
      "sqlite:shoal.db",
      "Where keys, registered torrents and totals are kept: sqlite:PATH or postgres://…",
      "sqlite:PATH or a postgres:// URL",
      databaseUrl,
    ),
    api_address: str(
      "127.0.0.1:9001",
      "Address of the admin API (JSON over HTTP, needs api_token); keep it private.",
      'an address like "127.0.0.1:9001"',
      socketAddress,
    ),
    api_token: str(
      "",
      "Bearer token every admin API request needs; required when enabled. Never logged.",
    ),
    write_interval: int(
      5,
      "Seconds between accounting writes to the database (a crash loses at most this much).",
      1,
      3600,
    ),
    refresh_interval: int(
      2,
      "Seconds between checks for keys and torrents the site changed in the database itself.",
      1,
      60,
    ),
    client_prefixes: str(
      "",
      "Peer-id prefixes of the only clients allowed, comma-separated (e.g. -qB,-TR,-lt); empty: any.",
    ),
  };
}
