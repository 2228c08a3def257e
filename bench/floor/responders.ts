/**
 * The bench's own UDP responders, started as trackers for its table: the floor of shoal's design
 * (`udp_floor.ts`, inline or with the hop to a worker) and the C limit responder
 * (`udp_responder.c`, stateless `recvmmsg`/`sendmmsg`, the limit of this machine's UDP path).
 *
 * @module
 */

import { CACHE, run, spawnReady, stopChild } from "../../harness/process.ts";
import type { Tracker } from "../../harness/trackers.ts";

const HERE = new URL(".", import.meta.url).pathname;
const LISTENING = /listening on udp:\/\/127\.0\.0\.1:(\d+)/;

/**
 * Starts the UDP floor responder (`udp_floor.ts`): shoal's socket, and with `hop` its channel to
 * a worker, answering without tracker work.
 */
export async function startFloor(hop: boolean): Promise<Tracker> {
  const { child, match } = await spawnReady(
    "udp_floor",
    Deno.execPath(),
    ["run", "--allow-ffi", "--allow-read", `${HERE}udp_floor.ts`, ...(hop ? ["--hop"] : [])],
    LISTENING,
  );
  return {
    name: hop ? "floor, hop" : "floor, 1 thread",
    pid: child.pid,
    udpPort: Number(match[1]),
    stop: () => stopChild(child),
  };
}

/**
 * Starts the HTTP floor responder (`http_floor.ts`): shoal's TCP transport answering every
 * request with an answer of shoal's size and no tracker work.
 */
export async function startHttpFloor(): Promise<Tracker> {
  const { child, match } = await spawnReady(
    "http_floor",
    Deno.execPath(),
    ["run", "--allow-ffi", "--allow-read", `${HERE}http_floor.ts`],
    /listening on http:\/\/127\.0\.0\.1:(\d+)/,
  );
  return {
    name: "floor, http",
    pid: child.pid,
    httpPort: Number(match[1]),
    stop: () => stopChild(child),
  };
}

/** Compiles and starts the C limit responder (`udp_responder.c`) with `threads` threads. */
export async function startResponder(threads = 1): Promise<Tracker> {
  await Deno.mkdir(CACHE, { recursive: true });
  const bin = `${CACHE}/udp_responder`;
  await run("gcc", ["-O2", "-pthread", "-o", bin, `${HERE}udp_responder.c`]);
  const { child, match } = await spawnReady(
    "udp_responder",
    bin,
    ["127.0.0.1", "0", String(threads)],
    LISTENING,
  );
  return {
    name: "C limit",
    pid: child.pid,
    udpPort: Number(match[1]),
    stop: () => stopChild(child),
  };
}
