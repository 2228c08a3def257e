/**
 * A private tracker for tests: the real `shoal` with `[private]` on, over a database the test
 * names, and its admin API called as other tools call it (JSON, a bearer token).
 *
 * @module
 */

import assert from "assert";
import { type ConfigParts, type RunningShoal, startShoalWith } from "./shoal.ts";

/** The admin API token every private test tracker uses. */
export const TOKEN = "test-token-0123456789abcdef";

/** A private tracker under test. */
export interface PrivateShoal {
  /** The process. */
  shoal: RunningShoal;
  /** The admin API's base URL. */
  api: string;
  /** Calls the admin API with the token; returns status and JSON body (null when none). */
  // deno-lint-ignore no-explicit-any -- the API's JSON, read field by field in each test
  call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
}

/** A fresh SQLite database path in a temp dir, as `sqlite:PATH`. */
export async function sqliteUrl(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "shoal-private-" });
  return `sqlite:${dir}/shoal.db`;
}

/**
 * Starts `shoal <protocol>` private over `database`, with `parts` over the base (the
 * `private` section merged), expecting `listening` listening lines.
 */
export async function startPrivate(
  protocol: "udp" | "http" | "ws",
  database: string,
  parts: ConfigParts = {},
  listening = 1,
): Promise<PrivateShoal> {
  const { private: extra, ...rest } = parts as ConfigParts & { private?: ConfigParts };
  const shoal = await startShoalWith(protocol, {
    ...rest,
    private: {
      enabled: true,
      database,
      api_token: TOKEN,
      api_address: "127.0.0.1:0",
      refresh_interval: 1,
      write_interval: 1,
      ...(extra ?? {}),
    },
  }, listening);
  const line = await shoal.waitFor(/admin API on http:\/\/\S+/);
  const api = line.match(/http:\/\/\S+/)![0];
  return {
    shoal,
    api,
    call: async (method, path, body) => {
      const res = await fetch(`${api}${path}`, {
        method,
        headers: { authorization: `Bearer ${TOKEN}` },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, json: text === "" ? null : JSON.parse(text) };
    },
  };
}

/** Creates `key` (for `user`) through the API. */
export async function createKey(p: PrivateShoal, key: string, user = key): Promise<void> {
  const r = await p.call("POST", "/api/v1/keys", { key, user });
  assert.equal(r.status, 201, JSON.stringify(r.json));
}

/** Polls `f` every 100 ms until it returns true, for at most `ms`; false if it never did. */
export async function eventually(f: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await f()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}
