/**
 * The admin API of private tracking: JSON over HTTP under `/api/v1/`, every request
 * authorized by `Authorization: Bearer <token>`, to create, inspect and revoke keys, inspect
 * users, and register, inspect and unregister torrents. It knows nothing of databases or
 * workers: what it reads and changes is an `ApiBackend`, which the main thread's accounts
 * implement; a backend that throws is answered 503.
 *
 * Routes:
 *
 * - `POST /api/v1/keys` (optional body `{"key", "user", "valid_seconds"}`) → 201, 409 if the
 *   key exists.
 * - `GET /api/v1/keys/{key}` → 200; `DELETE` revokes it → 204; unknown → 404.
 * - `GET /api/v1/users/{user}` → 200; unknown → 404.
 * - `POST /api/v1/torrents/{info hash}` registers → 201; `DELETE` → 204, unknown → 404;
 *   `GET` → 200, registered or not.
 *
 * @module
 */

import { OperatorError } from "../shared/base/errors.ts";
import { formatSocketAddress, parseSocketAddress } from "../shared/net/address.ts";
import { isInfoHashHex, isKeyText, maskKey, newKey } from "./key_text.ts";
import { API_BODY_LIMIT, type ApiBackend, type ApiHandler, type ApiServer } from "./api_types.ts";
import { USER_MAX_LENGTH } from "./api_types.ts";

const JSON_HEADERS = { "content-type": "application/json", "cache-control": "no-store" };

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_HEADERS, ...headers } });
}

function problem(status: number, error: string, headers?: Record<string, string>): Response {
  return json(status, { error }, headers);
}

const notFound = () => problem(404, "not found");
const noContent = () =>
  new Response(null, { status: 204, headers: { "cache-control": "no-store" } });

function methodNotAllowed(allow: string[]): Response {
  return problem(405, "method not allowed", { allow: allow.join(", ") });
}

/** Thrown by `call` so that only the backend's failures become 503, not this module's bugs. */
class BackendError extends Error {
  constructor(cause: unknown) {
    super("backend failed", { cause });
  }
}

async function call<T>(f: () => T | Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    throw new BackendError(err);
  }
}

/**
 * A backend error's text as the API may show it: one line, at most 200 characters, with the
 * request's keys (and user names that could be keys) masked, and credentials in connection strings (`//user:pass@`,
 * `password=…`) removed, since database drivers quote them in their messages.
 */
function redact(err: unknown, secrets: string[]): string {
  let text = err instanceof Error ? err.message : String(err);
  // Shorter texts cannot be keys, and masking them would garble the message (a user "a").
  for (const s of secrets) if (isKeyText(s)) text = text.replaceAll(s, maskKey(s));
  text = text
    .replace(/\/\/[^\s/@]*@/g, "//***@")
    .replace(/\b(password|passwd|pwd)\b(\s*[=:]\s*)\S+/gi, "$1$2***")
    .replace(/\s+/g, " ")
    .trim();
  return text.length > 200 ? `${text.slice(0, 199)}…` : text || "unknown error";
}

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/**
 * Whether the `Authorization` header carries the token. The digests are compared, not the
 * texts, so the time taken says nothing of the token's length, and every byte is compared so
 * it says nothing of where they differ.
 */
async function authorized(header: string | null, want: Promise<Uint8Array>): Promise<boolean> {
  const m = header === null ? null : /^Bearer[ \t]+(.+?)[ \t]*$/i.exec(header);
  if (!m) return false;
  const [got, expected] = await Promise.all([sha256(m[1]), want]);
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= got[i] ^ expected[i];
  return diff === 0;
}

/** Reads at most `API_BODY_LIMIT` bytes of body as a JSON object; a string says what is wrong. */
async function readJsonObject(req: Request): Promise<Record<string, unknown> | string> {
  const tooLarge = `body is over ${API_BODY_LIMIT / 1024} KiB`;
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > API_BODY_LIMIT) return tooLarge;
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (req.body) {
    // Read in pieces rather than `req.text()`, so an undeclared huge body is cut off early.
    const reader = req.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.length;
        if (size > API_BODY_LIMIT) {
          await reader.cancel().catch(() => {});
          return tooLarge;
        }
        chunks.push(value);
      }
    } catch {
      return "body could not be read";
    }
  }
  const bytes = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    bytes.set(c, off);
    off += c.length;
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return "body is not UTF-8";
  }
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return "body is not valid JSON";
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return "body must be a JSON object";
  }
  return value as Record<string, unknown>;
}

