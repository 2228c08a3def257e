/**
 * `shoal ws` under a low open-file limit (`prlimit --nofile=300`, as in a container): it warns
 * at start that `max_connections` cannot fit, refuses what does not fit (logged, counted in
 * the metrics) without spinning or stalling the connections it has, and accepts again as soon
 * as descriptors are free.
 */
import assert from "assert";
import { METRICS, metricsOf as metrics, processTest, startShoalWith } from "./helpers/shoal.ts";
import { RawWs } from "../harness/ws_client.ts";
import { cpuSeconds } from "../harness/procstat.ts";
import { EpollServer } from "../shared/net/tcp_epoll.ts";
import { WireConnection } from "../ws/wire.ts";

const LIMIT = 300;
const prlimit = await new Deno.Command("prlimit", { args: ["--version"] }).output()
  .then((o) => o.success, () => false);

/** Opens a WebSocket, or null if the server refused or did not answer within `ms`. */
async function tryOpen(port: number, ms: number): Promise<RawWs | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((r) => (timer = setTimeout(() => r(null), ms)));
  const open = RawWs.connect("127.0.0.1", port).catch(() => null);
  const ws = await Promise.race([open, timeout]);
  clearTimeout(timer);
  if (ws === null) open.then((late) => late?.close()); // answered after all: close it too
  return ws;
}

async function announce(ws: RawWs, n: number): Promise<boolean> {
  const hash = String(n).padStart(20, "h"), peer = String(n).padStart(20, "p");
  await ws.sendText(JSON.stringify({ action: "announce", info_hash: hash, peer_id: peer }));
  const reply = await ws.readText(5000);
  return reply !== null && JSON.parse(reply).interval !== undefined;
}

for (const io of ["ffi", "deno"]) {
  processTest(
    `ws (${io}): a low open-file limit is warned about, refused, counted, and recovered`,
    async () => {
      const shoal = await startShoalWith(
        "ws",
        {
          socket_workers: 1,
          request_workers: 1,
          network: { io },
          limits: { max_connections_per_ip: 100000 },
          metrics: METRICS,
        },
        2,
        { prefix: ["prlimit", `--nofile=${LIMIT}:${LIMIT}`, "--"] },
      );
      const port = shoal.listening.find((l) => l.scheme === "ws")!.port;
      const opened: RawWs[] = [];
      try {
        await shoal.waitFor(
          new RegExp(`open-file limit is ${LIMIT} .*limits.max_connections = 100000`),
        );
        // 500 at once: more than the process can hold. The ones it cannot are refused (at
        // accept, or closed with 1013 once the connections that fit are open).
        const got = await Promise.all(Array.from({ length: 500 }, () => tryOpen(port, 3000)));
        const served = await Promise.all(
          got.map((ws, k) => ws === null ? false : announce(ws, k).catch(() => false)),
        );
        got.forEach((ws, k) => served[k] ? opened.push(ws!) : ws?.close());
        assert.ok(opened.length > 100, `only ${opened.length} of 500 served`);
        assert.ok(opened.length < LIMIT, `${opened.length} served under a limit of ${LIMIT}`);
        await shoal.waitFor(/out of file descriptors.*reached: refused \d+/, 5000);
        const m = await metrics(shoal);
        const refused = m.get('shoal_limit_refusals_total{limit="open_files",worker="0"}') ?? 0;
        assert.ok(refused > 0, "refusals counted in the metrics");
        // No spinning while at the limit: a second of waiting costs little CPU.
        const cpu0 = await cpuSeconds(shoal.child.pid);
        await new Promise((r) => setTimeout(r, 1000));
        const cpu = (await cpuSeconds(shoal.child.pid)) - cpu0;
        assert.ok(cpu < 0.5, `${cpu.toFixed(2)} s of CPU in a second at the limit`);
        // The connections it holds are served throughout.
        for (let k = 0; k < 5; k++) assert.ok(await announce(opened[k], k), "served at the limit");
        // Descriptors free up: new connections are accepted again.
        for (const ws of opened.splice(0)) ws.close();
        let again: (RawWs | null)[] = [];
        for (let attempt = 0; attempt < 20; attempt++) {
          for (const ws of again) ws?.close();
          again = await Promise.all(Array.from({ length: 50 }, () => tryOpen(port, 3000)));
          if (again.every((ws) => ws !== null)) break;
          await new Promise((r) => setTimeout(r, 250)); // closes still being processed
        }
        assert.ok(again.every((ws) => ws !== null), "50 new connections after freeing");
        for (const ws of again) opened.push(ws!);
        for (let k = 0; k < 5; k++) assert.ok(await announce(opened[k], 100 + k));
      } finally {
        for (const ws of opened) ws.close();
        assert.equal(await shoal.stop(), 0, shoal.output.join("\n"));
      }
    },
    { ignore: !prlimit },
  );
}

/** A client in another process (its own descriptors): one upgrade per line read on stdin. */
const CLIENT = `
import socket, sys
port = int(sys.argv[1])
for line in sys.stdin:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n")
    try:
        got = s.recv(64)
        print("upgraded" if got.startswith(b"HTTP/1.1 101") else "closed" if got == b"" else "other",
              flush=True)
    except socket.timeout:
        print("timeout", flush=True)
    except ConnectionResetError:
        print("closed", flush=True)
    s.close()
`;

processTest(
  "epoll transport: out of descriptors, pending connections are refused at once, " +
    "and accepted again once descriptors are free",
  async () => {
    let outOfFiles = 0;
    const server = new EpollServer(
      {
        hostname: "127.0.0.1",
        port: 0,
        family: 4,
        reusePort: false,
        v6only: false,
        recvBufferSize: 0,
      },
      false,
      {
        accept: (t, ip) =>
          new WireConnection(t, {
            maxFrameSize: 16384,
            maxMessageSize: 65536,
            healthCheck: false,
            ipHeader: null,
          }, {
            open: () => true,
            message: () => false,
            text: () => {},
            closed: () => {},
          }, ip),
        outOfFiles: () => outOfFiles++,
      },
    );
    const child = new Deno.Command("python3", {
      args: ["-c", CLIENT, String(server.port)],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const stdin = child.stdin.getWriter();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let pending = "";
    const next = async (): Promise<string> => {
      while (!pending.includes("\n")) {
        const { value, done } = await lines.read();
        if (done) throw new Error("client ended");
        pending += value;
      }
      const at = pending.indexOf("\n"), line = pending.slice(0, at);
      pending = pending.slice(at + 1);
      return line;
    };
    const ask = async () => {
      await stdin.write(new TextEncoder().encode("go\n"));
      return await next();
    };
    const held: Deno.FsFile[] = [];
    try {
      assert.equal(await ask(), "upgraded");
      // The client closed that connection: once the server has closed its side too (else that
      // descriptor comes free after the next step, and the next accept takes it), this process
      // goes out of descriptors: hold every free one.
      const deadline = Date.now() + 5000;
      while (server.connections > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(server.connections, 0, "the first connection closed");
      try {
        for (;;) held.push(Deno.openSync("/dev/null"));
      } catch { /* EMFILE */ }
      assert.deepEqual([await ask(), await ask(), await ask()], ["closed", "closed", "closed"]);
      assert.ok(outOfFiles >= 3, `${outOfFiles} failed accepts reported`);
      for (const f of held.splice(0)) f.close();
      assert.equal(await ask(), "upgraded", "accepting again once descriptors are free");
    } finally {
      for (const f of held) f.close();
      await stdin.close();
      await child.status;
      server.close();
    }
  },
  { ignore: Deno.build.os !== "linux" },
);
