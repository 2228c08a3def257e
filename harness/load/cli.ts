/**
 * The command line every TypeScript load generator shares: `--key value` options over its
 * defaults, `--help` listing them, one JSON result line on stdout; and running a generator as a
 * child process (so that its CPU is its own) and reading that line back.
 *
 * @module
 */

import { parseArgs } from "args";
import { cpuMicrosPer, type CpuUsage } from "../procstat.ts";

/**
 * What every load generator's result holds besides its own counts: the rate of what it counts
 * (responses, messages) and its own CPU per one, so that a row can tell generator from tracker.
 */
export interface LoadRate {
  /** Seconds measured. */
  seconds: number;
  /** Counted per second in the measured window. */
  perSecond: number;
  /** Counted over the whole run, warm-up included (for the tracker's CPU per response). */
  total: number;
  /** A few problems seen (failure reasons, bad replies), for the report. */
  problems: string[];
  /** The generator's own CPU (user + system) per counted one in the window, in µs. */
  generatorCpuMicros: number;
}

/**
 * The `LoadRate` of a run: `counted` in `seconds` of window, `total` in the whole run, and the
 * generator's CPU over the window (`process.cpuUsage()` at its start and end).
 */
export function loadRate(
  seconds: number,
  counted: number,
  total: number,
  cpu: [CpuUsage, CpuUsage],
  problems: string[],
): LoadRate {
  return {
    seconds,
    perSecond: Math.round(counted / seconds),
    total,
    problems,
    generatorCpuMicros: cpuMicrosPer(cpu[0], cpu[1], counted),
  };
}

/** Deno flags the TypeScript load generators run with. */
export const LOAD_FLAGS = ["run", "--allow-ffi", "--allow-net", "--allow-read"];

const flagOf = (key: string) => key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());

/** Parses `--key value` flags (`--flag`, `--no-flag` for booleans) over `defaults`. */
export function parseLoadArgs<T extends object>(args: string[], defaults: T): T {
  args = args.filter((a) => a !== "--"); // `deno task bench -- --compare` passes the "--"
  const options: Record<string, { type: "string" | "boolean" }> = {};
  for (const [k, v] of Object.entries(defaults)) {
    options[flagOf(k)] = { type: typeof v === "boolean" ? "boolean" : "string" };
  }
  const { values } = parseArgs(
    { args, options, allowNegative: true } as Parameters<typeof parseArgs>[0],
  );
  const out = { ...defaults } as Record<string, unknown>;
  for (const [flag, v] of Object.entries(values)) {
    const key = flag.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    const d = (defaults as Record<string, unknown>)[key];
    out[key] = typeof d === "number" ? Number(v) : v;
    if (typeof d === "number" && !Number.isFinite(out[key])) {
      throw new Error(`--${flag}: not a number`);
    }
  }
  return out as T;
}

/**
 * The main of a load generator: with `--help` prints `usage` and the options with their
 * defaults; else runs `load` with the options given and prints its result as one JSON line.
 */
export async function loadMain<T extends object>(
  usage: string,
  defaults: T,
  load: (o: T) => Promise<unknown>,
): Promise<never> {
  if (Deno.args.includes("--help")) {
    const lines = Object.entries(defaults).map(([k, v]) => `  --${flagOf(k)} ${v}`);
    console.log(`Usage: ${usage} [options]\n${lines.join("\n")}`);
    Deno.exit(0);
  }
  console.log(JSON.stringify(await load(parseLoadArgs(Deno.args, defaults))));
  Deno.exit(0);
}

/** Runs `cmd` with `args` (stderr passed through) and returns the JSON line it printed last. */
export async function jsonLineOf<T>(cmd: string, args: string[], name = cmd): Promise<T> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "inherit" }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) throw new Error(`${name} failed (exit ${out.code}): ${text}`);
  return JSON.parse(text.split("\n").pop()!) as T;
}

/** Runs the TypeScript load generator `script` (in this folder) with `args`; its result. */
export function runLoadScript<T>(script: string, args: string[]): Promise<T> {
  const path = new URL(script, import.meta.url).pathname;
  return jsonLineOf<T>(Deno.execPath(), [...LOAD_FLAGS, path, ...args], script);
}