const KEY_TEXT_RULE = "16–64 characters of A–Z a–z 0–9 _ -";
const USER_RULE = `1–${USER_MAX_LENGTH} characters`;
const CREATE_FIELDS = ["key", "user", "valid_seconds"];

function validUser(user: string): boolean {
  return user.length >= 1 && user.length <= USER_MAX_LENGTH;
}

/** The path segment after `/api/v1/{resource}/`, percent-decoded; null when malformed. */
function decodeSegment(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/**
 * Builds the admin API's request handler. `token` is what `Authorization: Bearer` must carry;
 * `now` gives unix seconds for `valid_seconds` (injectable for tests).
 */
export function apiHandler(
  token: string,
  backend: ApiBackend,
  now: () => number = () => Date.now() / 1000,
): ApiHandler {
  // No `Bearer` header can carry an empty token, so nothing would ever be authorized: a
  // configuration mistake worth naming at start.
  if (token === "") throw new OperatorError("the admin API token must not be empty");
  const want = sha256(token);

  async function createKey(req: Request, secrets: string[]): Promise<Response> {
    const body = await readJsonObject(req);
    if (typeof body === "string") return problem(400, body);
    // Unknown fields are refused so that a misspelt `valid_seconds` cannot make a key that
    // never expires.
    const unknown = Object.keys(body).find((f) => !CREATE_FIELDS.includes(f));
    if (unknown !== undefined) {
      return problem(
        400,
        `unknown field ${JSON.stringify(unknown)} (known: key, user, valid_seconds)`,
      );
    }
    let key: string;
    if (!Object.hasOwn(body, "key")) key = newKey();
    else if (typeof body.key !== "string" || !isKeyText(body.key)) {
      return problem(400, `key must be a string of ${KEY_TEXT_RULE}`);
    } else key = body.key;
    let user = key;
    if (Object.hasOwn(body, "user")) {
      if (typeof body.user !== "string" || !validUser(body.user)) {
        return problem(400, `user must be a string of ${USER_RULE}`);
      }
      user = body.user;
    }
    let validUntil: number | null = null;
    const seconds = body.valid_seconds;
    if (seconds !== undefined && seconds !== null) {
      const start = Math.floor(now());
      if (
        typeof seconds !== "number" || !Number.isSafeInteger(seconds) || seconds <= 0 ||
        !Number.isSafeInteger(start + seconds)
      ) {
        return problem(400, "valid_seconds must be a positive integer or null");
      }
      validUntil = start + seconds;
    }
    secrets.push(key, user);
    const result = await call(() => backend.createKey(key, user, validUntil));
    if (result === "exists") return problem(409, "key exists");
    return json(201, { key, user, valid_until: validUntil }, {
      location: `/api/v1/keys/${key}`,
    });
  }

  async function route(req: Request, secrets: string[]): Promise<Response> {
    // Segments stay percent-encoded in `pathname`, so a `%2F` inside a user name cannot
    // change which route matches.
    const seg = new URL(req.url).pathname.split("/");
    if (seg.length < 4 || seg.length > 5 || seg[0] !== "" || seg[1] !== "api" || seg[2] !== "v1") {
      return notFound();
    }
    const resource = seg[3];
    if (resource === "keys" && seg.length === 4) {
      if (req.method !== "POST") return methodNotAllowed(["POST"]);
      return await createKey(req, secrets);
    }
    if (seg.length !== 5 || seg[4] === "") return notFound();
    const id = decodeSegment(seg[4]);
    switch (resource) {
      case "keys": {
        if (req.method !== "GET" && req.method !== "DELETE") {
          return methodNotAllowed(["GET", "DELETE"]);
        }
        if (id === null || !isKeyText(id)) return problem(400, `a key is ${KEY_TEXT_RULE}`);
        secrets.push(id);
        if (req.method === "DELETE") {
          return (await call(() => backend.revokeKey(id))) ? noContent() : notFound();
        }
        const info = await call(() => backend.keyInfo(id));
        if (info === null) return notFound();
        const { key, user, valid_until, revoked, uploaded, downloaded, completed } = info;
        return json(200, { key, user, valid_until, revoked, uploaded, downloaded, completed });
      }
      case "users": {
        if (req.method !== "GET") return methodNotAllowed(["GET"]);
        if (id === null || !validUser(id)) return problem(400, `a user is ${USER_RULE}`);
        // A user named after its key (the default) is as secret as the key.
        secrets.push(id);
        const info = await call(() => backend.userInfo(id));
        if (info === null) return notFound();
        const { user, keys, uploaded, downloaded, completed } = info;
        return json(200, { user, keys, uploaded, downloaded, completed });
      }
      case "torrents": {
        if (req.method !== "GET" && req.method !== "POST" && req.method !== "DELETE") {
          return methodNotAllowed(["GET", "POST", "DELETE"]);
        }
        if (id === null || !isInfoHashHex(id)) {
          return problem(400, "an info hash is 40 hex characters");
        }
        const infoHash = id.toLowerCase();
        if (req.method === "POST") {
          // Registering is idempotent: a torrent registered already is answered 201 like a new
          // one, so a script that registers its whole catalogue can simply be run again.
          await call(() => backend.registerTorrent(infoHash));
          return json(201, { info_hash: infoHash, registered: true }, {
            location: `/api/v1/torrents/${infoHash}`,
          });
        }
        if (req.method === "DELETE") {
          return (await call(() => backend.unregisterTorrent(infoHash))) ? noContent() : notFound();
        }
        const { registered, seeders, leechers, completed } = await call(() =>
          backend.torrentInfo(infoHash)
        );
        return json(200, { info_hash: infoHash, registered, seeders, leechers, completed });
      }
    }
    return notFound();
  }

  return async (req: Request): Promise<Response> => {
    // Authorization comes before routing, so that without the token not even which paths
    // exist can be learnt.
    if (!await authorized(req.headers.get("authorization"), want)) {
      return problem(401, "missing or wrong bearer token", { "www-authenticate": "Bearer" });
    }
    // The backend never sees the token, so only the request's keys can be in its errors.
    const secrets: string[] = [];
    try {
      return await route(req, secrets);
    } catch (err) {
      if (err instanceof BackendError) {
        return problem(503, `database unavailable: ${redact(err.cause, secrets)}`);
      }
      // A bug here, not the database: thrown on, for the server to log and answer 500.
      throw err;
    }
  };
}

/** A request path as logs show it: keys, and user names that could be keys, masked. */
function logPath(url: string): string {
  const seg = new URL(url).pathname.split("/");
  if (seg.length === 5 && (seg[3] === "keys" || seg[3] === "users")) {
    const id = decodeSegment(seg[4]);
    if (seg[3] === "keys" || id === null || isKeyText(id)) seg[4] = maskKey(seg[4]);
  }
  return seg.join("/");
}

/**
 * Serves `handler` on `address` (`host:port`, `[v6]:port`; port 0 picks a free one), writing
 * a line to `log` when it listens and for each request (keys masked). A bad address or one
 * that cannot be bound is an `OperatorError`.
 */
export function serveApi(
  address: string,
  handler: ApiHandler,
  log: (line: string) => void = () => {},
): ApiServer {
  const a = parseSocketAddress(address);
  if (typeof a === "string") throw new OperatorError(`admin API address ${address}: ${a}`);
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: a.hostname,
      port: a.port,
      onListen() {},
      onError(err) {
        log(`admin API: ${err instanceof Error ? err.message : err}`);
        return problem(500, "internal error");
      },
    }, async (req, info) => {
      const res = await handler(req);
      let line = `admin API: ${info.remoteAddr.hostname} ${req.method} ${logPath(req.url)} ` +
        res.status;
      // Only 5xx bodies are logged: they carry the (already redacted) backend error.
      if (res.status >= 500) line += ` ${await res.clone().text()}`;
      log(line);
      return res;
    });
  } catch (err) {
    const why = err instanceof Deno.errors.AddrInUse
      ? "address already in use"
      : (err as Error).message;
    throw new OperatorError(`admin API: cannot listen on ${formatSocketAddress(a)}: ${why}`);
  }
  const port = server.addr.port;
  return { port, close: () => server.shutdown() };
}
