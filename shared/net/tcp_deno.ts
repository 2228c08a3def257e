/**
 * The portable TCP transport: `Deno.listen` / `Deno.listenTls` listeners (shared with other
 * workers through `reusePort`) and one read loop per connection feeding the protocol's engine
 * (`tcp.ts`, whose contract this keeps). Serves TLS, and every platform Deno runs on.
 *
 * @module
 */

import type { Engine, TcpHandlers, Transport } from "./tcp.ts";
import { encodeAddr } from "./address.ts";

/** Bytes an idle connection keeps for its next read. */
const IDLE_READ = 1024;
/** Largest read while a big message arrives. */
const MAX_READ = 65536;

/** Writes through a `Deno.Conn`, coalescing what queues up while a write is pending. */
class ConnTransport implements Transport {
  queued = 0;
  /** The engine told when the connection closes. */
  engine: Engine | null = null;
  #conn: Deno.Conn;
  #q: Uint8Array[] = [];
  #writing = false;
  #ending = false;
  #closed = false;
  #resume: (() => void) | null = null;
  #paused = false;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** True once the socket is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  write(b: Uint8Array, off: number, len: number): void {
    if (this.#closed || this.#ending) return;
    this.#q.push(b.slice(off, off + len));
    this.queued += len;
    if (!this.#writing) this.#pump();
  }

  async #pump(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#q.length > 0 && !this.#closed) {
        const q = this.#q;
        this.#q = [];
        let chunk = q[0];
        if (q.length > 1) {
          chunk = new Uint8Array(q.reduce((n, x) => n + x.length, 0));
          let o = 0;
          for (const x of q) {
            chunk.set(x, o);
            o += x.length;
          }
        }
        let off = 0;
        while (off < chunk.length) off += await this.#conn.write(chunk.subarray(off));
        this.queued -= chunk.length;
      }
    } catch {
      this.close();
    } finally {
      this.#writing = false;
    }
    if (this.#ending) this.close();
  }

  end(): void {
    this.#ending = true;
    if (!this.#writing) this.close();
  }

  pause(paused: boolean): void {
    this.#paused = paused;
    if (!paused) this.#wake();
  }

  /** Resolves once reading may go on (at once unless paused); false once closed. */
  readable(): Promise<boolean> | boolean {
    if (!this.#paused || this.#closed) return !this.#closed;
    return new Promise<void>((r) => (this.#resume = r)).then(() => this.readable());
  }

  #wake(): void {
    const r = this.#resume;
    this.#resume = null;
    r?.();
  }

  /** Closes the socket now and tells the engine, once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#q = [];
    this.queued = 0;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    this.#wake();
    this.engine?.gone();
  }
}

const rec = new Uint8Array(18);

/** Serves one accepted connection until it ends. Never throws. */
export async function serveConn(conn: Deno.Conn, handlers: TcpHandlers): Promise<void> {
  const t = new ConnTransport(conn);
  const remote = conn.remoteAddr as Deno.NetAddr;
  rec.fill(0);
  encodeAddr(remote.hostname, remote.port, rec, 0);
  const engine = handlers.accept(t, remote.hostname, rec);
  if (t.closed) return; // refused at accept
  t.engine = engine;
  let buf = new Uint8Array(IDLE_READ);
  try {
    while (!engine.done && await t.readable()) {
      // Small reads while idle; up to a whole frame while a big one arrives.
      const want = engine.need > IDLE_READ ? Math.min(engine.need, MAX_READ) : IDLE_READ;
      if (buf.length !== want) buf = new Uint8Array(want);
      const n = await conn.read(buf);
      if (n === null) {
        // End of stream: answers still owed go out, then the engine ends the connection.
        if (!t.closed) engine.ended();
        return;
      }
      engine.receive(buf, 0, n);
    }
  } catch {
    t.close(); // reset, or closed by us while a read waited
  }
}

/** How long accepting pauses when the process is out of descriptors. */
const OUT_OF_FILES_PAUSE_MS = 50;

/** Accepts connections from `listener` until it is closed. */
export async function acceptLoop(listener: Deno.Listener, handlers: TcpHandlers): Promise<void> {
  while (true) {
    let conn: Deno.Conn;
    try {
      conn = await listener.accept();
    } catch (err) {
      if (err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted) return;
      if (/os error 2[34]\b/.test(String(err))) {
        // Out of descriptors (EMFILE, ENFILE): the connection stays in the backlog, and an
        // accept right away would fail the same way. Look again shortly.
        handlers.outOfFiles?.();
        await new Promise((r) => setTimeout(r, OUT_OF_FILES_PAUSE_MS));
      }
      continue; // e.g. a failed TLS handshake: keep serving the others
    }
    // shoal coalesces its writes itself; Nagle would hold replies back (~40 ms on loopback).
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    serveConn(conn, handlers);
  }
}
