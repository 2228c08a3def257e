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

  /** True when the info hash at `b[off]` may be served. */
  allows(b: Uint8Array, off: number): boolean {
    if (this.#mode === "off") return true;
    const listed = this.#set.find(b, off) >= 0;
    return this.#mode === "allow" ? listed : !listed;
  }
}
