/**
 * The real `shoal` program as a child process: its config written from the parts that differ,
 * started, its `listening on` lines read, its output watched, and stopped. Tests and the bench
 * both start shoal this way.
 *
 * @module
 */

import { stringify } from "toml";
import { forEachLine, ROOT } from "./process.ts";

export { ROOT };

/** Flags shoal runs with: those of the `run-udp` task, plus writing (state files). */
export const RUN_FLAGS = [
  "--unstable-net",
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-ffi",
  "--allow-env",
];

/** A value of a config key; `undefined` leaves the key out, default included. */
export type ConfigValue = string | number | boolean | undefined;

/**
 * What a config differs in from `BASE_CONFIG`: top-level keys, and sections (`network`,
 * `limits`, …) whose keys go over the base's.
 */
export type ConfigParts = Record<string, ConfigValue | Record<string, ConfigValue>>;

/**
 * What every config starts from: IPv4 loopback on a port the kernel picks (the tracker reports
 * it), and no statistics lines in the output.
 */
export const BASE_CONFIG: ConfigParts = {
  network: { address: "127.0.0.1:0" },
  statistics: { interval: 0 },
};

/** The metrics endpoint on loopback, on a port the kernel picks: `{ metrics: METRICS }`. */
export const METRICS = {
  run_prometheus_endpoint: true,
  prometheus_endpoint_address: "127.0.0.1:0",
};

/** The TOML of `BASE_CONFIG` with `parts` over it. */
export function configToml(parts: ConfigParts = {}): string {
  const doc: Record<string, unknown> = {};
  const put = (into: Record<string, unknown>, from: Record<string, ConfigValue>) => {
    for (const [k, v] of Object.entries(from)) {
      if (v === undefined) delete into[k];
      else into[k] = v;
    }
  };
  for (const source of [BASE_CONFIG, parts]) {
    for (const [key, value] of Object.entries(source)) {
      if (typeof value === "object") {
        const section = (doc[key] ??= {}) as Record<string, unknown>;
        put(section, value);
      } else put(doc, { [key]: value });
    }
  }
  return stringify(doc);
}

const written: string[] = [];
// Configs go when the process that wrote them ends, whatever happened to it before.
globalThis.addEventListener("unload", () => {
  for (const p of written) {
    try {
      Deno.removeSync(p);
    } catch { /* removed already */ }
  }
});

/** Writes `toml` to a temporary file (removed when this process ends) and returns its path. */
export async function writeConfig(toml: string): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "shoal-", suffix: ".toml" });
  written.push(path);
  await Deno.writeTextFile(path, toml);
  return path;
}

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
  /** Resolves to the first line matching `re` once one appears (or rejects after `ms`). */
  waitFor(re: RegExp, ms?: number): Promise<string>;
  /** Sends SIGTERM, waits for exit and returns the exit code. */
  stop(): Promise<number>;
}

const LISTEN_RE = /listening on (udp|ws|wss|https?):\/\/(\[[^\]]+\]|[^:\s]+):(\d+)( \(metrics\))?/;

/**
 * Starts `shoal <args>` (with `env` added to the environment, under the command `prefix`, e.g.
 * `prlimit --nofile=300 --`, and with `denoFlags` before the script) and resolves once it has
 * printed `expectListening` listening lines. Rejects (and kills the child) if it exits first or
 * takes longer than `ms`.
 */
export async function startShoal(
  args: string[],
  expectListening: number,
  ms = 15000,
  env: Record<string, string> = {},
  prefix: string[] = [],
  denoFlags: string[] = [],
): Promise<RunningShoal> {
  const deno = [Deno.execPath(), "run", ...RUN_FLAGS, ...denoFlags, `${ROOT}main.ts`, ...args];
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
  const pumps = Promise.all([forEachLine(child.stdout, onLine), forEachLine(child.stderr, onLine)]);
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

/** What `startShoalWith` passes on to `startShoal`. */
export interface StartOptions {
  /** Environment variables added (`SHOAL_FAULT`, `LD_PRELOAD`). */
  env?: Record<string, string>;
  /** A command to run shoal under, e.g. `prlimit --nofile=300 --`. */
  prefix?: string[];
  /** Deno flags before the script, e.g. `--v8-flags=--expose-gc`. */
  denoFlags?: string[];
}

/**
 * Writes `parts` as a config (`configToml`) and starts `shoal <protocol> -c` it; resolves once
 * it printed `expectListening` listening lines (the metrics endpoint's counts).
 */
export async function startShoalWith(
  protocol: "udp" | "ws" | "http",
  parts: ConfigParts = {},
  expectListening = 1,
  opts: StartOptions = {},
): Promise<RunningShoal> {
  const file = await writeConfig(configToml(parts));
  return await startShoal(
    [protocol, "-c", file],
    expectListening,
    15000,
    opts.env,
    opts.prefix,
    opts.denoFlags,
  );
}
