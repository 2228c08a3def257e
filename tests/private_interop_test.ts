/**
 * Private tracking with real clients: libtorrent (Debian's python3-libtorrent, through
 * `tests/interop/libtorrent_transfer.py`), aria2 and WebTorrent in headless Chromium carry
 * their passkeys in the announce URLs as a private site hands them out, move a file through
 * the real `shoal`, and the admin API then shows what each key moved; a revoked, unknown or
 * missing key reaches each client as the tracker's refusal, in the words the client shows its
 * user.
 *
 * Each test is ignored, with the reason printed, when its client is missing.
 */
import assert from "assert";
import {
  listeningOn,
  METRICS,
  metricsOf,
  metricsText,
  processTest,
  ROOT,
  type RunningShoal,
} from "./helpers/shoal.ts";
import {
  createKey,
  eventually,
  type PrivateShoal,
  sqliteUrl,
  startPrivate,
} from "./helpers/private.ts";
import { bdecode, HttpClient, pct } from "./helpers/http_client.ts";
import { browserMissing } from "./browser/requirements.ts";
import { browserDriver } from "./helpers/browser_driver.ts";
import { aria2, PYTHON, sha1Hex, startSeeder } from "./helpers/aria2.ts";
import { postgresInstalled, startPostgres } from "../harness/postgres.ts";
import type { BencodeValue } from "../http/bencode.ts";
import type { KeyInfo } from "../private/api_types.ts";

/** Debian's interpreter: python3-libtorrent lives there, not in a pyenv python3 on PATH. */
const SCRIPT = `${ROOT}tests/interop/libtorrent_transfer.py`;
/** Seconds the libtorrent script may spend on a transfer; the test kills it a while after. */
const TRANSFER_TIMEOUT_S = 60;
/** Seconds the libtorrent script may wait for a tracker's refusal. */
const REFUSAL_TIMEOUT_S = 20;
/** The libtorrent transfer's payload. */
const PAYLOAD_BYTES = 3 * 1024 * 1024;
/** aria2's payload. */
const ARIA2_BYTES = 2 * 1024 * 1024;
/**
 * How long the API may take to show a transfer's totals after the clients are done: request
 * workers post deltas each second, so a few seconds, with margin for a loaded machine (here it
 * takes well under one). `SHOAL_ACCOUNTING_WAIT_MS` sets it.
 */
const ACCOUNTING_WAIT_MS = Number(Deno.env.get("SHOAL_ACCOUNTING_WAIT_MS") ?? 10_000);
/** How far a key's totals may be from the payload: libtorrent and aria2 count payload only. */
const TOLERANCE = 0.05;

const SEEDER_KEY = "seeder-key-0123456789";
const LEECHER_KEY = "leecher-key-abcdefghij";
const REVOKED_KEY = "revoked-key-klmnopqrst";

async function works(cmd: string, args: string[]): Promise<boolean> {
  try {
    const r = await new Deno.Command(cmd, { args, stdout: "null", stderr: "null", stdin: "null" })
      .output();
    return r.success;
  } catch {
    return false;
  }
}

const noLibtorrent = await works(PYTHON, ["-c", "import libtorrent"])
  ? null
  : `${PYTHON} -c "import libtorrent" failed (apt-get install python3-libtorrent; .ci/run does)`;
const noAria2 = noLibtorrent ??
  (await works("aria2c", ["--version"])
    ? null
    : "aria2c is missing (apt-get install aria2; .ci/run does)");
const noBrowser = await browserMissing();
if (noLibtorrent) console.log(`IGNORED private libtorrent interop tests: ${noLibtorrent}`);
if (noAria2) console.log(`IGNORED the private aria2 interop test: ${noAria2}`);
if (noBrowser) console.log(`IGNORED the private WebTorrent browser tests: ${noBrowser}`);
if (!postgresInstalled()) {
  console.log("IGNORED the private libtorrent test over PostgreSQL: PostgreSQL is not installed");
}

/** shoal udp serving HTTP beside UDP, on IPv4 loopback: two listening lines. */
const MIXED: Parameters<typeof startPrivate>[2] = {
  socket_workers: 2,
  request_workers: 2,
  network: { use_ipv6: false },
  protocol: { peer_announce_interval: 60 },
  http: { enabled: true, address: "127.0.0.1:0", use_ipv6: false, min_announce_interval: 0 },
};

/** shoal ws (on IPv4 loopback, one address: the base config's). */
const WS: Parameters<typeof startPrivate>[2] = { socket_workers: 2, request_workers: 2 };

/** `scheme://127.0.0.1:PORT/KEY/announce` on the tracker's `scheme` listener. */
function keyedUrl(shoal: RunningShoal, scheme: "udp" | "http", key: string): string {
  const l = shoal.listening.find((x) => x.scheme === scheme && !x.metrics);
  assert.ok(l, `no ${scheme} listening line in:\n${shoal.output.join("\n")}`);
  return `${scheme}://${l.hostname}:${l.port}/${key}/announce`;
}

