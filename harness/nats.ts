/**
 * A throwaway `nats-server` for tests and benches (Debian's package): JetStream on, its store in
 * a temporary folder, on 127.0.0.1 at a free port, optionally with a user and password. It runs
 * under `setpriv --pdeathsig` when that is there, so it dies with the test process even when
 * that is killed; `destroy()` stops it and removes the folder.
 *
 * @module
 */

/** A running (or stopped, restartable) NATS server. */
export interface NatsServer {
  /** `nats://127.0.0.1:<port>`. */
  readonly url: string;
  /** The TCP port, the same across `stop()` and `start()`. */
  readonly port: number;
  /** The server's process id while it runs (for its CPU time). */
  readonly pid: number;
  /** The monitoring endpoint (`/varz`: bytes and messages in and out), when asked for. */
  readonly monitorUrl: string | null;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s); JetStream's store is kept. */
  stop(): Promise<void>;
  /** Starts it again on the same port and store; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  destroy(): Promise<void>;
}

/** Whether `nats-server` is on the PATH. */
export function hasNatsServer(): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (dir && Deno.statSync(`${dir}/nats-server`).isFile) return true;
    } catch { /* not here */ }
  }
  return false;
}

/** A TCP port free on 127.0.0.1 now. */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Resolves once `port` accepts a TCP connection, or rejects after `ms`. */
async function waitAccepting(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`nats-server did not accept on ${port}: ${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * Starts a `nats-server` with JetStream; with `auth`, clients must give that user and
 * password; with `monitor`, it serves its monitoring endpoint on loopback; with `tls` (PEM
 * certificate and key files), clients must speak TLS. Resolves once it accepts connections.
 */
export async function startNats(
  auth?: { user: string; password: string } | null,
  monitor = false,
  tls?: { cert: string; key: string },
): Promise<NatsServer> {
  const dir = await Deno.makeTempDir({ prefix: "shoal-nats-" });
  const port = freePort();
  const monitorPort = monitor ? freePort() : 0;
  const conf = [
    `listen: "127.0.0.1:${port}"`,
    `jetstream { store_dir: "${dir}/js" }`,
    auth ? `authorization { user: "${auth.user}", password: "${auth.password}" }` : "",
    monitor ? `http: "127.0.0.1:${monitorPort}"` : "",
    tls ? `tls { cert_file: "${tls.cert}", key_file: "${tls.key}" }` : "",
  ].join("\n");
  await Deno.writeTextFile(`${dir}/nats.conf`, conf);
  let setpriv = false;
  try {
    setpriv = Deno.statSync("/usr/bin/setpriv").isFile;
  } catch { /* absent: the server may outlive a killed test process */ }
  let child: Deno.ChildProcess | null = null;
  const start = async () => {
    const args = ["-c", `${dir}/nats.conf`];
    const [cmd, all] = setpriv
      ? ["setpriv", ["--pdeathsig=SIGKILL", "nats-server", ...args]]
      : ["nats-server", args];
    child = new Deno.Command(cmd, { args: all, stdin: "null", stdout: "null", stderr: "null" })
      .spawn();
    await waitAccepting(port, 10_000);
  };
  const stop = async () => {
    const c = child;
    if (c === null) return;
    child = null;
    try {
      c.kill("SIGTERM");
    } catch { /* gone already */ }
    const timer = setTimeout(() => {
      try {
        c.kill("SIGKILL");
      } catch { /* gone */ }
    }, 5000);
    await c.status;
    clearTimeout(timer);
  };
  await start();
  return {
    url: tls ? `tls://127.0.0.1:${port}` : `nats://127.0.0.1:${port}`,
    port,
    get pid() {
      return (child as Deno.ChildProcess | null)?.pid ?? 0;
    },
    monitorUrl: monitor ? `http://127.0.0.1:${monitorPort}` : null,
    stop,
    start,
    destroy: async () => {
      await stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
