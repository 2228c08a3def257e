import assert from "assert";
import { apiHandler, serveApi } from "../../private/api.ts";
import { API_BODY_LIMIT, type ApiBackend, type KeyInfo } from "../../private/api_types.ts";
import { isInfoHashHex, isKeyText, maskKey, newKey } from "../../private/key_text.ts";
import { OperatorError } from "../../shared/base/errors.ts";

const TOKEN = "s3cret-admin-token-0123456789";
const NOW = 1_800_000_000;
const KEY = "abcdefghijklmnop0123456789_-ABCD";
const HASH = "0123456789abcdef0123456789abcdef01234567";

/** Keys and torrents in maps, enough to give every route each of its answers. */
function memoryBackend() {
  const keys = new Map<string, KeyInfo>();
  const torrents = new Set<string>();
  const backend: ApiBackend = {
    createKey(key, user, validUntil) {
      if (keys.has(key)) return Promise.resolve("exists");
      keys.set(key, {
        key,
        user,
        valid_until: validUntil,
        revoked: false,
        uploaded: 0,
        downloaded: 0,
        completed: 0,
      });
      return Promise.resolve("created");
    },
    revokeKey(key) {
      const k = keys.get(key);
      if (k) k.revoked = true;
      return Promise.resolve(k !== undefined);
    },
    keyInfo: (key) => keys.get(key) ?? null,
    userInfo(user) {
      const mine = [...keys.values()].filter((k) => k.user === user);
      if (mine.length === 0) return null;
      const sum = (f: (k: KeyInfo) => number) => mine.reduce((n, k) => n + f(k), 0);
      return {
        user,
        keys: mine.length,
        uploaded: sum((k) => k.uploaded),
        downloaded: sum((k) => k.downloaded),
        completed: sum((k) => k.completed),
      };
    },
    registerTorrent(h) {
      const had = torrents.has(h);
      torrents.add(h);
      return Promise.resolve(!had);
    },
    unregisterTorrent: (h) => Promise.resolve(torrents.delete(h)),
    torrentInfo: (h) =>
      Promise.resolve({ registered: torrents.has(h), seeders: 2, leechers: 3, completed: 4 }),
  };
  return { backend, keys, torrents };
}

function setup(backend: ApiBackend = memoryBackend().backend) {
  const handler = apiHandler(TOKEN, backend, () => NOW);
  return (method: string, path: string, body?: string, headers: Record<string, string> = {}) =>
    handler(
      new Request(`http://admin.test${path}`, {
        method,
        body,
        headers: { authorization: `Bearer ${TOKEN}`, ...headers },
      }),
    );
}

async function expectError(res: Response, status: number, re: RegExp = /./): Promise<void> {
  assert.equal(res.status, status);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  const body = await res.json();
  assert.equal(typeof body.error, "string");
  assert.match(body.error, re);
}

Deno.test("key text: 16–64 of A–Z a–z 0–9 _ -; fresh keys are 32 URL-safe characters", () => {
  for (const ok of ["a".repeat(16), "Z9_-".repeat(16), KEY]) assert.ok(isKeyText(ok), ok);
  for (
    const bad of [
      "a".repeat(15),
      "a".repeat(65),
      `${"a".repeat(16)}/`,
      `${"a".repeat(16)} `,
      `${"a".repeat(16)}é`,
      `${"a".repeat(16)}=`,
      `${"a".repeat(16)}+`,
      "",
    ]
  ) {
    assert.ok(!isKeyText(bad), bad);
  }
  const seen = new Set<string>();
  for (let i = 0; i < 100; i++) {
    const k = newKey();
    assert.match(k, /^[A-Za-z0-9_-]{32}$/);
    assert.ok(isKeyText(k));
    seen.add(k);
  }
  assert.equal(seen.size, 100);
  assert.equal(maskKey(KEY), "abcd…");
  assert.ok(isInfoHashHex(HASH) && isInfoHashHex(HASH.toUpperCase()));
  assert.ok(!isInfoHashHex(HASH.slice(1)) && !isInfoHashHex(`${HASH.slice(1)}g`));
});