/** The libtorrent script's JSON line: a transfer's, or `--expect-tracker-error`'s. */
interface Report {
  ok: boolean;
  reason?: string | null;
  tracker: string;
  errors: string[];
  warnings: string[];
  // A transfer.
  bytes: number;
  sha1_match: boolean;
  scrape: { complete: number; incomplete: number; downloaded: number | null } | null;
  peers_seen: number;
  // --expect-tracker-error: each tracker_error_alert, and how many announces were answered.
  tracker_errors: { message: string; error: string; failure_reason: string }[];
  replies: number;
}

/** Bytes the browser driver seeds (`tests/browser/webtorrent_e2e.ts`). */
const WS_PAYLOAD_BYTES = 1 << 20;

/** The libtorrent script run to completion: its exit code, its JSON line, and context. */
async function libtorrent(
  shoal: RunningShoal,
  args: string[],
  timeoutS: number,
): Promise<{ code: number; report: Report; context: string }> {
  const out = await new Deno.Command(PYTHON, {
    args: [SCRIPT, ...args, "--timeout", String(timeoutS)],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    // The script bounds itself (plus its own watchdog); this is the last resort.
    signal: AbortSignal.timeout((timeoutS + 60) * 1000),
  }).output();
  const stdout = new TextDecoder().decode(out.stdout).trim();
  const stderr = new TextDecoder().decode(out.stderr).trim();
  const context = `${args.join(" ")}: exit ${out.code}${out.signal ? ` (${out.signal})` : ""}\n` +
    `stdout: ${stdout}\nstderr: ${stderr}\nshoal:\n${shoal.output.join("\n")}`;
  try {
    return { code: out.code, report: JSON.parse(stdout.split("\n").pop()!), context };
  } catch {
    throw new Error(`the script printed no JSON line; ${context}`);
  }
}

async function keyInfo(p: PrivateShoal, key: string): Promise<KeyInfo> {
  const r = await p.call("GET", `/api/v1/keys/${key}`);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json;
}

function near(value: number, want: number): boolean {
  return Math.abs(value - want) <= want * TOLERANCE;
}

/**
 * Polls the API until `ok` holds of the keys' records (within `ACCOUNTING_WAIT_MS`); returns
 * the last records read, and how long that took.
 */
async function waitForTotals(
  p: PrivateShoal,
  keys: string[],
  ok: (infos: KeyInfo[]) => boolean,
): Promise<{ infos: KeyInfo[]; ok: boolean; ms: number }> {
  const at = Date.now();
  let infos: KeyInfo[] = [];
  const held = await eventually(async () => {
    infos = await Promise.all(keys.map((k) => keyInfo(p, k)));
    return ok(infos);
  }, ACCOUNTING_WAIT_MS);
  return { infos, ok: held, ms: Date.now() - at };
}

/**
 * libtorrent moves a file through a private `shoal udp` with `[http]` over `database`: the
 * seeder's key over UDP (BEP 41), the leecher's over HTTP; the API then counts both.
 */
async function transferOver(database: string): Promise<void> {
  const p = await startPrivate("udp", database, MIXED, 2);
  try {
    await createKey(p, SEEDER_KEY, "seeder");
    await createKey(p, LEECHER_KEY, "leecher");
    const tracker = keyedUrl(p.shoal, "udp", SEEDER_KEY);
    const leecher = keyedUrl(p.shoal, "http", LEECHER_KEY);
    const { code, report, context } = await libtorrent(p.shoal, [
      "--tracker",
      tracker,
      "--leecher-tracker",
      leecher,
      "--size",
      String(PAYLOAD_BYTES),
    ], TRANSFER_TIMEOUT_S);
    assert.equal(code, 0, `transfer failed: ${report.reason}; ${context}`);
    assert.equal(report.sha1_match, true, context);
    assert.equal(report.bytes, PAYLOAD_BYTES, context);
    assert.ok(report.peers_seen >= 1, `the leecher got no peer from the tracker; ${context}`);
    assert.deepEqual(report.errors, [], context);
    // The leecher's scrape went to /LEECHKEY/scrape: answered, both seeding.
    assert.ok(report.scrape, `no scrape reply; ${context}`);
    assert.equal(report.scrape.complete, 2, context);

    const t = await waitForTotals(
      p,
      [SEEDER_KEY, LEECHER_KEY],
      ([s, l]) =>
        near(s.uploaded, PAYLOAD_BYTES) && near(l.downloaded, PAYLOAD_BYTES) &&
        l.completed === 1,
    );
    const [s, l] = t.infos;
    console.log(
      `  payload ${PAYLOAD_BYTES}: seeder uploaded ${s.uploaded}, downloaded ${s.downloaded}; ` +
        `leecher uploaded ${l.uploaded}, downloaded ${l.downloaded}, completed ` +
        `${l.completed}; shown ${t.ms} ms after the script ended`,
    );
    assert.ok(t.ok, `totals off: ${JSON.stringify(t.infos)}; ${context}`);
    assert.equal(s.completed, 0, "the seeder never completed a download");
    assert.equal(s.downloaded, 0, "the seeder downloaded nothing");
  } finally {
    assert.equal(await p.shoal.stop(), 0, p.shoal.output.join("\n"));
  }
}

