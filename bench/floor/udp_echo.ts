/**
 * UDP echo benchmark of the two I/O backends (`udp/io_ffi.ts`, `udp/io_deno.ts`): how many
 * datagrams per second one socket moves, and the server's CPU time per datagram: the figures that
 * make ffi the default on Linux (~380k packets/s and ~2.7 µs per packet for ffi, ~80k and ~13.6 µs
 * for deno, on the 2-core build machine).
 *
 * The server is a subprocess (this file with `--serve`) that echoes through the chosen backend,
 * so its CPU time, read from `/proc/<pid>/stat`, is its own. The client is a reflector on raw
 * libc `recvmmsg`/`sendmmsg` that sends each datagram straight back from the buffers it arrived
 * in (no copies, no address conversion), keeps `--window` datagrams in flight (closed loop) and
 * busy-polls its own core. Each datagram carries the client tick it was sent in; those not back
 * within three ticks (150 ms) are counted lost and replaced, so drops do not shrink the window.
 *
 * On loopback the sender pays for the delivery, so the kernel costs the client as much as the
 * server and, on two cores, both saturate at about the same rate: compare the server's CPU µs per
 * packet (`serverCpuUsPerPacket`), and distrust runs where `clientCores` is well below 1 (another
 * process had the CPU). A C `recvmmsg`/`sendmmsg` echo server measures ~330k packets/s at
 * ~3.0 µs per packet in this setup. The deno backend cannot set `SO_RCVBUF`, so windows above
 * ~250 overflow its default receive buffer (counted in `lost`).
 *
 * Usage: `deno run --unstable-net --allow-net --allow-ffi --allow-run --allow-read
 * bench/floor/udp_echo.ts [--io ffi|deno|both] [--host 127.0.0.1|::1] [--seconds 5] [--warmup 1]
 * [--window 512] [--size 64] [--batch 64] [--quiet]`. Prints one JSON line per backend on
 * stdout and packets/s each second on stderr. `--port N [--pid P]` loads an echo server that is
 * already running instead (reporting the CPU time of process P).
 *
 * @module
 */

import { parseArgs } from "args";
import { ADDR_LEN, type DatagramSocket, openSocket } from "../../udp/io.ts";
import {
  addressOf,
  bindSocket,
  EAGAIN,
  errno,
  lib,
  MSG_DONTWAIT,
  pinned,
  SOCK_DGRAM,
  sockaddr,
  writePtr,
} from "../../shared/net/libc.ts";
import { cpuSeconds } from "../../harness/procstat.ts";
import { readUntil } from "../../harness/process.ts";

/** What one echo run measured. */
export interface EchoResult {
  /** Backend of the server; `external` for a server given by `--port`. */
  io: "ffi" | "deno" | "external";
  /** Address the server was bound to. */
  host: string;
  /** Bytes per datagram. */
  size: number;
  /** Datagrams echoed per second in the measured window. */
  packetsPerSecond: number;
  /** Server CPU (user + system, all its threads) per echoed datagram, in µs. */
  serverCpuUsPerPacket: number;
  /** Share of one core the server used. */
  serverCores: number;
  /** Client CPU per echoed datagram, in µs (it busy-polls, so this is an upper bound). */
  clientCpuUsPerPacket: number;
  /** Share of one core the client got: it busy-polls, so below ~0.95 means another process ran. */
  clientCores: number;
  /** Datagrams counted lost in the measured window. */
  lost: number;
}

const MMSG = 64, IOV = 16, NAME = 28, SLOT = 2048, BATCH = 64;
/** Ticks of the loss accounting: a datagram is lost when not back within `LAG` ticks. */
const TICK_MS = 50, LAG = 3, RING = 8;

/** A raw libc echo reflector with `window` datagrams in flight toward `host:port`. */
class Reflector {
  readonly fd: number;
  readonly #hdr = pinned(BATCH * MMSG);
  readonly #hdr32 = new Uint32Array(this.#hdr.buffer);
  readonly #iov = pinned(BATCH * IOV);
  readonly #names = pinned(BATCH * NAME);
  readonly #data = pinned(BATCH * SLOT);
  readonly #data32 = new Uint32Array(this.#data.buffer);
  readonly #target = new Uint8Array(NAME);
  readonly #targetLen: number;
  readonly #sent = new Float64Array(RING);
  readonly #back = new Float64Array(RING);
  #tick = 0;
  #inflight = 0;
  received = 0;
  lost = 0;

