/**
 * Every connection closed, every answer delivered, on each TCP transport (libc epoll, Deno's
 * listeners, and TLS): connections the client closed leave no socket in CLOSE-WAIT (HTTP and
 * ws), a client that half-closes after its request still gets its answer, and a pipeline of
 * hundreds of requests is answered whole and in order.
 */
import assert from "assert";
import {
  type ConfigValue,
  processTest,
  type RunningShoal,
  startShoalWith,
} from "./helpers/shoal.ts";
import { makeCertificate } from "./helpers/certificates.ts";
import { RawWs } from "../harness/ws_client.ts";
import { announceQuery, bdecode, HttpClient, pct } from "./helpers/http_client.ts";
import { randomId } from "./helpers/udp_client.ts";
import { MAX_OWED } from "../http/front.ts";
import type { BencodeValue } from "../http/bencode.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dec = new TextDecoder();

/** The transports, as config lines under `[network]`. */
const TRANSPORTS = ["ffi", "deno", "tls"] as const;
type Kind = typeof TRANSPORTS[number];

/** Loopback TCP sockets by state: the server's (local port `port`) and its clients'. */
async function sockets(port: number): Promise<{ closeWait: number; clientsOpen: number }> {
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  // Deno reads /proc/net only with --allow-all: cat reads it.
  const out = await new Deno.Command("cat", { args: ["/proc/net/tcp", "/proc/net/tcp6"] })
    .output();
  assert.ok(out.success, "cat /proc/net/tcp /proc/net/tcp6");
  let closeWait = 0, clientsOpen = 0;
  for (const line of dec.decode(out.stdout).split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length <= 3) continue;
    if (f[1].endsWith(hexPort) && f[3] === "08") closeWait++; // CLOSE_WAIT
    if (f[2].endsWith(hexPort) && f[3] === "01") clientsOpen++; // ESTABLISHED
  }
  return { closeWait, clientsOpen };
}

/**
 * Once the clients' own sockets have closed (their FIN sent), waits up to `ms` for the server
 * to close its side; returns how many of its sockets are still in CLOSE-WAIT.
 */
async function closeWaitAfter(port: number, ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  let s = await sockets(port);
  while ((s.clientsOpen > 0 || s.closeWait > 0) && Date.now() < deadline) {
    await sleep(100);
    s = await sockets(port);
  }
  assert.equal(s.clientsOpen, 0, "the test's clients closed their sockets");
  return s.closeWait;
}

interface Server {
  shoal: RunningShoal;
  port: number;
  caCerts?: string[];
  cleanup: () => Promise<void>;
}

