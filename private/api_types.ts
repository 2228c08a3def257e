/**
 * The admin API's shapes: what it answers (`KeyInfo`, `UserInfo`, `TorrentInfo`), what it asks
 * of its backend (the main thread's accounts), and its limits. The routes are `api.ts`.
 *
 * @module
 */

/** The largest request body the API reads, in bytes. */
export const API_BODY_LIMIT = 64 * 1024;

/** The longest user name, in UTF-16 code units (JavaScript string length). */
export const USER_MAX_LENGTH = 128;

/** One key as `GET /api/v1/keys/{key}` shows it. */
export interface KeyInfo {
  /** The key. */
  key: string;
  /** The user it belongs to. */
  user: string;
  /** Unix seconds after which it is refused, or null (no expiry). */
  valid_until: number | null;
  /** Revoked: refused, its totals kept. */
  revoked: boolean;
  /** Bytes uploaded over the key's life. */
  uploaded: number;
  /** Bytes downloaded over the key's life. */
  downloaded: number;
  /** Completed events over the key's life. */
  completed: number;
}

/** One user as `GET /api/v1/users/{user}` shows it: the sums over its keys. */
export interface UserInfo {
  /** The user. */
  user: string;
  /** How many keys it has, revoked ones included. */
  keys: number;
  /** Bytes uploaded. */
  uploaded: number;
  /** Bytes downloaded. */
  downloaded: number;
  /** Completed events. */
  completed: number;
}

/** One torrent as `GET /api/v1/torrents/{info hash}` shows it. */
export interface TorrentInfo {
  /** Whether it is registered (announces for it are accepted). */
  registered: boolean;
  /** Seeders in its swarm now. */
  seeders: number;
  /** Leechers in its swarm now. */
  leechers: number;
  /** Completed events. */
  completed: number;
}

/**
 * What the API reads and changes; the main thread's accounts implement it. Any method may
 * answer at once or with a promise; one that throws (or rejects) is answered 503.
 */
export interface ApiBackend {
  /** Creates a key; `validUntil` in unix seconds or null. */
  createKey(
    key: string,
    user: string,
    validUntil: number | null,
  ): "created" | "exists" | Promise<"created" | "exists">;
  /** Revokes a key; false when it is unknown. */
  revokeKey(key: string): boolean | Promise<boolean>;
  /** A key's details, or null when it is unknown. */
  keyInfo(key: string): KeyInfo | null | Promise<KeyInfo | null>;
  /** A user's totals, or null when it has no keys. */
  userInfo(user: string): UserInfo | null | Promise<UserInfo | null>;
  /** Registers a torrent (40 lowercase hex); false when it was registered already. */
  registerTorrent(infoHash: string): boolean | Promise<boolean>;
  /** Unregisters a torrent (40 lowercase hex); false when it was not registered. */
  unregisterTorrent(infoHash: string): boolean | Promise<boolean>;
  /** A torrent's registration and swarm (40 lowercase hex). */
  torrentInfo(infoHash: string): TorrentInfo | Promise<TorrentInfo>;
}

/** A request handler, as `Deno.serve` takes one. */
export type ApiHandler = (req: Request) => Promise<Response>;

/** A running admin API server. */
export interface ApiServer {
  /** The port it listens on (the one picked when the address said 0). */
  port: number;
  /** Stops listening and waits for requests in progress. */
  close(): Promise<void>;
}
