/**
 * The access list file: hex info hashes, one per line (`#` starts a comment, blank lines are
 * fine). The main thread reads and checks it at start and on SIGUSR1; a bad line is an
 * operator error naming the file and line.
 *
 * @module
 */

import { OperatorError } from "../base/errors.ts";
import type { AccessListData, AccessMode } from "../store/access_list.ts";

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
