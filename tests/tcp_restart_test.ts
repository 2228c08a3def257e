/**
 * A TCP tracker restarted on its port comes back at once, even though the connections its last
 * run closed first still sit in TIME_WAIT on that port (for a minute): what a supervisor or an
 * operator's restart does. Over both transports of `shoal http`, and `shoal ws`.
 */
import assert from "assert";
import { processTest, startShoal, testConfig } from "./helpers/shoal.ts";
import { HttpClient } from "./helpers/http_client.ts";
import { freePort } from "../harness/process.ts";

/**
 * Sockets in TIME_WAIT whose local port is `port` (`/proc/net/tcp`, state 06; read by `cat`,
 * as Deno lets only --allow-all read /proc/net).
 */
async function timeWaits(port: number): Promise<number> {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const out = await new Deno.Command("cat", { args: ["/proc/net/tcp"], stdout: "piped" }).output();
  const lines = new TextDecoder().decode(out.stdout).split("\n").slice(1);
  return lines.filter((l) => {
    const f = l.trim().split(/\s+/);
    return f.length > 3 && f[1].endsWith(`:${hex}`) && f[3] === "06";
  }).length;
}

/** Sends a request that the server answers and then closes on; returns the status. */
async function requestClosedByServer(port: number, path: string): Promise<number> {
  const c = await HttpClient.connect("127.0.0.1", port);
  try {
    const r = await c.get(path, "Connection: close\r\n");
    assert.ok(await c.closedWithin(5000), "the server did not close the connection");
    return r.status;
  } finally {
    c.close();
  }
}

const cases = [
  { kind: "http", io: "ffi", path: "/scrape", use_ipv6: false },
  { kind: "http", io: "deno", path: "/scrape", use_ipv6: false },
  { kind: "ws", io: "ffi", path: "/", use_ipv6: undefined },
];

for (const { kind, io, path, use_ipv6 } of cases) {
  processTest(
    `${kind} (${io}): restarts on its port while the last run's connections are in TIME_WAIT`,
    async () => {
      const port = freePort();
      const file = await testConfig({
        log_level: "warn",
        network: { address: `127.0.0.1:${port}`, use_ipv6, io },
      });
      const first = await startShoal([kind, "-c", file], 1);
      for (let i = 0; i < 3; i++) {
        assert.ok((await requestClosedByServer(port, path)) >= 200);
      }
      assert.equal(await first.stop(), 0, first.output.join("\n"));
      // Without this the test would prove nothing: the server closed first, so its side of
      // those connections waits out TIME_WAIT on the port.
      assert.ok(await timeWaits(port) > 0, `no TIME_WAIT socket on port ${port}`);

      const second = await startShoal([kind, "-c", file], 1);
      assert.equal(second.listening[0].port, port);
      assert.ok((await requestClosedByServer(port, path)) >= 200);
      assert.equal(await second.stop(), 0, second.output.join("\n"));
    },
  );
}
