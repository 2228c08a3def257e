/**
 * Starts the real `shoal` program as a child process for tests, and stops it.
 *
 * @module
 */

/** Absolute path of the repository root. */
export const ROOT = new URL("../..", import.meta.url).pathname;

/** Flags the tests run `shoal` with: the same the `run-udp` task uses, plus reading the temp dir. */
export const RUN_FLAGS = [
  "--unstable-net",
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-ffi",
  "--allow-env",
];

/** A bound address the tracker reported on stdout. */
export interface Listening {
  /** `udp`, `ws`/`wss`, `http`/`https` (the metrics endpoint is `http` too). */
  scheme: string;
  /** IP address without brackets, e.g. `127.0.0.1` or `::1`. */
  hostname: string;
  /** Bound port. */
  port: number;
  /** True for the metrics endpoint's line. */
  metrics: boolean;
}

/** A running tracker process. */
export interface RunningShoal {
  /** The child process. */
  child: Deno.ChildProcess;
  /** Addresses from the `listening on` lines. */
  listening: Listening[];
  /** Every stdout/stderr line seen so far. */
  output: string[];
  /** Resolves to lines matching `re` once one appears (or rejects after `ms`). */
  waitFor(re: RegExp, ms?: number): Promise<string>;
  /** Sends SIGTERM, waits for exit and returns the exit code. */
  stop(): Promise<number>;
}

const LISTEN_RE = /listening on (udp|ws|wss|https?):\/\/(\[[^\]]+\]|[^:\s]+):(\d+)( \(metrics\))?/;

const written: string[] = [];
// The test files' configs go when their test process ends, whatever the tests did with them.
globalThis.addEventListener("unload", () => {
  for (const p of written) {
    try {
      Deno.removeSync(p);
    } catch { /* removed by its test */ }
  }
});

/** Writes `toml` to a temp file (removed when the test process ends) and returns its path. */
export async function writeConfig(toml: string): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "shoal-test-", suffix: ".toml" });
  written.push(path);
  await Deno.writeTextFile(path, toml);
  return path;
}

/**
 * Runs `shoal` with `args` to completion and returns its exit code and output; one that has
 * not ended after `ms` (say, a tracker that started where it should have refused) is killed.
 */
export async function runShoal(
  args: string[],
  ms = 60_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...RUN_FLAGS, `${ROOT}main.ts`, ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), ms);
  const out = await child.output().finally(() => clearTimeout(timer));
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * Starts `shoal <args>` (with `env` added to the environment, and under the command `prefix`,
 * e.g. `prlimit --nofile=300 --`, when given) and resolves once it has printed
 * `expectListening` listening lines. Rejects (and kills the child) if it exits first or takes
 * longer than `ms`.
 */
export async function startShoal(
  args: string[],
  expectListening: number,
  ms = 15000,
  env: Record<string, string> = {},
  prefix: string[] = [],
): Promise<RunningShoal> {
  const deno = [Deno.execPath(), "run", ...RUN_FLAGS, `${ROOT}main.ts`, ...args];
  const command = [...prefix, ...deno];
  const child = new Deno.Command(command[0], {
    args: command.slice(1),
    env,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const output: string[] = [];
  const listening: Listening[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  let exited = false;
  const onLine = (line: string) => {
    output.push(line);
    const m = LISTEN_RE.exec(line);
    if (m) {
      listening.push({
        scheme: m[1],
        hostname: m[2].replace(/^\[|\]$/g, ""),
        port: +m[3],
        metrics: m[4] !== undefined,
      });
    }
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i].re.test(line)) {
        waiters[i].resolve(line);
        waiters.splice(i, 1);
      }
    }
  };
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    let buf = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        onLine(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    }
    if (buf) onLine(buf);
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });

  const waitFor = (re: RegExp, waitMs = 10000): Promise<string> => {
    const seen = output.find((l) => re.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = waiters.findIndex((w) => w.resolve === done);
        if (i >= 0) waiters.splice(i, 1);
        reject(new Error(`timed out waiting for ${re}; output:\n${output.join("\n")}`));
      }, waitMs);
      const done = (line: string) => {
        clearTimeout(timer);
        resolve(line);
      };
      waiters.push({ re, resolve: done });
    });
  };

  const stop = async (): Promise<number> => {
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
    }
    const s = await status;
    await pumps;
    return s.code;
  };

  const deadline = Date.now() + ms;
  while (listening.length < expectListening) {
    if (exited || Date.now() > deadline) {
      if (!exited) child.kill("SIGKILL");
      await status;
      await pumps;
      throw new Error(
        `shoal ${args.join(" ")} did not start (${listening.length}/${expectListening} ` +
          `listening lines); output:\n${output.join("\n")}`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { child, listening, output, waitFor, stop };
}
