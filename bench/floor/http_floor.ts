/**
 * The HTTP floor: shoal's own TCP transport (`shared/net/tcp_epoll.ts`: `accept4`, epoll,
 * `read`, `send`, `close` through FFI) answering each request with an announce answer of the
 * size shoal sends (a bencoded dictionary with 10 compact peers), with no parsing beyond
 * finding the head's end and no tracker work. What shoal costs per request on top of this is
 * its own work: the HTTP engine, the hop to a request worker, the swarms.
 *
 * Usage: deno run --allow-ffi --allow-read bench/floor/http_floor.ts [--port N]
 * Prints `listening on http://127.0.0.1:PORT`; a request with `Connection: close` is answered
 * and the connection ended, others are kept alive.
 *
 * @module
 */

import { parseArgs } from "args";
import { Logger } from "../../shared/base/log.ts";
import type { Engine, Transport } from "../../shared/net/tcp.ts";
import { TcpListener } from "../../shared/net/tcp_listen.ts";
import { pollRings } from "../../shared/runtime/thread_poll.ts";

const enc = new TextEncoder();
const peers = "x".repeat(60); // 10 compact IPv4 peers' worth of bytes
const announce =
  `d8:completei7e10:incompletei3e8:intervali900e12:min intervali300e5:peers60:${peers}e`;
const scrape = `d5:filesd20:${"h".repeat(20)}d8:completei7e10:downloadedi1e10:incompletei3eeee`;
const answer = (body: string, close: boolean) =>
  enc.encode(
    `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n` +
      (close ? "Connection: close\r\n" : "") + "\r\n" + body,
  );
/** Answers by [scrape][close]. */
const ANSWERS = [
  [answer(announce, false), answer(announce, true)],
  [answer(scrape, false), answer(scrape, true)],
];
const SCRAPE = enc.encode("/scrape");
const CONNECTION_CLOSE = enc.encode("connection: close");

/** True when `b[start, end)` holds `w` (ASCII letters in any case). */
function contains(b: Uint8Array, start: number, end: number, w: Uint8Array): boolean {
  outer: for (let i = start; i + w.length <= end; i++) {
    for (let j = 0; j < w.length; j++) if ((b[i + j] | 0x20) !== (w[j] | 0x20)) continue outer;
    return true;
  }
  return false;
}

/** True when the head `b[start, end)` says `Connection: close`. */
function closes(b: Uint8Array, start: number, end: number): boolean {
  return contains(b, start, end, CONNECTION_CLOSE);
}

/** One connection: answers each complete head (`\r\n\r\n`) at once. */
class FloorEngine implements Engine {
  done = false;
  need = 0;
  #t: Transport;
  #seen = 0; // bytes of "\r\n\r\n" matched across reads

  constructor(t: Transport) {
    this.#t = t;
  }

  receive(b: Uint8Array, off: number, len: number): void {
    const end = off + len;
    let from = off;
    for (let i = off; i < end; i++) {
      const want = this.#seen === 0 || this.#seen === 2 ? 13 : 10;
      this.#seen = b[i] === want ? this.#seen + 1 : (b[i] === 13 ? 1 : 0);
      if (this.#seen < 4) continue;
      this.#seen = 0;
      const close = closes(b, from, i);
      const out = ANSWERS[contains(b, from, Math.min(i, from + 80), SCRAPE) ? 1 : 0][close ? 1 : 0];
      from = i + 1;
      this.#t.write(out, 0, out.length);
      if (close) {
        this.done = true;
        this.#t.end();
        return;
      }
    }
  }

  ended(): void {
    if (!this.done) {
      this.done = true;
      this.#t.end();
    }
  }

  gone(): void {
    this.done = true;
  }
}

if (import.meta.main) {
  pollRings(true); // as shoal's socket workers wait
  const { values } = parseArgs({ args: Deno.args, options: { port: { type: "string" } } });
  const l = new TcpListener(
    {
      hostname: "127.0.0.1",
      port: Number(values.port ?? 0),
      v6only: false,
      io: "ffi",
      tls: null,
      checkFree: false,
      deferAccept: true, // as shoal's HTTP listener: the request comes with the accept
    },
    { accept: (t) => new FloorEngine(t) },
    new Logger("error"),
  );
  console.log(`listening on http://127.0.0.1:${l.port}`);
}
