/**
 * A throwaway PostgreSQL server for tests, from the distribution's binaries (Debian's
 * `/usr/lib/postgresql/<version>/bin`, or `initdb` on the PATH): its own cluster in a temporary
 * folder, trust authentication for user `shoal`, TCP on 127.0.0.1 at a free port, and its unix
 * socket in that folder, so it meets no other server. PostgreSQL refuses to run as root: then
 * the folder belongs to the `postgres` system user and the server runs as it.
 *
 * The server is this process's child, started with a parent-death signal (`setpriv
 * --pdeathsig`): it stops when the test process dies, even killed; when the process ends
 * normally with a cluster not destroyed, its `unload` handler stops it and removes the folder.
 *
 * @module
 */

import { forEachLine } from "./process.ts";

/** The user every throwaway cluster has, with no password (trust authentication). */
export const PG_USER = "shoal";

/** A running throwaway cluster. */
export interface PgCluster {
  /** URL of the database created with the cluster: `postgres://shoal@127.0.0.1:<port>/shoal`. */
  readonly url: string;
  /** The TCP port, the same across `stop()` and `start()`. */
  readonly port: number;
  /** Creates another database (a name of `a–z 0–9 _`) and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server with a fast shutdown (clients disconnected, data kept). */
  stop(): Promise<void>;
  /** Starts the stopped server again, on the same port and data; resolves once it accepts. */
  start(): Promise<void>;
  /** Stops the server and removes its folder. */
  destroy(): Promise<void>;
}

/** The folder holding `initdb`, `postgres`, `pg_isready` and `createdb`, or null when none is found. */
export function postgresBinDir(): string | null {
  const has = (dir: string) =>
    ["initdb", "postgres", "pg_isready", "createdb"].every((b) => {
      try {
        return Deno.statSync(`${dir}/${b}`).isFile;
      } catch {
        return false;
      }
    });
  const versions: number[] = [];
  try {
    for (const e of Deno.readDirSync("/usr/lib/postgresql")) {
      if (/^\d+$/.test(e.name)) versions.push(Number(e.name));
    }
  } catch { /* not Debian's layout */ }
  for (const v of versions.sort((a, b) => b - a)) {
    if (has(`/usr/lib/postgresql/${v}/bin`)) return `/usr/lib/postgresql/${v}/bin`;
  }
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir && has(dir)) return dir;
  }
  return null;
}

/** Whether PostgreSQL's server binaries are installed (a test may skip, saying so, when not). */
export function postgresInstalled(): boolean {
  return postgresBinDir() !== null;
}

/** Runs a command to completion; throws with its output when it fails. */
async function exec(cmd: string, args: string[], env?: Record<string, string>): Promise<void> {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
    throw new Error(`${cmd} ${args.join(" ")} failed:\n${text}`);
  }
}

/** A port that was free a moment ago. */
function freeTcpPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function hasSetpriv(): boolean {
  try {
    return Deno.statSync("/usr/bin/setpriv").isFile;
  } catch {
    return false;
  }
}

/**
 * Creates a cluster in a new temporary folder, starts it and creates database `shoal`.
 * Throws when PostgreSQL is not installed (see `postgresInstalled`) or does not start in 30 s.
 */
