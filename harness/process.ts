/**
 * Child processes for the harness: running a command to completion, reading a child's output
 * line by line, waiting until it says it is ready, and stopping it.
 *
 * @module
 */

/** Absolute path of the repository root, ending in `/`. */
export const ROOT: string = new URL("../", import.meta.url).pathname;
/** Where the harness keeps what it builds and installs (git ignores it). */
export const CACHE = `${ROOT}.cache/bench`;

/** Runs a command to completion and returns its stdout; throws with its stderr when it fails. */
export async function run(cmd: string, args: string[], cwd = ROOT): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
}

/** Calls `onLine` for each line of `stream` (the last one even without its newline). */
export async function forEachLine(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
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
}

/**
 * Reads `reader` until what it has read matches `re`; returns all of it. Throws when the stream
 * ends first, with `name` and what it had read.
 */
export async function readUntil(
  reader: ReadableStreamDefaultReader<string>,
  re: RegExp,
  name: string,
  text = "",
): Promise<string> {
  while (!re.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${name} ended early: ${text}`);
    text += value;
  }
  return text;
}

/** Sends SIGTERM, then SIGKILL if `child` has not exited after `killMs`; waits for the exit. */
export async function stopChild(child: Deno.ChildProcess, killMs = 3000): Promise<void> {
  const kill = (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch { /* gone */ }
  };
  kill("SIGTERM");
  const t = setTimeout(() => kill("SIGKILL"), killMs);
  await child.status;
  clearTimeout(t);
}

/**
 * Spawns `cmd` with its output piped and resolves once a stdout or stderr line matches `ready`.
 * Kills it and throws, with what it printed, when it exits first or takes over `timeoutMs`.
 */
export async function spawnReady(
  name: string,
  cmd: string,
  args: string[],
  ready: RegExp,
  opts: { cwd?: string; timeoutMs?: number } = {},
): Promise<{ child: Deno.ChildProcess; match: RegExpExecArray; output: string[] }> {
  const child = new Deno.Command(cmd, {
    args,
    cwd: opts.cwd ?? ROOT,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const output: string[] = [];
  let resolveMatch: (m: RegExpExecArray) => void;
  const matched = new Promise<RegExpExecArray>((r) => (resolveMatch = r));
  const onLine = (line: string) => {
    if (output.length < 200) output.push(line);
    const m = ready.exec(line);
    if (m) resolveMatch(m);
  };
  forEachLine(child.stdout, onLine);
  forEachLine(child.stderr, onLine);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((r) => {
    timer = setTimeout(() => r(null), opts.timeoutMs ?? 20000);
  });
  const exited = child.status.then(() => null);
  const m = await Promise.race([matched, timeout, exited]);
  clearTimeout(timer);
  if (m === null) {
    await stopChild(child, 0);
    throw new Error(`${name} did not start:\n${output.join("\n")}`);
  }
  return { child, match: m, output };
}

/** A port that was free for TCP and UDP a moment ago (for programs that cannot report theirs). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const u = Deno.listenDatagram({ hostname: "127.0.0.1", port, transport: "udp" });
  u.close();
  return port;
}
