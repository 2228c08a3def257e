/**
 * Holds `--connections` idle WebSocket connections to `--target` for the memory mode of the
 * bench: prints `ready N` once they are all open, `open N` (those the server has not closed)
 * for each line on stdin, and ends when stdin closes.
 *
 * @module
 */

import { RawWs } from "../ws_client.ts";
import { parseLoadArgs } from "./cli.ts";
import { parseSocketAddress } from "../../shared/net/address.ts";

const o = parseLoadArgs(Deno.args, { target: "127.0.0.1:3000", connections: 10000 });
const addr = parseSocketAddress(o.target);
if (typeof addr === "string") throw new Error(addr);
const conns: RawWs[] = [];
for (let i = 0; i < o.connections; i += 100) {
  const batch = await Promise.all(
    Array.from(
      { length: Math.min(100, o.connections - i) },
      () => RawWs.connect(addr.hostname, addr.port, { zeroMask: true }),
    ),
  );
  conns.push(...batch);
}
let closed = 0;
for (const c of conns) c.read(() => {}).then(() => closed++);
console.log(`ready ${conns.length}`);
for await (const _ of Deno.stdin.readable) console.log(`open ${conns.length - closed}`);
conns.forEach((c) => c.close());
