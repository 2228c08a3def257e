/**
 * `deno task compile`: builds the single `shoal` binary with `deno compile`, worker modules
 * included and the permission and unstable flags baked in. `-- --all` builds every release
 * target; `-- --dry-run` prints the commands instead of running them.
 *
 * `deno compile` downloads its runtime (`denort`) for each target, so it needs access to
 * dl.deno.land; CI checks the commands and the worker list instead (tests/compile_test.ts).
 *
 * @module
 */

/** Release targets. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

/**
 * Modules started as workers (`new Worker(new URL(..., import.meta.url))`): a compiled binary
 * holds only the module graph of `main.ts` plus what is included, so each must be listed.
 */
export const WORKER_MODULES = [
  "udp/socket_worker.ts",
  "core/request_worker.ts",
  "ws/socket_worker.ts",
  "ws/request_worker.ts",
  "http/socket_worker.ts",
];

/** What the binary may do: the same as `deno task run-udp` / `run-ws`. */
export const RUNTIME_FLAGS = [
  "--unstable-net",
  "--allow-net",
  "--allow-read",
  "--allow-write", // the state file
  "--allow-ffi",
  "--allow-env",
];

/** The `deno compile` arguments for `target` (null: this machine). */
export function compileArgs(target: string | null): string[] {
  const exe = target?.includes("windows") ? ".exe" : "";
  return [
    "compile",
    ...RUNTIME_FLAGS,
    ...WORKER_MODULES.flatMap((m) => ["--include", m]),
    ...(target ? ["--target", target] : []),
    "--output",
    `dist/shoal${target ? `-${target}` : ""}${exe}`,
    "main.ts",
  ];
}

if (import.meta.main) {
  const all = Deno.args.includes("--all"), dry = Deno.args.includes("--dry-run");
  const root = new URL("../", import.meta.url).pathname;
  for (const target of all ? TARGETS : [null]) {
    const args = compileArgs(target);
    console.log(`deno ${args.join(" ")}`);
    if (dry) continue;
    const status = await new Deno.Command(Deno.execPath(), { args, cwd: root }).spawn().status;
    if (!status.success) Deno.exit(status.code || 1);
  }
}
