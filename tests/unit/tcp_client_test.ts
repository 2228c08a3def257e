import {
  deepStrictEqual as assertEquals,
  match as assertMatch,
  ok as assert,
  rejects,
} from "node:assert/strict";
import { connectPolled, MAX_UNSENT } from "../../shared/net/tcp_client.ts";

// A polled stream against a real listener on loopback: both directions, a write larger than
// the socket buffers (so part of it waits for room), and the end of the stream.

async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  for (let got = 0; got < n;) {
    const k = await conn.read(out.subarray(got));
    if (k === null) throw new Error(`ended after ${got} of ${n} bytes`);
    got += k;
  }
  return out;
}

/** A listener on loopback, a polled stream connected to it, and the server's end of it. */
async function connected() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const tcp = await connectPolled("127.0.0.1", listener.addr.port, 3000);
  return { listener, tcp, server: await accepted };
}

Deno.test("polled TCP: bytes both ways, a write that waits for room, and the end", async () => {
  const { listener, tcp, server } = await connected();
  try {
    const got: number[] = [];
    let wake: () => void = () => {};
    tcp.serve((chunk) => {
      got.push(...chunk);
      wake();
    });

    // Server → client.
    await server.write(new TextEncoder().encode("INFO {}\r\n"));
    while (got.length < 9) await new Promise<void>((r) => (wake = r));
    assertEquals(new TextDecoder().decode(new Uint8Array(got)), "INFO {}\r\n");

    // Client → server: 8 MiB in one write, far past what the socket buffers hold while
    // nobody reads, so most of it waits for room (the poller watches for it).
    const big = new Uint8Array(8 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    tcp.write(big);
    await new Promise((r) => setTimeout(r, 50));
    assert(tcp.unsent > 0, "the socket took all 8 MiB while nobody read: nothing waited");
    const back = await readExactly(server, big.length);
    assertEquals(back, big);
    assertEquals(tcp.unsent, 0);

    // The server closes: the stream ends, and says so.
    server.close();
    const why = await tcp.ended;
    assertMatch(why.message, /closed/);
    assert(tcp.closed);
    tcp.write(big); // after the end: dropped, no throw
  } finally {
    listener.close();
  }
});

Deno.test("polled TCP: a refused connection is an error that names it", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  await rejects(connectPolled("127.0.0.1", port, 3000), /ECONNREFUSED/);
});

Deno.test("polled TCP: a peer that takes nothing ends the stream at the bound", async () => {
  const { listener, tcp, server } = await connected();
  try {
    tcp.serve(() => {});
    tcp.write(new Uint8Array(MAX_UNSENT - 1024));
    tcp.write(new Uint8Array(4096)); // over the bound while nothing was read
    const why = await tcp.ended;
    assertMatch(why.message, /has not taken/);
    server.close();
  } finally {
    listener.close();
  }
});
