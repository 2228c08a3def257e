/**
 * Connections against the open-file limit: every TCP connection is a descriptor, and a process
 * holds only as many as `ulimit -n` allows (Deno raises the soft limit to the hard one).
 *
 * @module
 */

import { openFileLimit } from "../net/libc.ts";

/** Descriptors a process needs besides its connections: the runtime's, each worker's, listeners. */
function baseDescriptors(workers: number): number {
  return 64 + 8 * workers;
}

/**
 * How many connections the open-file limit leaves room for, or null when it holds all of
 * `max_connections`, with the one-line warning to log once serving. The socket workers stop
 * accepting at that many (refusals counted as `open_files`), so descriptors stay free for the
 * rest of the process (the metrics endpoint, the state file, a replacement worker).
 */
export function connectionsThatFit(
  maxConnections: number,
  workers: number,
): { fit: number; warning: string } | null {
  const limit = openFileLimit();
  const need = maxConnections + baseDescriptors(workers);
  if (limit === null || limit >= need) return null;
  const fit = Math.max(0, limit - baseDescriptors(workers));
  const warning = `the open-file limit is ${limit} (ulimit -n), below the ${need} that ` +
    `limits.max_connections = ${maxConnections} needs: about ${fit} ` +
    `connections fit; raise it (ulimit -n, or LimitNOFILE= in the systemd unit) or lower ` +
    `limits.max_connections`;
  return { fit, warning };
}
