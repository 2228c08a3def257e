/**
 * Runs a BitTorrent tracker: the socket workers of its fronts (UDP, HTTP, or both in one
 * process) over the core's request workers and swarms, through the tracker runtime
 * (`shared/runtime/tracker.ts`).
 *
 * @module
 */

import type { Logger } from "../shared/base/log.ts";
import { runTracker, type TrackerConfig, type TrackerPlan } from "../shared/runtime/tracker.ts";
import { type SwarmsConfig, swarmsConfig, type SwarmsSource } from "./config.ts";
import { SWARM_STATE } from "./saved_swarms.ts";

/** A BitTorrent tracker's plan: the runtime's, less what the core decides. */
export type SwarmsPlan<C extends TrackerConfig & SwarmsSource, S> = Omit<
  TrackerPlan<C, SwarmsConfig, S>,
  "requestConfig" | "state" | "requestUrl"
>;

/** Starts the tracker `plan` describes over the core's swarms; resolves once it serves. */
export async function runSwarms<C extends TrackerConfig & SwarmsSource, S>(
  plan: SwarmsPlan<C, S>,
  log: Logger,
): Promise<void> {
  await runTracker({
    ...plan,
    requestConfig: swarmsConfig(plan.config),
    state: SWARM_STATE,
    requestUrl: new URL("./request_worker.ts", import.meta.url),
  }, log);
}
