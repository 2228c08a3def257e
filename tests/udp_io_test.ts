/**
 * The two UDP I/O backends (`udp/io_ffi.ts`, `udp/io_deno.ts`) on real loopback sockets: echo
 * with the right addresses on IPv4 and IPv6, the 18-byte address layout, truncation, bursts that
 * span several batches, ports in use (also against a `SO_REUSEPORT` group), load sharing in a
 * `SO_REUSEPORT` group, per-packet send failures, and `close()` ending `serve` promptly.
 *
 * Run: `deno test --unstable-net --allow-net --allow-ffi tests/udp_io_test.ts`
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  ADDR_LEN,
  type DatagramSocket,
  defaultIo,
  openSocket,
  SocketOpenError,
  type SocketOptions,
} from "../udp/io.ts";
import { formatAddrIp } from "../shared/net/address.ts";

type Io = "ffi" | "deno";
const IOS: Io[] = ["ffi", "deno"];
const HOSTS = ["127.0.0.1", "::1"];
/** Generous: loopback answers in microseconds, CI machines are slow and shared. */
const WAIT_MS = 3000;

function options(host: string, extra: Partial<SocketOptions> = {}): SocketOptions {
  return {
    hostname: host,
    port: 0,
    family: host.includes(":") ? 6 : 4,
    reusePort: false,
    recvBufferSize: 1 << 20,
    checkFree: false,
    ...extra,
  };
}

/**
 * A test of a socket that serves: the yield channel (`shared/base/yield.ts`) that serving sets up
 * lives for the whole process, and the resource sanitizer would report it as this test's leak.
 */
function servingTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, sanitizeResources: false, fn });
}

/** What the echo server saw of one datagram. */
interface Seen {
  from: string;
  port: number;
  len: number;
  /** The raw 18-byte source address. */
  addr: Uint8Array;
}

/** Echoes every datagram back from the serve callback and records what arrived. */
function echo(sock: DatagramSocket): { seen: Seen[]; done: Promise<void> } {
  const seen: Seen[] = [];
  const done = sock.serve((b) => {
    assert.ok(b.count > 0);
    for (let i = 0; i < b.count; i++) {
      const a = i * ADDR_LEN, len = b.lengths[i];
      seen.push({
        from: formatAddrIp(b.addrs, a),
        port: (b.addrs[a + 16] << 8) | b.addrs[a + 17],
        len,
        addr: b.addrs.slice(a, a + ADDR_LEN),
      });
      if (len >= 0) sock.send(b.data, b.offsets[i], len, b.addrs, a);
    }
    sock.flush();
  });
  return { seen, done };
}

