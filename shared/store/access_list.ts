/**
 * Access lists as request workers keep them: a set of info hashes that either allows only the
 * torrents listed or denies them (`config/access_file.ts` reads the file).
 *
 * @module
 */

import { InfoHashTable } from "./info_hash_table.ts";
import { randomWords } from "../base/hash.ts";

/** `off`, `allow` (only those listed) or `deny` (all but those listed). */
export type AccessMode = "off" | "allow" | "deny";

/** The list as it crosses to the request workers. */
export interface AccessListData {
  /** The mode. */
  mode: AccessMode;
  /** 20 bytes per listed info hash. */
  hashes: Uint8Array;
}

/** The list inside a request worker: answers whether an info hash may be served. */
export class AccessList {
  #mode: AccessMode = "off";
  #set = new InfoHashTable(0, 0, () => {});
  #registered: InfoHashTable | null = null;
  /** Hashes listed. */
  size = 0;

  /** Replaces the list. */
  update(data: AccessListData): void {
    const key = randomWords(2);
    const set = new InfoHashTable(key[0], key[1], () => {});
    for (let o = 0; o + 20 <= data.hashes.length; o += 20) {
      if (set.find(data.hashes, o) < 0) set.insert(data.hashes, o);
    }
    this.#set = set;
    this.#mode = data.mode;
    this.size = set.size;
  }

  /**
   * Replaces a private tracker's registered torrents (20 bytes each), served on top of the
   * list; null serves every torrent the list allows (`registered_torrents_only` off).
   */
  updateRegistered(hashes: Uint8Array | null): void {
    if (hashes === null) {
      this.#registered = null;
      return;
    }
    const key = randomWords(2);
    const set = new InfoHashTable(key[0], key[1], () => {});
    for (let o = 0; o + 20 <= hashes.length; o += 20) {
      if (set.find(hashes, o) < 0) set.insert(hashes, o);
    }
    this.#registered = set;
  }

  /** Registered torrents, when only those are served. */
  get registered(): number {
    return this.#registered?.size ?? -1;
  }

  /** True when the info hash at `b[off]` may be served. */
  allows(b: Uint8Array, off: number): boolean {
    return this.refusal(b, off) === 0;
  }

  /**
   * 0 when the info hash at `b[off]` may be served; else why not: 1 (the access list refuses
   * it, `Refusal.NotAllowed`) or 4 (not registered, `Refusal.Unregistered`).
   */
  refusal(b: Uint8Array, off: number): number {
    if (this.#registered !== null && this.#registered.find(b, off) < 0) return 4;
    if (this.#mode === "off") return 0;
    const listed = this.#set.find(b, off) >= 0;
    return (this.#mode === "allow" ? listed : !listed) ? 0 : 1;
  }
}