Deno.test("admin API: without the right bearer token every request is 401", async () => {
  const handler = apiHandler(TOKEN, memoryBackend().backend, () => NOW);
  const ask = (headers: Record<string, string>, path = `/api/v1/torrents/${HASH}`) =>
    handler(new Request(`http://admin.test${path}`, { headers }));
  const wrongSameLength = TOKEN.slice(0, -1) + "X";
  assert.equal(wrongSameLength.length, TOKEN.length);
  for (
    const headers of [
      {},
      { authorization: `Bearer ${wrongSameLength}` },
      { authorization: `Bearer ${TOKEN}x` },
      { authorization: "Bearer s3" },
      { authorization: "Bearer " },
      { authorization: TOKEN },
      { authorization: `Basic ${btoa(`admin:${TOKEN}`)}` },
    ] as Record<string, string>[]
  ) {
    const res = await ask(headers);
    assert.equal(res.headers.get("www-authenticate"), "Bearer");
    await expectError(res, 401, /token/);
  }
  // Unknown paths too: without the token nothing says which paths exist.
  await expectError(await ask({}, "/nowhere"), 401);
  // The right token, the scheme in any case.
  for (const scheme of ["Bearer", "bearer", "BEARER"]) {
    const res = await ask({ authorization: `${scheme} ${TOKEN}` });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).registered, false);
  }
  assert.throws(() => apiHandler("", memoryBackend().backend), OperatorError);
});

Deno.test("admin API: POST /api/v1/keys creates keys, generated or given", async () => {
  const { backend, keys } = memoryBackend();
  const api = setup(backend);

  // No body: a generated key, its own user, no expiry.
  let res = await api("POST", "/api/v1/keys");
  assert.equal(res.status, 201);
  const a = await res.json();
  assert.match(a.key, /^[A-Za-z0-9_-]{32}$/);
  assert.deepEqual(a, { key: a.key, user: a.key, valid_until: null });
  assert.equal(res.headers.get("location"), `/api/v1/keys/${a.key}`);
  res = await api("POST", "/api/v1/keys", "{}");
  const b = await res.json();
  assert.notEqual(b.key, a.key);

  res = await api(
    "POST",
    "/api/v1/keys",
    JSON.stringify({ key: KEY, user: "alice", valid_seconds: 3600 }),
  );
  assert.equal(res.status, 201);
  assert.deepEqual(await res.json(), { key: KEY, user: "alice", valid_until: NOW + 3600 });
  assert.equal(keys.get(KEY)?.valid_until, NOW + 3600);

  res = await api("POST", "/api/v1/keys", JSON.stringify({ key: KEY, user: "bob" }));
  await expectError(res, 409, /exists/);
  assert.equal(keys.get(KEY)?.user, "alice");

  res = await api("POST", "/api/v1/keys", JSON.stringify({ valid_seconds: null, user: "ü" }));
  assert.equal(res.status, 201);
  assert.equal((await res.json()).valid_until, null);
  assert.equal(keys.size, 4);
});

