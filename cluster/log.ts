/**
 * How a cluster node speaks in the log: where its lines go, and an error's first line (a
 * client's errors may run over several, with stacks).
 *
 * @module
 */

import type { Logger } from "../shared/base/log.ts";

/** Where a node's lines go. */
export type Log = Pick<Logger, "info" | "warn" | "error">;

/** The first line of `err`'s message. */
export function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split("\n")[0];
}
