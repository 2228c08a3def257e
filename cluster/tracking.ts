/**
 * A cluster's node as a tracker runs it (composed in `main.ts`): `[cluster]` checked, then the
 * `TrackerExtras` the runtime calls. Joining happens once the workers are up and before the
 * `listening on` lines, so a name already live in the cluster stops the start (exit 2).
 *
 * @module
 */

import type { Logger } from "../shared/base/log.ts";
import type { TrackerExtras } from "../shared/runtime/tracker.ts";
import { ClusterNode } from "./node.ts";
import { type ClusterKind, type ClusterSection, clusterSettings } from "./settings.ts";

/** A cluster's node for a tracker whose `[cluster]` section is `c`: null when it is off. */
export function clusterTracking(c: ClusterSection, kind: ClusterKind): TrackerExtras | null {
  const s = clusterSettings(c, kind);
  if (s === null) return null;
  let node: ClusterNode | null = null;
  return {
    init: () => null,
    attach: async (_pool, log: Logger) => {
      node = new ClusterNode(s, log);
      await node.start();
    },
    stop: async () => {
      await node?.stop();
    },
    metrics: () => node?.metrics() ?? "",
    describe: () => node?.describe() ?? "",
  };
}
