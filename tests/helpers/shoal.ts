/**
 * The real `shoal` program for tests: its config written from what a test changes, started (as
 * `harness/shoal.ts` starts it for the bench too) or run to completion, and the tests that run
 * it declared.
 *
 * @module
 */

import assert from "assert";
import { parseMetrics } from "../../shared/observe/prometheus.ts";
import {
  type ConfigParts,
  configToml,
  type Listening,
  ROOT,
  RUN_FLAGS,
  type RunningShoal,
  writeConfig,
} from "../../harness/shoal.ts";

export * from "../../harness/shoal.ts";

/**
 * Writes a config with `parts` over the base every test starts from (IPv4 loopback on a port
 * the kernel picks, no statistics lines; `harness/shoal.ts`) and returns its path, removed when
 * the test process ends. `{ network: { use_ipv6: false }, metrics: METRICS }` adds to the base;
 * a key set to `undefined` leaves it out.
 */
export function testConfig(parts: ConfigParts = {}): Promise<string> {
  return writeConfig(configToml(parts));
}

/** The tracker's listening line (not the metrics endpoint's) on IPv`family`. */
export function listeningOn(s: RunningShoal, family: 4 | 6): Listening {
  const l = s.listening.find((x) => !x.metrics && x.hostname.includes(":") === (family === 6));
  assert.ok(l, `no IPv${family} listening line in ${s.output.join("\n")}`);
  return l;
}

/** `scheme://host:port/` of the tracker's first listening line that is not the metrics endpoint. */
export function trackerUrl(s: RunningShoal): string {
  const l = s.listening.find((x) => !x.metrics)!;
  const host = l.hostname.includes(":") ? `[${l.hostname}]` : l.hostname;
  return `${l.scheme}://${host}:${l.port}/`;
}

/** The text of the tracker's `/metrics` (the endpoint must be on: `metrics: METRICS`). */
export async function metricsText(s: RunningShoal): Promise<string> {
  const l = s.listening.find((x) => x.metrics);
  assert.ok(l, `no metrics listening line: ${s.output.join("\n")}`);
  return await (await fetch(`http://${l.hostname}:${l.port}/metrics`)).text();
}

/** The tracker's `/metrics`, parsed: series (name and labels) to value. */
export async function metricsOf(s: RunningShoal): Promise<Map<string, number>> {
  return parseMetrics(await metricsText(s));
}

/**
 * Runs `shoal` with `args` to completion and returns its exit code and output; one that has
 * not ended after `ms` (say, a tracker that started where it should have refused) is killed.
 */
export async function runShoal(args: string[], ms = 60_000): Promise<Ran> {
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

/** The outcome of a `shoal` run to completion. */
export interface Ran {
  /** Exit status. */
  code: number;
  /** What it printed on stdout. */
  stdout: string;
  /** What it printed on stderr. */
  stderr: string;
}

/**
 * Runs `shoal <protocol> -c` a config to completion: `config` written as it is (TOML), or as
 * parts over the base (`testConfig`).
 */
export async function runWithConfig(
  protocol: string,
  config: string | ConfigParts,
  ms?: number,
): Promise<Ran> {
  const toml = typeof config === "string" ? config : configToml(config);
  return await runShoal([protocol, "-c", await writeConfig(toml)], ms);
}

/** Asserts that shoal refused to start: exit status 2 and one line on stderr, matching `re`. */
export function assertRefused(r: Ran, re: RegExp): void {
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, re);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
}

/**
 * A test that runs other processes (shoal, load generators, clients) or holds sockets across
 * its steps: Deno's resource and op sanitizers are off, since a child's pipes, a socket a
 * client closes as the test ends, or a timer racing a reply would be reported as leaks the
 * test did not make.
 */
export function processTest(
  name: string,
  fn: (t: Deno.TestContext) => Promise<void>,
  options: { ignore?: boolean } = {},
): void {
  Deno.test({ name, ...options, sanitizeResources: false, sanitizeOps: false, fn });
}