/** Starts `shoal <protocol>` on 127.0.0.1 with the transport `kind` and `network` keys. */
async function serve(
  protocol: "http" | "ws",
  kind: Kind,
  network: Record<string, ConfigValue> = {},
): Promise<Server> {
  const dir = await Deno.makeTempDir({ prefix: "shoal-delivery-" });
  let tls = {}, caCerts: string[] | undefined;
  if (kind === "tls") {
    const c = await makeCertificate(dir, "delivery");
    tls = { use_tls: true, tls_certificate_path: c.cert, tls_private_key_path: c.key };
    caCerts = [await Deno.readTextFile(c.ca)];
  }
  const shoal = await startShoalWith(protocol, {
    log_level: "warn",
    network: {
      use_ipv6: protocol === "http" ? false : undefined,
      io: kind === "ffi" ? "ffi" : "deno",
      ...tls,
      ...network,
    },
  });
  const port = shoal.listening.find((l) => !l.metrics)!.port;
  return {
    shoal,
    port,
    caCerts,
    cleanup: async () => {
      assert.equal(await shoal.stop(), 0, shoal.output.join("\n"));
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function connect(s: Server): Promise<Deno.Conn> {
  return s.caCerts
    ? Deno.connectTls({ hostname: "127.0.0.1", port: s.port, caCerts: s.caCerts })
    : Deno.connect({ hostname: "127.0.0.1", port: s.port });
}

/** Everything the server sends until it closes (or `ms` pass). */
async function readToEnd(conn: Deno.Conn, ms: number): Promise<Uint8Array> {
  const parts: Uint8Array<ArrayBuffer>[] = [];
  const buf = new Uint8Array(65536);
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"t">((
      r,
    ) => (timer = setTimeout(() => r("t"), deadline - Date.now())));
    const n = await Promise.race([conn.read(buf).catch(() => null), timeout]);
    clearTimeout(timer);
    if (n === "t" || n === null) break;
    parts.push(buf.slice(0, n));
  }
  return new Uint8Array(await new Blob(parts).arrayBuffer());
}

const announcePath = () =>
  `/announce?${
    announceQuery({ info_hash: randomId(), peer_id: randomId(), port: 6881, left: 0, compact: 1 })
  }`;

for (const kind of TRANSPORTS) {
  processTest(
    `http (${kind}): connections closed, half-closed and pipelined get every answer`,
    async (t) => {
      const s = await serve("http", kind, { keep_alive_timeout: 60 });
      try {
        await t.step(
          "100 connections the client closed leave no socket in CLOSE-WAIT",
          async () => {
            for (let k = 0; k < 100; k += 10) {
              await Promise.all(Array.from({ length: 10 }, async () => {
                const conn = await connect(s);
                const c = HttpClient.wrap(conn);
                const r = await c.get(`/scrape?info_hash=${pct(randomId())}`);
                assert.equal(r.status, 200);
                c.close();
              }));
            }
            const left = await closeWaitAfter(s.port, 3000);
            assert.equal(left, 0, `${left} sockets in CLOSE-WAIT 3 s after their clients closed`);
          },
        );

        await t.step("a client that half-closes after its request gets the answer", async () => {
          for (let k = 0; k < 20; k++) {
            const conn = await connect(s);
            await HttpClient.wrap(conn).write(`GET ${announcePath()} HTTP/1.0\r\n\r\n`);
            await conn.closeWrite();
            const got = dec.decode(await readToEnd(conn, 5000));
            conn.close();
            assert.match(got, /^HTTP\/1\.[01] 200 /, `try ${k}: got ${JSON.stringify(got)}`);
            // A lone seeder: counted in its own answer.
            assert.match(got, /d8:completei1e10:incompletei0e8:intervali\d+e/, `try ${k}`);
          }
          const left = await closeWaitAfter(s.port, 3000);
          assert.equal(left, 0, `${left} sockets in CLOSE-WAIT after half-closed clients`);
        });

        await t.step(
          `300 pipelined scrapes, and ${3 * MAX_OWED} announces, all answered in order`,
          async () => {
            const c = HttpClient.wrap(await connect(s));
            const hashes = Array.from({ length: 300 }, () => randomId());
            await c.write(
              hashes.map((h) => `GET /scrape?info_hash=${pct(h)} HTTP/1.1\r\n\r\n`).join(""),
            );
            for (const h of hashes) {
              const files = bdecode(await c.read()).get("files") as Map<string, BencodeValue>;
              assert.deepEqual([...files.keys()], [String.fromCharCode(...h)]);
            }
            const n = 3 * MAX_OWED;
            await c.write(
              Array.from({ length: n }, () => `GET ${announcePath()} HTTP/1.1\r\n\r\n`).join(""),
            );
            for (let k = 0; k < n; k++) assert.equal((await c.read()).status, 200, `answer ${k}`);
            // ... and the connection still serves.
            assert.equal((await c.get(`/scrape?info_hash=${pct(randomId())}`)).status, 200);
            c.close();
          },
        );

        await t.step(
          "a pipeline that ends with the client's end of stream is answered whole",
          async () => {
            const conn = await connect(s);
            const n = 2 * MAX_OWED;
            const one = (i: number) =>
              `GET /scrape?info_hash=${pct(randomId())}&n=${i} HTTP/1.1\r\n\r\n`;
            await HttpClient.wrap(conn).write(Array.from({ length: n }, (_, i) => one(i)).join(""));
            await conn.closeWrite();
            const got = dec.decode(await readToEnd(conn, 10000));
            conn.close();
            assert.equal(got.match(/HTTP\/1\.1 200 /g)?.length, n, "every answer, then the close");
          },
        );
      } finally {
        await s.cleanup();
      }
    },
  );

  processTest(
    `ws (${kind}): 100 connections the client closed leave no socket in CLOSE-WAIT`,
    async () => {
      const s = await serve("ws", kind);
      try {
        for (let k = 0; k < 100; k += 10) {
          await Promise.all(Array.from({ length: 10 }, async () => {
            const ws = await RawWs.connect("127.0.0.1", s.port, { caCerts: s.caCerts });
            await ws.sendText(JSON.stringify({
              action: "scrape",
              info_hash: String.fromCharCode(...randomId()),
            }));
            assert.ok((await ws.readText()) !== null, "answered");
            ws.close(); // no close frame: the TCP connection just ends
          }));
        }
        const left = await closeWaitAfter(s.port, 3000);
        assert.equal(left, 0, `${left} sockets in CLOSE-WAIT 3 s after their clients closed`);
      } finally {
        await s.cleanup();
      }
    },
  );
}
