/** Both UDP I/O backends on real loopback sockets: echo, addresses, truncation, ports in use. */
import assert from "assert";
import { type DatagramSocket, openSocket, SocketOpenError } from "../udp/io.ts";
import { openFfiSocket } from "../udp/io_ffi.ts";
import { formatAddrIp } from "../shared/address.ts";

type Io = "ffi" | "deno";

function open(io: Io, hostname: string, port = 0, extra = {}): DatagramSocket {
  return openSocket(io, {
    hostname,
    port,
    family: hostname.includes(":") ? 6 : 4,
    reusePort: io === "ffi",
    recvBufferSize: 1 << 20,
    checkFree: true,
    ...extra,
  });
}

/** Serves `sock` as an echo server that also records source addresses and lengths. */
function echo(sock: DatagramSocket) {
  const seen: { from: string; len: number }[] = [];
  const done = sock.serve((b) => {
    for (let i = 0; i < b.count; i++) {
      const a = 18 * i;
      seen.push({
        from: `${formatAddrIp(b.addrs, a)}:${(b.addrs[a + 16] << 8) | b.addrs[a + 17]}`,
        len: b.lengths[i],
      });
      if (b.lengths[i] >= 0) sock.send(b.data, b.offsets[i], b.lengths[i], b.addrs, a);
    }
    sock.flush();
  });
  return { seen, done };
}

async function receiveWithin(conn: Deno.DatagramConn, ms: number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      conn.receive(),
      new Promise<null>((r) => (timer = setTimeout(() => r(null), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

for (const io of ["ffi", "deno"] as Io[]) {
  for (const host of ["127.0.0.1", "::1"]) {
    Deno.test({
      name: `${io} backend echoes on ${host} with the right source address`,
      sanitizeOps: false,
      sanitizeResources: false,
      fn: async () => {
        const sock = open(io, host);
        const server = echo(sock);
        const client = Deno.listenDatagram({ transport: "udp", hostname: host, port: 0 });
        try {
          const cport = (client.addr as Deno.NetAddr).port;
          for (const size of [1, 16, 98, 1500, 8000]) {
            const msg = crypto.getRandomValues(new Uint8Array(size));
            await client.send(msg, { transport: "udp", hostname: host, port: sock.port });
            const got = await receiveWithin(client, 3000);
            assert.ok(got, `no echo of ${size} bytes`);
            assert.deepEqual(got[0], msg);
            assert.equal((got[1] as Deno.NetAddr).port, sock.port);
          }
          const want = host === "::1" ? "::1" : "127.0.0.1";
          assert.ok(
            server.seen.every((s) => s.from === `${want}:${cport}`),
            JSON.stringify(server.seen),
          );
          // A datagram larger than a receive slot (8192 bytes) is reported as truncated.
          const big = new Uint8Array(9000);
          await client.send(big, { transport: "udp", hostname: host, port: sock.port });
          const deadline = Date.now() + 3000;
          while (!server.seen.some((s) => s.len === -1) && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 20));
          }
          assert.ok(server.seen.some((s) => s.len === -1), "truncation not reported");
        } finally {
          client.close();
          sock.close();
          await server.done;
        }
      },
    });
  }

  Deno.test(`${io} backend: a port held by another socket is EADDRINUSE`, () => {
    // The holder joins a SO_REUSEPORT group, as another shoal would: still detected.
    const holder = openFfiSocket({
      hostname: "127.0.0.1",
      port: 0,
      family: 4,
      reusePort: true,
      recvBufferSize: 0,
      checkFree: false,
    });
    try {
      assert.throws(
        () => open(io, "127.0.0.1", holder.port),
        (e: unknown) => e instanceof SocketOpenError && e.code === "EADDRINUSE",
      );
    } finally {
      holder.close();
    }
  });
}

Deno.test({
  name: "ffi backend: SO_REUSEPORT spreads many clients over the sockets of a group",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const first = open("ffi", "127.0.0.1");
    const second = open("ffi", "127.0.0.1", first.port, { checkFree: false });
    const a = echo(first), b = echo(second);
    const clients = Array.from(
      { length: 32 },
      () => Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 }),
    );
    try {
      await Promise.all(clients.map(async (c) => {
        await c.send(new Uint8Array([1]), {
          transport: "udp",
          hostname: "127.0.0.1",
          port: first.port,
        });
        assert.ok(await receiveWithin(c, 3000), "no echo");
      }));
      assert.equal(a.seen.length + b.seen.length, 32);
      assert.ok(a.seen.length > 0 && b.seen.length > 0, `split ${a.seen.length}/${b.seen.length}`);
    } finally {
      clients.forEach((c) => c.close());
      first.close();
      second.close();
      await Promise.all([a.done, b.done]);
    }
  },
});

Deno.test("ffi backend: bad addresses are refused with a reason", () => {
  assert.throws(
    () => open("ffi", "192.0.2.1"),
    (e: unknown) => e instanceof SocketOpenError && e.code === "EADDRNOTAVAIL",
  );
});