/** `p`, or a rejection naming `what` after `ms`. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until `cond` holds, polling every 10 ms, failing after `ms`. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function client(host: string): Deno.DatagramConn {
  return Deno.listenDatagram({ transport: "udp", hostname: host, port: 0 });
}

async function receive(conn: Deno.DatagramConn, what: string): Promise<[Uint8Array, Deno.NetAddr]> {
  const p = conn.receive();
  p.catch(() => {}); // a receive left pending by a timeout rejects when the test closes conn
  const [data, addr] = await within(p, WAIT_MS, what);
  return [data, addr as Deno.NetAddr];
}

function isInUse(e: unknown, port: number): boolean {
  return e instanceof SocketOpenError && e.code === "EADDRINUSE" &&
    e.message.includes(String(port)) && !e.message.includes("\n");
}

Deno.test("defaultIo picks ffi on Linux and deno elsewhere", () => {
  assert.equal(defaultIo(), Deno.build.os === "linux" ? "ffi" : "deno");
});

for (const io of IOS) {
  for (const host of HOSTS) {
    servingTest(
      `${io} on ${host}: echo with the right addresses, a longer datagram cut to its slot`,
      async () => {
        const sock = openSocket(io, options(host));
        assert.ok(sock.port > 0);
        const server = echo(sock);
        const conn = client(host);
        const cport = (conn.addr as Deno.NetAddr).port;
        const to: Deno.NetAddr = { transport: "udp", hostname: host, port: sock.port };
        try {
          for (const size of [0, 1, 16, 98, 1500, 8192]) {
            const msg = crypto.getRandomValues(new Uint8Array(size));
            await conn.send(msg, to);
            const [data, from] = await receive(conn, `echo of ${size} bytes`);
            assert.deepEqual(data, msg);
            assert.equal(from.hostname, host);
            assert.equal(from.port, sock.port);
          }
          for (const s of server.seen) {
            assert.equal(s.from, host);
            assert.equal(s.port, cport);
          }
          // The 18-byte layout: v4-mapped IPv4, then the port big-endian.
          const want = new Uint8Array(18);
          if (host === "::1") want[15] = 1;
          else want.set([0xff, 0xff, 127, 0, 0, 1], 10);
          want[16] = cport >> 8;
          want[17] = cport & 0xff;
          assert.deepEqual(server.seen[0].addr, want);

          // Larger than a receive slot (8192 bytes): its first 8192 bytes arrive; the socket
          // goes on.
          const before = server.seen.length;
          const long = crypto.getRandomValues(new Uint8Array(9000));
          await conn.send(long, to);
          const [cut] = await receive(conn, "echo of the first 8192 bytes of 9000");
          assert.deepEqual(cut, long.subarray(0, 8192));
          await conn.send(new Uint8Array([7, 7, 7]), to);
          const [data] = await receive(conn, "echo after a truncated datagram");
          assert.deepEqual(data, new Uint8Array([7, 7, 7]));
          assert.deepEqual(server.seen.slice(before).map((s) => s.len), [8192, 3]);
        } finally {
          conn.close();
          sock.close();
          await within(server.done, WAIT_MS, "serve to end after close");
        }
      },
    );
  }

  servingTest(`${io}: a burst larger than a receive batch is all echoed`, async () => {
    const sock = openSocket(io, options("127.0.0.1", { batchSize: 8 }));
    const server = echo(sock);
    const conn = client("127.0.0.1");
    const to: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port: sock.port };
    const n = 100;
    try {
      const got = new Set<number>();
      const reading = (async () => {
        while (got.size < n) got.add((await receive(conn, "burst echo"))[0][0]);
      })();
      for (let i = 0; i < n; i++) await conn.send(new Uint8Array([i, 1, 2, 3]), to);
      await reading;
      assert.equal(got.size, n);
      assert.equal(server.seen.length, n);
    } finally {
      conn.close();
      sock.close();
      await within(server.done, WAIT_MS, "serve to end after close");
    }
  });

  for (const host of HOSTS) {
    Deno.test(`${io} on ${host}: a port held by a plain socket is EADDRINUSE`, () => {
      const holder = client(host);
      const port = (holder.addr as Deno.NetAddr).port;
      try {
        for (const checkFree of [false, true]) {
          assert.throws(() => openSocket(io, options(host, { port, checkFree })), (e) => {
            return isInUse(e, port);
          });
        }
      } finally {
        holder.close();
      }
    });

    Deno.test(`${io} on ${host}: checkFree refuses a port held by a SO_REUSEPORT group`, () => {
      // Another shoal's ffi socket: SO_REUSEADDR + SO_REUSEPORT.
      const holder = openSocket("ffi", options(host, { reusePort: true }));
      try {
        assert.throws(
          () =>
            openSocket(io, options(host, { port: holder.port, reusePort: true, checkFree: true })),
          (e) => isInUse(e, holder.port),
        );
      } finally {
        holder.close();
      }
    });
  }

  Deno.test(`${io}: an address that is not this host's is EADDRNOTAVAIL`, () => {
    assert.throws(
      () => openSocket(io, options("192.0.2.1")),
      (e) =>
        e instanceof SocketOpenError && e.code === "EADDRNOTAVAIL" &&
        /192\.0\.2\.1/.test(e.message),
    );
  });

  servingTest(`${io}: close() ends a parked serve promptly`, async () => {
    const sock = openSocket(io, options("127.0.0.1"));
    const done = sock.serve(() => {});
    // Parked in poll since about 0 ms, with a 100 ms timeout: without a wake-up the loop would
    // notice the close only ~80 ms later.
    await new Promise((r) => setTimeout(r, 120));
    const t = performance.now();
    sock.close();
    await within(done, WAIT_MS, "serve to end after close");
    // The ffi backend shuts the socket down, which wakes the poll.
    assert.ok(performance.now() - t < 40, `took ${performance.now() - t} ms`);
    sock.close(); // twice is harmless
    sock.send(new Uint8Array(1), 0, 1, new Uint8Array(18), 0); // after close: ignored
    sock.flush();
  });

  servingTest(
    `${io}: a datagram that cannot be sent is dropped and counted, not thrown`,
    async () => {
      const sock = openSocket(io, options("127.0.0.1"));
      const server = echo(sock);
      const conn = client("127.0.0.1");
      try {
        // Port 0 is no destination: sendmsg fails with EINVAL.
        const bad = new Uint8Array(18);
        bad.set([0xff, 0xff, 127, 0, 0, 1], 10);
        sock.send(new Uint8Array([1]), 0, 1, bad, 0);
        sock.flush();
        await until(() => sock.sendDrops === 1, WAIT_MS, "sendDrops to count the failure");
        // The socket still works.
        await conn.send(new Uint8Array([5]), {
          transport: "udp",
          hostname: "127.0.0.1",
          port: sock.port,
        });
        assert.deepEqual((await receive(conn, "echo after a failed send"))[0], new Uint8Array([5]));
      } finally {
        conn.close();
        sock.close();
        await within(server.done, WAIT_MS, "serve to end after close");
      }
    },
  );
}

servingTest(
  "ffi: two sockets in a SO_REUSEPORT group both get traffic from many clients",
  async () => {
    const first = openSocket("ffi", options("127.0.0.1", { reusePort: true, checkFree: true }));
    // The second worker of the same tracker: joins the group, so no checkFree.
    const second = openSocket("ffi", options("127.0.0.1", { port: first.port, reusePort: true }));
    assert.equal(second.port, first.port);
    const a = echo(first), b = echo(second);
    // The kernel picks a socket by hashing the 4-tuple: 32 sources all landing on one socket
    // has probability 2^-31.
    const clients = Array.from({ length: 32 }, () => client("127.0.0.1"));
    try {
      await Promise.all(clients.map(async (c) => {
        await c.send(new Uint8Array([1]), {
          transport: "udp",
          hostname: "127.0.0.1",
          port: first.port,
        });
        const [, from] = await receive(c, "echo from the group");
        assert.equal(from.port, first.port);
      }));
      assert.equal(a.seen.length + b.seen.length, 32);
      assert.ok(a.seen.length > 0 && b.seen.length > 0, `split ${a.seen.length}/${b.seen.length}`);
    } finally {
      for (const c of clients) c.close();
      first.close();
      second.close();
      await within(Promise.all([a.done, b.done]), WAIT_MS, "serve to end after close");
    }
  },
);

servingTest("ffi: IPv4 and IPv6 sockets on one port are separate (IPV6_V6ONLY)", async () => {
  const v4 = openSocket("ffi", options("0.0.0.0", { reusePort: true, checkFree: true }));
  const v6 = openSocket(
    "ffi",
    options("::", { port: v4.port, reusePort: true, checkFree: true }),
  );
  const a = echo(v4), b = echo(v6);
  const c4 = client("127.0.0.1"), c6 = client("::1");
  try {
    await c4.send(new Uint8Array([4]), {
      transport: "udp",
      hostname: "127.0.0.1",
      port: v4.port,
    });
    await c6.send(new Uint8Array([6]), { transport: "udp", hostname: "::1", port: v4.port });
    assert.deepEqual((await receive(c4, "IPv4 echo"))[0], new Uint8Array([4]));
    assert.deepEqual((await receive(c6, "IPv6 echo"))[0], new Uint8Array([6]));
    assert.deepEqual(a.seen.map((s) => s.from), ["127.0.0.1"]);
    assert.deepEqual(b.seen.map((s) => s.from), ["::1"]);
  } finally {
    c4.close();
    c6.close();
    v4.close();
    v6.close();
    await within(Promise.all([a.done, b.done]), WAIT_MS, "serve to end after close");
  }
});