export async function startPostgres(): Promise<PgCluster> {
  const bin = postgresBinDir();
  if (!bin) {
    throw new Error("PostgreSQL is not installed (no initdb, postgres, pg_isready, createdb)");
  }
  const root = Deno.uid() === 0;
  const setpriv = hasSetpriv();
  if (root && !setpriv) throw new Error("running as root needs setpriv to run PostgreSQL");
  const dir = await Deno.makeTempDir({ prefix: "shoal-pg-" });
  const data = `${dir}/data`;
  const port = freeTcpPort();
  /** The command line of `cmd`, as the `postgres` user when root. */
  const as = (cmd: string, args: string[], pdeathsig = false): [string, string[]] => {
    if (!setpriv) return [cmd, args];
    const opts = root ? ["--reuid=postgres", "--regid=postgres", "--init-groups"] : [];
    // Set after the user change, which would clear it; SIGQUIT is an immediate shutdown.
    if (pdeathsig) opts.push("--pdeathsig=SIGQUIT");
    return ["setpriv", [...opts, cmd, ...args]];
  };
  let child: Deno.ChildProcess | null = null;
  let stderrDone: Promise<void> = Promise.resolve();
  const log: string[] = [];
  const unload = () => {
    try {
      child?.kill("SIGQUIT");
    } catch { /* exited */ }
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* the server may still hold files: best effort */ }
  };
  globalThis.addEventListener("unload", unload);

  const start = async () => {
    if (child) throw new Error("the PostgreSQL server is running already");
    const [cmd, args] = as(`${bin}/postgres`, [
      ...["-D", data, "-p", String(port), "-c", "listen_addresses=127.0.0.1"],
      ...["-c", `unix_socket_directories=${dir}`, "-c", "max_connections=40"],
      // Throwaway data: no need to wait for the disk.
      ...["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
    ], true);
    log.length = 0;
    const c = new Deno.Command(cmd, { args, stdin: "null", stdout: "null", stderr: "piped" })
      .spawn();
    child = c;
    stderrDone = forEachLine(c.stderr, (line) => {
      log.push(line);
      if (log.length > 100) log.shift();
    }).catch(() => {});
    let exited = false;
    c.status.then(() => (exited = true));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ready = await new Deno.Command(`${bin}/pg_isready`, {
        args: ["-q", "-h", "127.0.0.1", "-p", String(port), "-U", PG_USER, "-d", "postgres"],
        stdout: "null",
        stderr: "null",
      }).output();
      if (ready.success) return;
      if (exited || Date.now() > deadline) {
        await stop();
        throw new Error(`PostgreSQL did not start on port ${port}:\n${log.join("\n")}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const stop = async () => {
    const c = child;
    if (!c) return;
    child = null;
    // SIGINT is a fast shutdown: sessions end, the data is checkpointed; SIGQUIT if it hangs.
    try {
      c.kill("SIGINT");
    } catch { /* exited */ }
    const late = setTimeout(() => {
      try {
        c.kill("SIGQUIT");
      } catch { /* exited */ }
    }, 10_000);
    await c.status;
    clearTimeout(late);
    await stderrDone;
  };

  try {
    if (root) {
      const id = async (flag: string) =>
        Number(
          new TextDecoder().decode(
            (await new Deno.Command("id", { args: [flag, "postgres"], stdout: "piped" }).output())
              .stdout,
          ),
        );
      await Deno.chown(dir, await id("-u"), await id("-g"));
    }
    const [cmd, args] = as(`${bin}/initdb`, [
      ...["-D", data, "-A", "trust", "-U", PG_USER, "-E", "UTF8", "--locale=C", "--no-sync"],
    ]);
    await exec(cmd, args);
    await start();
    await exec(`${bin}/createdb`, ["-h", "127.0.0.1", "-p", String(port), "-U", PG_USER, PG_USER]);
  } catch (e) {
    await stop();
    globalThis.removeEventListener("unload", unload);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw e;
  }

  return {
    url: `postgres://${PG_USER}@127.0.0.1:${port}/${PG_USER}`,
    port,
    async createDatabase(name: string) {
      if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`not a plain database name: ${name}`);
      await exec(`${bin}/createdb`, ["-h", "127.0.0.1", "-p", String(port), "-U", PG_USER, name]);
      return `postgres://${PG_USER}@127.0.0.1:${port}/${name}`;
    },
    stop,
    start,
    async destroy() {
      await stop();
      globalThis.removeEventListener("unload", unload);
      await Deno.remove(dir, { recursive: true });
    },
  };
}
