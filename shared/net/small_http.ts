/**
 * A minimal HTTP/1.1 server for the observability endpoint: one request per connection, a
 * bounded head read within a time limit, `Connection: close`. It exists because `Deno.serve`
 * stops for good (its `finished` rejects) the first time an accept fails for want of file
 * descriptors, which a tracker at its open-file limit meets; this loop waits and goes on.
 * Handlers keep the web `Request`/`Response` shapes.
 *
 * @module
 */

/** Largest request head read. */
const HEAD_MAX = 8192;
/** Time a client has to send its request head. */
const HEAD_TIMEOUT_MS = 10_000;
/** Pause after a failed accept (out of descriptors), so the loop does not spin. */
const ACCEPT_PAUSE_MS = 50;

const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Answers connections on `listener` with `handler` until the listener is closed. */
export async function serveSmallHttp(
  listener: Deno.Listener,
  handler: (req: Request) => Promise<Response>,
): Promise<void> {
  for (;;) {
    let conn: Deno.Conn;
    try {
      conn = await listener.accept();
    } catch (err) {
      if (err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted) return;
      await new Promise((r) => setTimeout(r, ACCEPT_PAUSE_MS)); // e.g. EMFILE: try again soon
      continue;
    }
    answer(conn, handler).catch(() => {});
  }
}

/** Reads one request head from `conn`, answers it, and closes the connection. */
async function answer(conn: Deno.Conn, handler: (req: Request) => Promise<Response>) {
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      conn.close();
    } catch { /* already closed */ }
  };
  const timer = setTimeout(close, HEAD_TIMEOUT_MS);
  try {
    const head = await readHead(conn);
    if (head === null) return;
    if (head === "too large") return await send(conn, new Response("", { status: 431 }), false);
    const m = /^([A-Z]+) (\/\S*) HTTP\/1\.[01]\r\n/.exec(head);
    if (m === null) return await send(conn, new Response("", { status: 400 }), false);
    const headers = new Headers();
    for (const line of head.split("\r\n").slice(1)) {
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      try {
        headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
      } catch { /* not a valid header: ignored */ }
    }
    const res = await handler(new Request(`http://endpoint${m[2]}`, { method: m[1], headers }));
    await send(conn, res, m[1] !== "HEAD");
  } finally {
    clearTimeout(timer);
    close();
  }
}

/** The request head up to its blank line; null if the client went away first. */
async function readHead(conn: Deno.Conn): Promise<string | "too large" | null> {
  const buf = new Uint8Array(HEAD_MAX);
  let len = 0;
  while (len < HEAD_MAX) {
    const n = await conn.read(buf.subarray(len)).catch(() => null);
    if (n === null) return null;
    const from = Math.max(0, len - 3);
    len += n;
    for (let i = from; i + 3 < len; i++) {
      if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) {
        return dec.decode(buf.subarray(0, i + 2));
      }
    }
  }
  return "too large";
}

async function send(conn: Deno.Conn, res: Response, withBody: boolean): Promise<void> {
  const body = new Uint8Array(await res.arrayBuffer());
  let head = `HTTP/1.1 ${res.status} ${REASONS[res.status] ?? "Status"}\r\n`;
  for (const [k, v] of res.headers) head += `${k}: ${v}\r\n`;
  head += `content-length: ${body.length}\r\nconnection: close\r\n\r\n`;
  const h = enc.encode(head);
  const out = new Uint8Array(h.length + (withBody ? body.length : 0));
  out.set(h, 0);
  if (withBody) out.set(body, h.length);
  for (let off = 0; off < out.length;) off += await conn.write(out.subarray(off));
}
