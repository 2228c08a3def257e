/**
 * The UDP I/O backends and the choice between them: `ffi` (libc `recvmmsg`/`sendmmsg`,
 * `io_ffi.ts`) or `deno` (`Deno.listenDatagram`, `io_deno.ts`), behind `datagram.ts`.
 *
 * @module
 */

import type { DatagramSocket, SocketOptions } from "./datagram.ts";
import { openDenoSocket } from "./io_deno.ts";
import { openFfiSocket } from "./io_ffi.ts";

export type { DatagramSocket, Family, PacketBatch, SendParts, SocketOptions } from "./datagram.ts";
export { ADDR_LEN } from "./datagram.ts";

/** Error thrown when a socket cannot be opened. */
export { SocketOpenError } from "../shared/base/errors.ts";

/** The backend `network.io = "auto"` picks: ffi on Linux, deno elsewhere. */
export function defaultIo(): "ffi" | "deno" {
  return Deno.build.os === "linux" ? "ffi" : "deno";
}

/** Opens a socket with the chosen backend; throws `SocketOpenError` when it cannot. */
export function openSocket(io: "ffi" | "deno", opts: SocketOptions): DatagramSocket {
  return io === "ffi" ? openFfiSocket(opts) : openDenoSocket(opts);
}
