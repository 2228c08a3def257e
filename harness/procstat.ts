/**
 * CPU time and resident memory of a process, read from `/proc` (Linux). Deno opens `/proc`
 * files only with `--allow-all`, so they are read with `cat` (`--allow-run`).
 *
 * @module
 */

/** Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ, 100 on Linux). */
const TICKS = 100;

async function proc(pid: number, file: string): Promise<string> {
  const out = await new Deno.Command("cat", {
    args: [`/proc/${pid}/${file}`],
    stdout: "piped",
    stderr: "null",
  })
    .output();
  if (!out.success) throw new Error(`cannot read /proc/${pid}/${file}`);
  return new TextDecoder().decode(out.stdout);
}

/** CPU seconds (user + system) the process `pid` has used, threads included. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await proc(pid, "stat");
  // The command name may hold spaces: fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** Resident memory of the process `pid`, in bytes (VmRSS). */
export async function rssBytes(pid: number): Promise<number> {
  const m = /VmRSS:\s+(\d+) kB/.exec(await proc(pid, "status"));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

/** A process's CPU use as `process.cpuUsage()` gives it, in µs. */
export interface CpuUsage {
  /** User CPU µs. */
  user: number;
  /** System CPU µs. */
  system: number;
}

/** CPU µs (user + system) from `from` to `to` (two `process.cpuUsage()`s) per one of `count`. */
export function cpuMicrosPer(from: CpuUsage, to: CpuUsage, count: number): number {
  return (to.user - from.user + to.system - from.system) / Math.max(1, count);
}