Deno.test("admin API: POST /api/v1/keys refuses malformed bodies with 400 saying what", async () => {
  const api = setup();
  const cases: [string, RegExp][] = [
    [JSON.stringify({ key: "a".repeat(15) }), /^key must be/],
    [JSON.stringify({ key: "a".repeat(65) }), /^key must be/],
    [JSON.stringify({ key: `${"a".repeat(16)}/x` }), /^key must be/],
    [JSON.stringify({ key: `${"a".repeat(8)} ${"a".repeat(8)}` }), /^key must be/],
    [JSON.stringify({ key: `${"a".repeat(16)}é` }), /^key must be/],
    [JSON.stringify({ key: 12345678901234567890 }), /^key must be/],
    [JSON.stringify({ key: null }), /^key must be/],
    [JSON.stringify({ user: 5 }), /^user must be/],
    [JSON.stringify({ user: null }), /^user must be/],
    [JSON.stringify({ user: "" }), /^user must be/],
    [JSON.stringify({ user: "u".repeat(129) }), /^user must be/],
    [JSON.stringify({ valid_seconds: 0 }), /^valid_seconds/],
    [JSON.stringify({ valid_seconds: -5 }), /^valid_seconds/],
    [JSON.stringify({ valid_seconds: 1.5 }), /^valid_seconds/],
    [JSON.stringify({ valid_seconds: "60" }), /^valid_seconds/],
    [JSON.stringify({ valid_seconds: 1e300 }), /^valid_seconds/],
    [JSON.stringify({ valid_second: 60 }), /^unknown field "valid_second"/],
    ["{", /not valid JSON/],
    ["{'key': 1}", /not valid JSON/],
    ["[]", /JSON object/],
    ["null", /JSON object/],
    ['"key"', /JSON object/],
    ["42", /JSON object/],
    [JSON.stringify({ user: "x".repeat(API_BODY_LIMIT) }), /over 64 KiB/],
  ];
  for (const [body, re] of cases) {
    await expectError(await api("POST", "/api/v1/keys", body), 400, re);
  }
  // A declared length over the limit is refused before reading.
  await expectError(
    await api("POST", "/api/v1/keys", "{}", { "content-length": String(API_BODY_LIMIT + 1) }),
    400,
    /over 64 KiB/,
  );
  // Invalid UTF-8.
  const handler = apiHandler(TOKEN, memoryBackend().backend, () => NOW);
  const bad = new Request("http://admin.test/api/v1/keys", {
    method: "POST",
    body: new Uint8Array([0x7b, 0xff, 0x7d]),
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  await expectError(await handler(bad), 400, /UTF-8/);
  // 128 characters is still a user.
  const ok = await api("POST", "/api/v1/keys", JSON.stringify({ user: "u".repeat(128) }));
  assert.equal(ok.status, 201);
  await ok.body?.cancel();
});

Deno.test("admin API: GET and DELETE /api/v1/keys/{key}; GET /api/v1/users/{user}", async () => {
  const { backend, keys } = memoryBackend();
  const api = setup(backend);
  for (const [key, user] of [[KEY, "alice smith/x"], ["k".repeat(16), "alice smith/x"]]) {
    const res = await api("POST", "/api/v1/keys", JSON.stringify({ key, user }));
    await res.body?.cancel();
  }
  keys.get(KEY)!.uploaded = 10;
  keys.get("k".repeat(16))!.uploaded = 5;
  keys.get(KEY)!.completed = 1;

  let res = await api("GET", `/api/v1/keys/${KEY}`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {
    key: KEY,
    user: "alice smith/x",
    valid_until: null,
    revoked: false,
    uploaded: 10,
    downloaded: 0,
    completed: 1,
  });
  await expectError(await api("GET", `/api/v1/keys/${"z".repeat(16)}`), 404);
  await expectError(await api("GET", "/api/v1/keys/short"), 400);
  await expectError(await api("GET", `/api/v1/keys/${"a".repeat(16)}%2Fx`), 400);
  await expectError(await api("GET", `/api/v1/keys/${"a".repeat(16)}%E9`), 400);

  res = await api("GET", `/api/v1/users/${encodeURIComponent("alice smith/x")}`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {
    user: "alice smith/x",
    keys: 2,
    uploaded: 15,
    downloaded: 0,
    completed: 1,
  });
  await expectError(await api("GET", "/api/v1/users/nobody"), 404);
  await expectError(await api("GET", "/api/v1/users/%E9"), 400);

  res = await api("DELETE", `/api/v1/keys/${KEY}`);
  assert.equal(res.status, 204);
  assert.equal(await res.text(), "");
  res = await api("GET", `/api/v1/keys/${KEY}`);
  assert.equal((await res.json()).revoked, true);
  await expectError(await api("DELETE", `/api/v1/keys/${"z".repeat(16)}`), 404);
});

Deno.test("admin API: torrents are registered (upper-case hex normalized), read and unregistered", async () => {
  const { backend, torrents } = memoryBackend();
  const api = setup(backend);
  for (let i = 0; i < 2; i++) {
    // The second time it is registered already: still 201.
    const res = await api("POST", `/api/v1/torrents/${HASH.toUpperCase()}`);
    assert.equal(res.status, 201);
    assert.deepEqual(await res.json(), { info_hash: HASH, registered: true });
  }
  assert.deepEqual([...torrents], [HASH]);
  let res = await api("GET", `/api/v1/torrents/${HASH}`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {
    info_hash: HASH,
    registered: true,
    seeders: 2,
    leechers: 3,
    completed: 4,
  });
  res = await api("DELETE", `/api/v1/torrents/${HASH.toUpperCase()}`);
  assert.equal(res.status, 204);
  await res.body?.cancel();
  assert.equal(torrents.size, 0);
  await expectError(await api("DELETE", `/api/v1/torrents/${HASH}`), 404);
  res = await api("GET", `/api/v1/torrents/${HASH}`);
  assert.equal(res.status, 200);
  assert.equal((await res.json()).registered, false);
  for (const bad of [HASH.slice(1), `${HASH}0`, `${HASH.slice(1)}g`]) {
    await expectError(await api("POST", `/api/v1/torrents/${bad}`), 400, /info hash/);
  }
});

Deno.test("admin API: unknown paths 404, wrong methods 405 with Allow", async () => {
  const api = setup();
  for (
    const path of [
      "/",
      "/api",
      "/api/v1",
      "/api/v2/keys",
      "/api/v1/peers",
      "/api/v1/keys/",
      `/api/v1/keys/${KEY}/x`,
      "/api/v1/users",
      "/api/v1/torrents",
      "/api/v1/peers/x",
    ]
  ) {
    await expectError(await api("GET", path), 404, /not found/);
  }
  for (
    const [method, path, allow] of [
      ["GET", "/api/v1/keys", "POST"],
      ["PUT", `/api/v1/keys/${KEY}`, "GET, DELETE"],
      ["POST", `/api/v1/keys/${KEY}`, "GET, DELETE"],
      ["DELETE", "/api/v1/users/alice", "GET"],
      ["PATCH", `/api/v1/torrents/${HASH}`, "GET, POST, DELETE"],
    ]
  ) {
    const res = await api(method, path);
    assert.equal(res.headers.get("allow"), allow);
    await expectError(res, 405);
  }
});

Deno.test("admin API: a backend that throws is 503 without its secrets", async () => {
  // Drivers quote connection strings and the statement's arguments (here the key) in errors.
  const failing = new Proxy({} as ApiBackend, {
    get: (_, name) => (arg: string) => {
      if (name === "torrentInfo") return Promise.reject("connection reset");
      throw new Error(
        `connect postgres://shoal:hunter2@db:5432/shoal failed (password=hunter2) for ${arg}`,
      );
    },
  });
  const api = setup(failing);
  for (
    const [method, path, body] of [
      ["POST", "/api/v1/keys", JSON.stringify({ key: KEY })],
      ["GET", `/api/v1/keys/${KEY}`],
      ["DELETE", `/api/v1/keys/${KEY}`],
      ["GET", `/api/v1/users/${KEY}`],
      ["POST", `/api/v1/torrents/${HASH}`],
      ["DELETE", `/api/v1/torrents/${HASH}`],
    ]
  ) {
    const res = await api(method, path, body);
    assert.equal(res.status, 503);
    const { error } = await res.json();
    assert.match(error, /^database unavailable: connect postgres:\/\/\*\*\*@db:5432/);
    assert.ok(!error.includes("hunter2") && !error.includes(KEY), error);
    assert.ok(error.endsWith(path.includes("torrents") ? HASH : maskKey(KEY)), error);
  }
  // A name too short to be a key is left as it is.
  await expectError(await api("GET", "/api/v1/users/a"), 503, /\(password=\*\*\* for a$/);
  await expectError(
    await api("GET", `/api/v1/torrents/${HASH}`),
    503,
    /^database unavailable: connection reset$/,
  );
});

Deno.test("admin API: serveApi answers over a loopback socket and logs keys masked", async () => {
  const lines: string[] = [];
  const server = serveApi(
    "127.0.0.1:0",
    apiHandler(TOKEN, memoryBackend().backend, () => NOW),
    (line) => lines.push(line),
  );
  try {
    assert.ok(server.port > 0);
    const base = `http://127.0.0.1:${server.port}`;
    const authorization = `Bearer ${TOKEN}`;
    let res = await fetch(`${base}/api/v1/keys`, {
      method: "POST",
      headers: { authorization, "content-type": "application/json" },
      body: JSON.stringify({ key: KEY, valid_seconds: 60 }),
    });
    assert.equal(res.status, 201);
    assert.deepEqual(await res.json(), { key: KEY, user: KEY, valid_until: NOW + 60 });
    res = await fetch(`${base}/api/v1/keys/${KEY}`, { headers: { authorization } });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).key, KEY);
    res = await fetch(`${base}/api/v1/keys/${KEY}`);
    assert.equal(res.status, 401);
    await res.body?.cancel();
    // An undeclared (chunked) body over the limit is cut off.
    const big = new Blob([`{"user":"${"x".repeat(API_BODY_LIMIT)}"}`]).stream();
    res = await fetch(`${base}/api/v1/keys`, {
      method: "POST",
      headers: { authorization },
      body: big,
    });
    await expectError(res, 400, /over 64 KiB/);
  } finally {
    await server.close();
  }
  assert.ok(
    lines.some((l) => l.endsWith(`GET /api/v1/keys/${maskKey(KEY)} 200`)),
    lines.join("\n"),
  );
  assert.ok(lines.every((l) => !l.includes(KEY)), lines.join("\n"));
  assert.throws(
    () => serveApi("nonsense", apiHandler(TOKEN, memoryBackend().backend)),
    OperatorError,
  );
});
