/**
 * `--private`: shoal as a private tracker under the bench's load, every request carrying one of
 * many passkeys, beside the same load on shoal open. What it takes: a SQLite database holding the
 * keys (its schema made by shoal itself, the keys written straight into it, in one transaction:
 * the admin API would take minutes for 100k), a file of the same keys for the load generators,
 * and the `[private]` section that names a fresh copy of the database for each tracker started.
 *
 * Alone, `deno run --allow-all bench/private.ts DIR [COUNT [WRITE_INTERVAL]]` writes `DIR/keys.db`
 * (COUNT keys, 100000) and `DIR/keys.txt`, and prints the `[private]` section of a tracker over
 * them (what `profile/profile.sh` does with `PRIVATE_KEYS`).
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { type ConfigParts, startShoalWith } from "../harness/shoal.ts";

/** The admin API token of the bench's private trackers (no request is made with it). */
const TOKEN = "bench-token-0123456789abcdef";

/** Keys written into a database, ready for private trackers. */
export interface PrivateKeys {
  /** How many keys. */
  count: number;
  /** A file of the keys, one a line: the load generators' `--keys`. */
  keysFile: string;
  /**
   * The `[private]` section of a tracker over a fresh copy of the database (each tracker
   * starts from the same keys and no accounting rows from the trackers before it), writing its
   * accounting every `writeInterval` seconds (shoal's default when not given).
   */
  section(writeInterval?: number): Promise<ConfigParts>;
  /** Removes the files. */
  remove(): Promise<void>;
}

/** A key of 32 characters of URL-safe base64 (as `private/key_text.ts` makes them). */
function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

/**
 * `[private]` on over `db`, its admin API on a port the kernel picks, writing accounting every
 * `writeInterval` seconds (undefined: shoal's default).
 */
function privateSection(db: string, writeInterval?: number): ConfigParts {
  return {
    private: {
      enabled: true,
      database: `sqlite:${db}`,
      api_token: TOKEN,
      api_address: "127.0.0.1:0",
      write_interval: writeInterval,
    },
  };
}

/**
 * Makes a database of `count` keys in `dir` (a new temporary folder when not given): shoal udp
 * starts once over an empty file to create its schema and stops; the keys go into `shoal_keys`
 * in one transaction. `dir/keys.db` is the database, `dir/keys.txt` the keys.
 */
export async function privateKeys(count: number, dir?: string): Promise<PrivateKeys> {
  dir ??= await Deno.makeTempDir({ prefix: "shoal-bench-private-" });
  const base = `${dir}/keys.db`;
  const shoal = await startShoalWith("udp", privateSection(base));
  try {
    await shoal.waitFor(/admin API on http:\/\//);
  } finally {
    await shoal.stop();
  }
  const keys: string[] = [];
  for (let i = 0; i < count; i++) keys.push(randomKey());
  const db = new DatabaseSync(base);
  try {
    db.exec("BEGIN");
    const insert = db.prepare("INSERT INTO shoal_keys (key, user_id) VALUES (?, ?)");
    for (let i = 0; i < count; i++) insert.run(keys[i], `user${i}`);
    db.exec("COMMIT");
    // Everything into the main file: copies of it are whole databases.
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  } finally {
    db.close();
  }
  const keysFile = `${dir}/keys.txt`;
  await Deno.writeTextFile(keysFile, keys.join("\n") + "\n");
  let copies = 0;
  return {
    count,
    keysFile,
    section: async (writeInterval?: number) => {
      const copy = `${dir}/tracker${++copies}.db`;
      await Deno.copyFile(base, copy);
      return privateSection(copy, writeInterval);
    },
    remove: () => Deno.remove(dir, { recursive: true }),
  };
}

if (import.meta.main) {
  const [dir, count, writeInterval] = Deno.args.filter((a) => a !== "--");
  if (dir === undefined) {
    console.error("Usage: bench/private.ts DIR [COUNT [WRITE_INTERVAL]]");
    Deno.exit(2);
  }
  await Deno.mkdir(dir, { recursive: true });
  const db = await Deno.realPath(dir);
  await privateKeys(Number(count ?? 100_000), db);
  const interval = writeInterval === undefined ? undefined : Number(writeInterval);
  const s = privateSection(`${db}/keys.db`, interval).private as Record<string, unknown>;
  const lines = Object.entries(s).filter(([, v]) => v !== undefined);
  console.log(["[private]", ...lines.map(([k, v]) => `${k} = ${JSON.stringify(v)}`)].join("\n"));
}
