/**
 * A real third-party client: two libtorrent sessions (Debian's python3-libtorrent) with DHT,
 * LSD, PEX, UPnP and NAT-PMP off, listening on loopback only, find each other only through
 * shoal and move a file; the leecher's scrape then counts them. Through `shoal udp`, through
 * `shoal http`, and through one `shoal udp` serving HTTP too, the seeder announcing over UDP and
 * the leecher over HTTP; on IPv4 and IPv6. The client side is
 * `tests/interop/libtorrent_transfer.py`, which prints one JSON line.
 *
 * Ignored, with the reason printed, when `/usr/bin/python3 -c "import libtorrent"` fails.
 */
import assert from "assert";
import { type ConfigParts, ROOT, type RunningShoal, startShoalWith } from "./helpers/shoal.ts";

/** Debian's interpreter: python3-libtorrent lives there, not in a pyenv python3 on PATH. */
const PYTHON = "/usr/bin/python3";
const SCRIPT = `${ROOT}tests/interop/libtorrent_transfer.py`;
/** Seconds the script may spend; the test kills it a while after that. */
const TRANSFER_TIMEOUT_S = 60;
const PAYLOAD_BYTES = 3 * 1024 * 1024;

/** Why libtorrent can't be used here, or null when it can. */
async function libtorrentMissing(): Promise<string | null> {
  try {
    const r = await new Deno.Command(PYTHON, {
      args: ["-c", "import libtorrent"],
      stdout: "null",
      stderr: "piped",
      stdin: "null",
    }).output();
    if (r.success) return null;
    const last = new TextDecoder().decode(r.stderr).trim().split("\n").pop();
    return `${PYTHON} -c "import libtorrent" failed: ${last || `exit ${r.code}`}`;
  } catch (e) {
    return `${PYTHON} cannot run: ${(e as Error).message}`;
  }
}

const missing = await libtorrentMissing();
if (missing) {
  console.log(
    `IGNORED libtorrent interop tests: ${missing}. ` +
      "Install python3-libtorrent (apt-get install python3-libtorrent; .ci/run does).",
  );
}

/** The script's JSON line. */
interface Report {
  ok: boolean;
  bytes: number;
  sha1_match: boolean;
  seconds: number | null;
  scrape: { complete: number; incomplete: number; downloaded: number | null } | null;
  peers_seen: number;
  errors: string[];
  warnings?: string[];
  reason?: string | null;
}

const CONFIG = {
  socket_workers: 2,
  request_workers: 2,
  network: { address_ipv6: "[::1]:0", io: "ffi" },
  protocol: { peer_announce_interval: 60 },
};

/** shoal http, and shoal udp serving HTTP beside UDP. */
const HTTP_CONFIG = { ...CONFIG, network: { ...CONFIG.network, min_announce_interval: 0 } };
const MIXED_CONFIG = {
  ...CONFIG,
  http: {
    enabled: true,
    address: "127.0.0.1:0",
    address_ipv6: "[::1]:0",
    min_announce_interval: 0,
  },
};

/** One transfer: which tracker serves it, and the tracker URLs the two sessions use. */
interface Scenario {
  name: string;
  command: "udp" | "http";
  config: ConfigParts;
  listening: number;
  /** The seeder's (and the torrent's) tracker; the leecher's when `leecher` is null. */
  seeder: "udp" | "http";
  leecher: "udp" | "http" | null;
}

const SCENARIOS: Scenario[] = [
  { name: "shoal udp", command: "udp", config: CONFIG, listening: 2, seeder: "udp", leecher: null },
  {
    name: "shoal http",
    command: "http",
    config: HTTP_CONFIG,
    listening: 2,
    seeder: "http",
    leecher: null,
  },
  {
    name: "one shoal, the seeder over UDP and the leecher over HTTP",
    command: "udp",
    config: MIXED_CONFIG,
    listening: 4,
    seeder: "udp",
    leecher: "http",
  },
];

function trackerUrl(shoal: RunningShoal, scheme: "udp" | "http", family: 4 | 6): string {
  const l = shoal.listening.find((x) =>
    x.scheme === scheme && !x.metrics && x.hostname.includes(":") === (family === 6)
  );
  assert.ok(l, `no IPv${family} ${scheme} listening line in:\n${shoal.output.join("\n")}`);
  const host = family === 6 ? `[${l.hostname}]` : l.hostname;
  return `${scheme}://${host}:${l.port}/announce`;
}

for (const sc of SCENARIOS) {
  for (const family of [4, 6] as const) {
    Deno.test({
      name: `libtorrent peers find each other through ${sc.name} and move a file (IPv${family})`,
      ignore: missing !== null,
      fn: async () => {
        const shoal = await startShoalWith(sc.command, sc.config, sc.listening);
        let stopCode: number | undefined;
        try {
          const tracker = trackerUrl(shoal, sc.seeder, family);
          const leecher = sc.leecher ? trackerUrl(shoal, sc.leecher, family) : null;
          const out = await new Deno.Command(PYTHON, {
            args: [
              SCRIPT,
              "--tracker",
              tracker,
              ...(leecher ? ["--leecher-tracker", leecher] : []),
              "--timeout",
              String(TRANSFER_TIMEOUT_S),
              "--size",
              String(PAYLOAD_BYTES),
              ...(family === 6 ? ["--ipv6"] : []),
            ],
            stdout: "piped",
            stderr: "piped",
            stdin: "null",
            // The script bounds itself (plus its own watchdog); this is the last resort.
            signal: AbortSignal.timeout((TRANSFER_TIMEOUT_S + 60) * 1000),
          }).output();
          const stdout = new TextDecoder().decode(out.stdout).trim();
          const stderr = new TextDecoder().decode(out.stderr).trim();
          const context = `tracker ${tracker}${
            leecher ? `, leecher ${leecher}` : ""
          }, exit ${out.code}${
            out.signal ? ` (${out.signal})` : ""
          }\nstdout: ${stdout}\nstderr: ${stderr}\nshoal:\n${shoal.output.join("\n")}`;

          let report: Report;
          try {
            report = JSON.parse(stdout.split("\n").pop()!);
          } catch {
            throw new Error(`the script printed no JSON line; ${context}`);
          }
          assert.equal(out.code, 0, `transfer failed: ${report.reason}; ${context}`);
          assert.equal(report.ok, true, context);
          assert.equal(report.sha1_match, true, `downloaded bytes differ; ${context}`);
          assert.equal(report.bytes, PAYLOAD_BYTES, context);
          assert.ok(report.peers_seen >= 1, `the leecher got no peer from the tracker; ${context}`);
          assert.deepEqual(report.errors, [], context);
          assert.ok(report.scrape, `no scrape reply; ${context}`);
          assert.equal(report.scrape.complete, 2, `both peers seed after the transfer; ${context}`);
          assert.equal(report.scrape.incomplete, 0, context);
          assert.ok(
            (report.scrape.downloaded ?? 0) >= 1,
            `the leecher's completed event was not counted; ${context}`,
          );
        } finally {
          stopCode = await shoal.stop();
        }
        assert.equal(stopCode, 0, `shoal exited with ${stopCode}:\n${shoal.output.join("\n")}`);
      },
    });
  }
}
