/**
 * Access lists: a file of hex info hashes, one per line (`#` starts a comment, blank lines
 * are fine), that either allows only the torrents listed or denies them. The main thread reads
 * and checks the file (at start, and on SIGUSR1); request workers keep the hashes in a set.
 *
 * @module
 */

import { OperatorError } from "./errors.ts";
import { InfoHashTable } from "./info_hash_table.ts";
import { randomWords } from "./hash.ts";

/** `off`, `allow` (only those listed) or `deny` (all but those listed). */
export type AccessMode = "off" | "allow" | "deny";

/** The list as it crosses to the request workers. */
export interface AccessListData {
  /** The mode. */
  mode: AccessMode;
  /** 20 bytes per listed info hash. */
  hashes: Uint8Array;
}

/** The message that brings a new list to a request worker. */
export interface AccessUpdate extends AccessListData {
  /** Discriminator. */
  type: "access";
}

/**
 * Parses the file's text; throws `OperatorError` naming `file` and the line of the first bad
 * entry (and how many more are bad).
 */
export function parseAccessList(text: string, file: string): Uint8Array {
  const lines = text.split(/\r?\n/);
  const out: number[] = [];
  const bad: string[] = [];
  lines.forEach((raw, i) => {
    const line = raw.replace(/#.*/, "").trim();
    if (line === "") return;
    if (!/^[0-9a-fA-F]{40}$/.test(line)) {
      bad.push(
        `${file}:${i + 1}: not a 40-character hex info hash: ${JSON.stringify(line.slice(0, 60))}`,
      );
      return;
    }
    for (let j = 0; j < 40; j += 2) out.push(parseInt(line.slice(j, j + 2), 16));
  });
  if (bad.length > 0) {
    throw new OperatorError(
      bad[0] + (bad.length > 1 ? ` (and ${bad.length - 1} more bad lines)` : ""),
    );
  }
  return new Uint8Array(out);
}

/** Reads and parses the access list of `mode`/`path` (nothing to read when `off`). */
export async function loadAccessList(mode: AccessMode, path: string): Promise<AccessListData> {
  if (mode === "off") return { mode, hashes: new Uint8Array(0) };
  if (path === "") {
    throw new OperatorError(`access_list.path must be set when access_list.mode = "${mode}"`);
  }
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
    throw new OperatorError(`access_list.path: cannot read ${path}: ${why}`);
  }
  return { mode, hashes: parseAccessList(text, path) };
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