processTest(
  "private libtorrent over SQLite: the seeder's key over UDP, the leecher's over HTTP; counted",
  async () => await transferOver(await sqliteUrl()),
  { ignore: noLibtorrent !== null },
);

processTest(
  "private libtorrent over PostgreSQL: the seeder's key over UDP, the leecher's over HTTP; counted",
  async () => {
    const pg = await startPostgres();
    try {
      await transferOver(pg.url);
    } finally {
      await pg.destroy();
    }
  },
  { ignore: noLibtorrent !== null || !postgresInstalled() },
);

processTest(
  "private libtorrent: a revoked key is refused over UDP and over HTTP, with the reason",
  async () => {
    const p = await startPrivate("udp", await sqliteUrl(), { ...MIXED, metrics: METRICS }, 3);
    try {
      await createKey(p, REVOKED_KEY);
      assert.equal((await p.call("DELETE", `/api/v1/keys/${REVOKED_KEY}`)).status, 204);
      const [udp, http] = await Promise.all(
        (["udp", "http"] as const).map((scheme) =>
          libtorrent(p.shoal, [
            "--tracker",
            keyedUrl(p.shoal, scheme, REVOKED_KEY),
            "--expect-tracker-error",
            "--size",
            String(64 * 1024),
          ], REFUSAL_TIMEOUT_S)
        ),
      );
      for (const { code, report, context } of [udp, http]) {
        assert.equal(code, 0, `${report.reason}; ${context}`);
        assert.equal(report.replies, 0, context);
        console.log(`  ${report.tracker}: ${JSON.stringify(report.tracker_errors[0])}`);
        // A refusal, not a time-out or a broken reply.
        assert.match(report.tracker_errors[0].error, /tracker sent a failure message/, context);
      }
      // Over HTTP the `failure reason` reaches the client's alert whole.
      assert.match(http.report.tracker_errors[0].message, /passkey revoked/, http.context);
      assert.match(http.report.tracker_errors[0].failure_reason, /passkey revoked/, http.context);
      // Over UDP libtorrent 2.0 reads the BEP 15 message from the packet's first byte (the
      // action's, 0) and shows an empty reason; should it get the text, it must be ours.
      const udpReason = udp.report.tracker_errors[0].failure_reason;
      assert.ok(udpReason === "" || /passkey revoked/.test(udpReason), udp.context);
      // The tracker refused both for the revocation.
      assert.ok(
        await eventually(async () => {
          const m = await metricsOf(p.shoal);
          return ["udp", "http"].every((protocol) =>
            [...m].some(([series, n]) =>
              series.startsWith("shoal_private_refusals_total{") && n >= 1 &&
              series.includes('reason="revoked_key"') && series.includes(`protocol="${protocol}"`)
            )
          );
        }, 5000),
        (await metricsText(p.shoal)).split("\n").filter((l) => l.includes("refusals")).join("\n"),
      );
      const k = await keyInfo(p, REVOKED_KEY);
      assert.deepEqual([k.uploaded, k.downloaded, k.completed], [0, 0, 0]);
    } finally {
      assert.equal(await p.shoal.stop(), 0, p.shoal.output.join("\n"));
    }
  },
  { ignore: noLibtorrent !== null },
);

