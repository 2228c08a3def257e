/**
 * What the single binary needs, checked where `deno compile` cannot run (it downloads its
 * runtime): every worker module is started from a static URL and listed in the compile
 * includes, the baked-in flags match the run tasks, and the compile task prints a command per
 * target.
 */
import assert from "assert";
import { ROOT } from "./helpers/shoal.ts";
import { compileArgs, RUNTIME_FLAGS, TARGETS, WORKER_MODULES } from "../packaging/compile.ts";

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${ROOT}${dir}`)) {
    if (e.isFile && e.name.endsWith(".ts")) out.push(`${dir}/${e.name}`);
  }
  return out;
}

Deno.test("every worker module is started from a static URL and included in the binary", async () => {
  const files = [
    ...await sources("udp"),
    ...await sources("ws"),
    ...await sources("http"),
    ...await sources("core"),
    ...await sources("shared"),
    "main.ts",
  ];
  const started = new Set<string>();
  for (const f of files) {
    const text = await Deno.readTextFile(`${ROOT}${f}`);
    for (const m of text.matchAll(/new URL\(([^,)]*),\s*import\.meta\.url\)/g)) {
      const lit = /^"(\.{1,2}\/[\w./-]+\.ts)"$/.exec(m[1].trim());
      assert.ok(lit, `${f}: a module URL that is not a string literal: ${m[0]}`);
      const resolved = new URL(lit[1], `file://${ROOT}${f}`).pathname.slice(ROOT.length);
      await Deno.stat(`${ROOT}${resolved}`);
      started.add(resolved);
    }
    // Workers are only created in shared/runtime/pool.ts, from those URLs.
    if (f !== "shared/runtime/pool.ts") {
      assert.doesNotMatch(text, /new Worker\(/, `${f} creates a worker`);
    }
  }
  assert.deepEqual([...started].sort(), [...WORKER_MODULES].sort());
});

Deno.test("the binary gets the run tasks' flags; the compile task covers every target", async () => {
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks;
  for (const task of ["run-udp", "run-ws", "run-http"]) {
    for (const flag of tasks[task].split(" ").filter((x: string) => x.startsWith("--"))) {
      assert.ok(RUNTIME_FLAGS.includes(flag), `${task} uses ${flag}, the binary does not`);
    }
  }
  assert.match(tasks.compile, /packaging\/compile\.ts$/);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "compile", "--all", "--dry-run"],
    cwd: ROOT,
    stdout: "piped",
  }).output();
  assert.ok(out.success);
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  assert.equal(lines.length, TARGETS.length);
  TARGETS.forEach((t, i) => {
    assert.equal(lines[i], `deno ${compileArgs(t).join(" ")}`);
    for (const m of WORKER_MODULES) assert.ok(lines[i].includes(`--include ${m}`));
    assert.ok(
      lines[i].endsWith(t.includes("windows") ? `shoal-${t}.exe main.ts` : `shoal-${t} main.ts`),
    );
  });
});