  constructor(family: 4 | 6, host: string, port: number, readonly window: number, size: number) {
    this.fd = bindSocket(SOCK_DGRAM, {
      hostname: family === 4 ? "127.0.0.1" : "::1",
      port: 0,
      family,
      reusePort: false,
      v6only: true,
      recvBufferSize: 4 << 20,
    });
    this.#targetLen = sockaddr(family, host, port, this.#target);
    const iov32 = new Uint32Array(this.#iov.buffer);
    const dataAt = addressOf(this.#data), iovAt = addressOf(this.#iov);
    const namesAt = addressOf(this.#names);
    for (let i = 0; i < BATCH; i++) {
      // Every slot holds `size` bytes: what comes back is what went out, so the same headers
      // serve receiving and sending, and msg_namelen stays what recvmmsg wrote.
      writePtr(iov32, i * IOV, dataAt + i * SLOT);
      writePtr(iov32, i * IOV + 8, size);
      writePtr(this.#hdr32, i * MMSG, namesAt + i * NAME);
      this.#hdr32[(i * MMSG + 8) >> 2] = this.#targetLen;
      writePtr(this.#hdr32, i * MMSG + 16, iovAt + i * IOV);
      writePtr(this.#hdr32, i * MMSG + 24, 1);
    }
  }

  /** Sends new datagrams until `window` are in flight. */
  #topUp(): void {
    while (this.#inflight < this.window) {
      const n = Math.min(BATCH, this.window - this.#inflight);
      for (let i = 0; i < n; i++) {
        this.#names.set(this.#target, i * NAME);
        this.#hdr32[(i * MMSG + 8) >> 2] = this.#targetLen;
        this.#data32[(i * SLOT) >> 2] = this.#tick;
      }
      const r = lib().sendmmsg(this.fd, this.#hdr, n, MSG_DONTWAIT);
      if (r <= 0) return;
      this.#sent[this.#tick % RING] += r;
      this.#inflight += r;
    }
  }

  /** Starts a tick: writes off what is overdue, refills the window. */
  #nextTick(): void {
    this.#tick++;
    const old = this.#tick - LAG;
    if (old >= 0) {
      const k = old % RING;
      const missing = this.#sent[k] - this.#back[k];
      this.lost += missing;
      this.#inflight -= missing;
      this.#sent[k] = this.#back[k] = 0;
    }
    this.#sent[this.#tick % RING] = this.#back[this.#tick % RING] = 0;
    this.#topUp();
  }

  /** Reflects datagrams for `ms` milliseconds, busy-polling; prints progress when asked. */
  run(ms: number, progress: boolean): void {
    const c = lib(), hdr = this.#hdr, data32 = this.#data32;
    const sent = this.#sent, back = this.#back;
    const start = performance.now();
    let nextTick = start, nextReport = start + 1000, lastCount = this.received;
    for (;;) {
      const now = performance.now();
      if (now >= nextTick) {
        if (now - start >= ms) return;
        this.#nextTick();
        nextTick = now + TICK_MS;
        if (progress && now >= nextReport) {
          console.error(`  ${this.received - lastCount} packets/s`);
          lastCount = this.received;
          nextReport += 1000;
        }
      }
      const got = c.recvmmsg(this.fd, hdr, BATCH, MSG_DONTWAIT, null);
      if (got <= 0) continue;
      const tick = this.#tick;
      for (let i = 0; i < got; i++) {
        const w = (i * SLOT) >> 2, from = data32[w];
        if (tick - from < LAG) back[from % RING]++;
        else this.#inflight++; // came back after being written off: in flight again
        data32[w] = tick;
      }
      this.received += got;
      sent[tick % RING] += got;
      let done = 0;
      while (done < got) {
        const r = c.sendmmsg(this.fd, done === 0 ? hdr : hdr.subarray(done * MMSG), got - done, 0);
        if (r > 0) done += r;
        else if (errno() !== EAGAIN) break;
      }
      // Unsent ones are lost at once.
      sent[tick % RING] -= got - done;
      this.#inflight -= got - done;
    }
  }

  close(): void {
    lib().close(this.fd);
  }
}

/** Runs the echo server of `--serve` mode until its stdin closes. */
async function serve(io: "ffi" | "deno", host: string, batch: number): Promise<void> {
  const sock: DatagramSocket = openSocket(io, {
    hostname: host,
    port: 0,
    family: host.includes(":") ? 6 : 4,
    reusePort: false,
    recvBufferSize: 4 << 20,
    checkFree: false,
    batchSize: batch,
  });
  console.log(JSON.stringify({ port: sock.port }));
  const done = sock.serve((b) => {
    for (let i = 0; i < b.count; i++) {
      const len = b.lengths[i];
      if (len >= 0) sock.send(b.data, b.offsets[i], len, b.addrs, i * ADDR_LEN);
    }
    sock.flush();
  });
  // The parent closes our stdin to stop us.
  for await (const _ of Deno.stdin.readable) { /* nothing to read */ }
  sock.close();
  await done;
}

/** Options of a client run. */
export interface EchoOptions {
  /** Server backend. */
  io: "ffi" | "deno";
  /** Address to bind the server to (`127.0.0.1` or `::1`). */
  host: string;
  /** Measured seconds. */
  seconds: number;
  /** Seconds before measuring. */
  warmup: number;
  /** Datagrams in flight. */
  window: number;
  /** Bytes per datagram (at least 4). */
  size: number;
  /** The server's receive batch (ffi). */
  batch: number;
  /** Print packets/s each second on stderr. */
  progress: boolean;
  /** Load an echo server already running on this port instead of starting one. */
  port?: number;
  /** With `port`: the process whose CPU time to report. */
  pid?: number;
}

/** Starts a server subprocess, loads it, and returns what was measured. */
export async function runEcho(o: EchoOptions): Promise<EchoResult> {
  if (o.port !== undefined) return await load(o, o.port, o.pid ?? null);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--unstable-net",
      "--allow-net",
      "--allow-ffi",
      new URL(import.meta.url).pathname,
      "--serve",
      "--io",
      o.io,
      "--host",
      o.host,
      "--batch",
      String(o.batch),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const line = await readUntil(reader, /\n/, "the echo server");
  try {
    return await load(o, JSON.parse(line).port, child.pid);
  } finally {
    await child.stdin.close();
    await reader.cancel();
    await child.status;
  }
}

/** Loads the echo server on `port`; reads the CPU time of `pid` when there is one. */
async function load(o: EchoOptions, port: number, pid: number | null): Promise<EchoResult> {
  const family = o.host.includes(":") ? 6 : 4;
  const client = new Reflector(family, o.host, port, o.window, Math.max(4, o.size));
  try {
    client.run(o.warmup * 1000, false);
    const s0 = pid === null ? NaN : await cpuSeconds(pid), c0 = await cpuSeconds(Deno.pid);
    const n0 = client.received, l0 = client.lost, t0 = performance.now();
    client.run(o.seconds * 1000, o.progress);
    const n1 = client.received, t1 = performance.now();
    const s1 = pid === null ? NaN : await cpuSeconds(pid), c1 = await cpuSeconds(Deno.pid);
    const packets = n1 - n0, secs = (t1 - t0) / 1000;
    return {
      io: o.port === undefined ? o.io : "external",
      host: o.host,
      size: o.size,
      packetsPerSecond: Math.round(packets / secs),
      serverCpuUsPerPacket: +((s1 - s0) * 1e6 / packets).toFixed(2),
      serverCores: +((s1 - s0) / secs).toFixed(2),
      clientCpuUsPerPacket: +((c1 - c0) * 1e6 / packets).toFixed(2),
      clientCores: +((c1 - c0) / secs).toFixed(2),
      lost: client.lost - l0,
    };
  } finally {
    client.close();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args.filter((a) => a !== "--"),
    options: {
      serve: { type: "boolean", default: false },
      io: { type: "string", default: "both" },
      host: { type: "string", default: "127.0.0.1" },
      seconds: { type: "string", default: "5" },
      warmup: { type: "string", default: "1" },
      window: { type: "string", default: "512" },
      size: { type: "string", default: "64" },
      batch: { type: "string", default: "64" },
      port: { type: "string" },
      pid: { type: "string" },
      quiet: { type: "boolean", default: false },
    },
  });
  if (values.serve) {
    await serve(values.io as "ffi" | "deno", values.host, Number(values.batch));
    Deno.exit(0);
  }
  // With --port there is one server to load, whatever --io says.
  const ios = values.io === "both" && values.port === undefined
    ? ["ffi", "deno"] as const
    : [values.io === "deno" ? "deno" as const : "ffi" as const];
  for (const io of ios) {
    if (!values.quiet) console.error(`${io} backend on ${values.host}:`);
    const r = await runEcho({
      io,
      host: values.host,
      seconds: Number(values.seconds),
      warmup: Number(values.warmup),
      window: Number(values.window),
      size: Number(values.size),
      batch: Number(values.batch),
      progress: !values.quiet,
      port: values.port === undefined ? undefined : Number(values.port),
      pid: values.pid === undefined ? undefined : Number(values.pid),
    });
    console.log(JSON.stringify(r));
  }
}
