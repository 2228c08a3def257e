/**
 * A WebSocket client for tests: collects every message and waits for the ones it needs.
 *
 * @module
 */

/** A parsed message from the tracker. */
// deno-lint-ignore no-explicit-any
export type Msg = Record<string, any>;

/** One tracker connection. */
export class WsClient {
  readonly ws: WebSocket;
  /** Every message received, in order. */
  readonly received: Msg[] = [];
  /** Resolves when the connection closes, with its close code. */
  readonly closed: Promise<number>;
  #waiters: { pred: (m: Msg) => boolean; resolve: (m: Msg) => void }[] = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) => {
      ws.addEventListener("close", (e) => resolve(e.code));
    });
    ws.addEventListener("message", (e) => {
      const m = JSON.parse(e.data as string) as Msg;
      this.received.push(m);
      for (let i = 0; i < this.#waiters.length; i++) {
        if (this.#waiters[i].pred(m)) {
          this.#waiters[i].resolve(m);
          this.#waiters.splice(i, 1);
          break;
        }
      }
    });
  }

  /** Connects to `url`. */
  static async connect(url: string, opts?: { client?: Deno.HttpClient }): Promise<WsClient> {
    // deno-lint-ignore no-explicit-any
    const ws = new WebSocket(url, opts as any);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = (e) =>
        reject(new Error(`cannot connect to ${url}: ${(e as ErrorEvent).message}`));
    });
    return new WsClient(ws);
  }

  /** Sends a message (an object is JSON-encoded). */
  send(m: Msg | string): void {
    this.ws.send(typeof m === "string" ? m : JSON.stringify(m));
  }

  /** Resolves with the first message (already received or coming) that matches `pred`. */
  next(pred: (m: Msg) => boolean, ms = 5000): Promise<Msg> {
    const seen = this.received.findIndex(pred);
    if (seen >= 0) return Promise.resolve(this.received.splice(seen, 1)[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.#waiters.findIndex((w) => w.resolve === done);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(
          new Error(`no matching message within ${ms} ms; got ${JSON.stringify(this.received)}`),
        );
      }, ms);
      const done = (m: Msg) => {
        clearTimeout(timer);
        this.received.splice(this.received.indexOf(m), 1);
        resolve(m);
      };
      this.#waiters.push({ pred, resolve: done });
    });
  }

  /** Resolves true if a message matching `pred` arrives within `ms`, else false. */
  async gets(pred: (m: Msg) => boolean, ms: number): Promise<boolean> {
    try {
      await this.next(pred, ms);
      return true;
    } catch {
      return false;
    }
  }

  /** Closes the connection and waits for the close. */
  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close();
    await this.closed;
  }
}

/** A random 20-character binary string (code points 0–255), as WebTorrent makes them. */
export function bin20(): string {
  return String.fromCharCode(...crypto.getRandomValues(new Uint8Array(20)));
}

/** A fake SDP offer or answer. */
export function sdp(type: "offer" | "answer"): { type: string; sdp: string } {
  return { type, sdp: `v=0\r\no=- ${Math.random()} 2 IN IP4 127.0.0.1\r\ns=-\r\n` };
}