processTest(
  "private aria2: downloads from a libtorrent seeder with its own key in the URL",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "shoal-private-aria2-" });
    const p = await startPrivate("http", await sqliteUrl(), {
      network: { use_ipv6: false, min_announce_interval: 0 },
      protocol: { peer_announce_interval: 60 },
    });
    const l = listeningOn(p.shoal, 4);
    await createKey(p, SEEDER_KEY);
    await createKey(p, LEECHER_KEY);
    const torrent = `${dir}/file.torrent`;
    const seeder = await startSeeder(keyedUrl(p.shoal, "http", SEEDER_KEY), torrent, ARIA2_BYTES);
    try {
      const { ready } = seeder;
      // The torrent names the seeder's URL; aria2 drops it for its own, as a site's user would
      // download a .torrent with their own key in it.
      const mine = keyedUrl(p.shoal, "http", LEECHER_KEY);
      const out = await aria2(torrent, `${dir}/out`, [
        "--bt-exclude-tracker=*",
        `--bt-tracker=${mine}`,
      ]);
      assert.equal(out.code, 0, `aria2c failed:\n${out.log}\nshoal:\n${p.shoal.output.join("\n")}`);
      const got = await Deno.readFile(`${dir}/out/payload.bin`);
      assert.equal(got.length, ARIA2_BYTES);
      assert.equal(await sha1Hex(got), ready.sha1, "aria2's file matches the seeder's");

      // Its `completed` is counted, in the scrape (with its key) and on its key.
      const c = await HttpClient.connect("127.0.0.1", l.port);
      const hash = Uint8Array.from(ready.info_hash.match(/../g)!, (h: string) => parseInt(h, 16));
      const files = bdecode(await c.get(`/${LEECHER_KEY}/scrape?info_hash=${pct(hash)}`))
        .get("files") as Map<string, Map<string, BencodeValue>>;
      c.close();
      const f = files?.get(String.fromCharCode(...hash));
      assert.ok(f, "the torrent is known");
      assert.ok(Number(f.get("downloaded")) >= 1, "aria2's completed event counted");
      // The seeder stops: its `stopped` announce reports what it uploaded.
      assert.equal(await seeder.stop(), 0);
      const t = await waitForTotals(
        p,
        [SEEDER_KEY, LEECHER_KEY],
        ([s, l]) =>
          near(s.uploaded, ARIA2_BYTES) && l.completed === 1 && near(l.downloaded, ARIA2_BYTES),
      );
      const [s, k] = t.infos;
      console.log(
        `  payload ${ARIA2_BYTES}: libtorrent seeder uploaded ${s.uploaded}; aria2 downloaded ` +
          `${k.downloaded}, uploaded ${k.uploaded}, completed ${k.completed}`,
      );
      assert.ok(t.ok, JSON.stringify(t.infos));
    } finally {
      await seeder.stop();
      assert.equal(await p.shoal.stop(), 0, p.shoal.output.join("\n"));
      await Deno.remove(dir, { recursive: true });
    }
  },
  { ignore: noAria2 !== null },
);

processTest(
  "private WebTorrent: two Chromium pages with their keys in the ws URLs move a file",
  async () => {
    const p = await startPrivate("ws", await sqliteUrl(), WS);
    const base = `ws://127.0.0.1:${listeningOn(p.shoal, 4).port}`;
    try {
      await createKey(p, SEEDER_KEY);
      await createKey(p, LEECHER_KEY);
      const r = await browserDriver(p.shoal, [
        `${base}/${SEEDER_KEY}`,
        "--leecher-tracker",
        `${base}/${LEECHER_KEY}`,
      ]);
      assert.equal(r.got, r.want, "the downloaded bytes are the seeded bytes");
      assert.ok(r.peers >= 1);
      assert.equal(r.scrape.complete, 2, "the leecher finished and announced it");
      // The leecher's `completed` announce carries its whole download, to its key alone: the
      // seeder's key downloaded nothing.
      const t = await waitForTotals(
        p,
        [SEEDER_KEY, LEECHER_KEY],
        ([s, l]) => near(l.downloaded, WS_PAYLOAD_BYTES) && l.completed === 1 && s.downloaded === 0,
      );
      console.log(`  WebTorrent's keys: ${JSON.stringify(t.infos)}`);
      assert.ok(t.ok, `totals off: ${JSON.stringify(t.infos)}`);
    } finally {
      assert.equal(await p.shoal.stop(), 0, p.shoal.output.join("\n"));
    }
  },
  { ignore: noBrowser !== null },
);

processTest(
  "private WebTorrent: without a key, or with an unknown one, the page gets the failure reason",
  async () => {
    const p = await startPrivate("ws", await sqliteUrl(), WS);
    const base = `ws://127.0.0.1:${listeningOn(p.shoal, 4).port}`;
    try {
      const [none, unknown] = await Promise.all([
        browserDriver(p.shoal, [base, "--refused"]),
        browserDriver(p.shoal, [`${base}/${LEECHER_KEY}`, "--refused"]),
      ]);
      console.log(`  no key: ${JSON.stringify(none.warnings)}`);
      console.log(`  unknown key: ${JSON.stringify(unknown.warnings)}`);
      assert.ok(none.warnings.some((w: string) => /private/.test(w)), JSON.stringify(none));
      assert.ok(
        unknown.warnings.some((w: string) => /unknown passkey/.test(w)),
        JSON.stringify(unknown),
      );
    } finally {
      assert.equal(await p.shoal.stop(), 0, p.shoal.output.join("\n"));
    }
  },
  { ignore: noBrowser !== null },
);
