/**
 * The layout holds (README, architecture; `shared/README.md`): inside `shared/`, a layer imports
 * only from layers below it; `shared/` imports nothing above it; the BitTorrent core (`core/`)
 * imports only `shared/`; a protocol (`udp/`, `http/`, `ws/`) imports `shared/`, `core/` and
 * itself, never another protocol, whether statically, dynamically or as a worker URL; private
 * tracking's main-thread side (`private/`) and a cluster node's (`cluster/`) each import only
 * `shared/` and itself, and only `main.ts` imports them; and no
 * import circle runs through any of the program's modules. Only `main.ts` composes protocols.
 *
 * Around the program (`bench/README.md`): tests and the bench share what starts and measures
 * real trackers through `harness/`, which imports neither of them; no test imports `bench/`,
 * nothing outside `tests/` imports `tests/`, and no import circle runs anywhere in the
 * repository.
 */
import assert from "assert";

const ROOT = new URL("../..", import.meta.url).pathname;
/** Rank of each layer: a module may import its own layer's modules and lower ranks only. */
const RANK: Record<string, number> = {
  base: 0,
  store: 1,
  net: 1,
  config: 2,
  observe: 3,
  runtime: 4,
};
const PROTOCOLS = ["udp", "ws", "http"];
const PROGRAM = ["main.ts", "shared", "core", ...PROTOCOLS, "private", "cluster"];
/** Folders that hold no code of the repository's own: installed, built or cached. */
const NOT_OURS = new Set([".git", ".cache", "node_modules", "dist"]);

async function* sources(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(`${ROOT}${dir}`)) {
    const path = dir === "" ? e.name : `${dir}/${e.name}`;
    if (e.isDirectory) {
      if (!NOT_OURS.has(e.name)) yield* sources(path);
    } else if (e.name.endsWith(".ts")) yield path;
  }
}

/** Relative imports of `file` (repository paths), static and dynamic, and worker URLs. */
async function importsOf(file: string): Promise<string[]> {
  const text = await Deno.readTextFile(`${ROOT}${file}`);
  const out: string[] = [];
  const re = /(?:from\s+|import\s*\(\s*|new URL\(\s*)["'](\.{1,2}\/[^"']+)["']/g;
  for (const m of text.matchAll(re)) {
    const url = new URL(m[1], `file://${ROOT}${file}`);
    out.push(url.pathname.slice(ROOT.length));
  }
  return out;
}

async function program(): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for (const top of PROGRAM) {
    if (top.endsWith(".ts")) graph.set(top, await importsOf(top));
    else for await (const f of sources(top)) graph.set(f, await importsOf(f));
  }
  return graph;
}

/** Every TypeScript file of the repository (program, tests, bench, harness, packaging). */
async function repository(): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for await (const f of sources("")) graph.set(f, await importsOf(f));
  return graph;
}

/** The import circles of `graph`, each as `a -> b -> a`. */
function circles(graph: Map<string, string[]>): string[] {
  const state = new Map<string, number>(); // 1 visiting, 2 done
  const found: string[] = [];
  const visit = (f: string, path: string[]) => {
    state.set(f, 1);
    for (const t of graph.get(f) ?? []) {
      if (state.get(t) === 1) found.push([...path.slice(path.indexOf(t)), t].join(" -> "));
      else if (state.get(t) === undefined && graph.has(t)) visit(t, [...path, t]);
    }
    state.set(f, 2);
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f, [f]);
  return found;
}

/** The imports in `graph` from files under `from` to files under `to` (top-level folders). */
function crossing(graph: Map<string, string[]>, from: (top: string) => boolean, to: string) {
  const bad: string[] = [];
  for (const [file, imports] of graph) {
    if (!from(file.split("/")[0])) continue;
    for (const target of imports) if (target.split("/")[0] === to) bad.push(`${file} -> ${target}`);
  }
  return bad;
}

Deno.test("layers: shared/ modules import only their own or lower layers, never a protocol", async () => {
  const graph = await program();
  const bad: string[] = [];
  for (const [file, imports] of graph) {
    if (!file.startsWith("shared/")) continue;
    const layer = file.split("/")[1];
    assert.ok(layer in RANK, `${file} is not in a known layer`);
    for (const target of imports) {
      const [top, tlayer] = target.split("/");
      if (!target.endsWith(".ts")) continue; // data, such as deno.json for the version
      if (top !== "shared") bad.push(`${file} -> ${target} (a protocol or tool)`);
      else if (tlayer !== layer && !(RANK[tlayer] < RANK[layer])) {
        bad.push(`${file} (${layer}) -> ${target} (${tlayer})`);
      }
    }
  }
  assert.deepEqual(bad, []);
});

Deno.test("layers: core/ imports only shared/ and itself", async () => {
  const graph = await program();
  const bad: string[] = [];
  for (const [file, imports] of graph) {
    if (!file.startsWith("core/")) continue;
    for (const target of imports) {
      const top = target.split("/")[0];
      if (top !== "core" && top !== "shared") bad.push(`${file} -> ${target}`);
    }
  }
  assert.deepEqual(bad, []);
});

Deno.test("layers: no protocol imports another (statically, dynamically, or as a worker URL)", async () => {
  const graph = await program();
  const bad: string[] = [];
  for (const [file, imports] of graph) {
    const top = file.split("/")[0];
    if (!PROTOCOLS.includes(top)) continue;
    for (const target of imports) {
      const to = target.split("/")[0];
      if (to !== top && to !== "shared" && to !== "core") bad.push(`${file} -> ${target}`);
    }
  }
  assert.deepEqual(bad, []);
});

for (const side of ["private", "cluster"]) {
  Deno.test(`layers: ${side}/ imports only shared/ and itself, and only main.ts imports it`, async () => {
    const graph = await program();
    const bad: string[] = [];
    for (const [file, imports] of graph) {
      const top = file.split("/")[0];
      for (const target of imports) {
        const to = target.split("/")[0];
        if (top === side && to !== side && to !== "shared") bad.push(`${file} -> ${target}`);
        if (to === side && top !== side && file !== "main.ts") bad.push(`${file} -> ${target}`);
      }
    }
    assert.deepEqual(bad, []);
  });
}

Deno.test("layers: no import circles among the program's modules", async () => {
  assert.deepEqual(circles(await program()), []);
});

Deno.test("layers: no import circle anywhere (program, tests, bench, harness, packaging)", async () => {
  const graph = await repository();
  for (const top of ["tests", "bench", "harness", "packaging"]) {
    assert.ok([...graph.keys()].some((f) => f.startsWith(`${top}/`)), `no ${top}/ files read`);
  }
  assert.deepEqual(circles(graph), []);
});

Deno.test("layers: no file under tests/ imports bench/", async () => {
  assert.deepEqual(crossing(await repository(), (top) => top === "tests", "bench"), []);
});

Deno.test("layers: nothing outside tests/ imports tests/", async () => {
  assert.deepEqual(crossing(await repository(), (top) => top !== "tests", "tests"), []);
});

Deno.test("layers: harness/ imports neither bench/ nor tests/", async () => {
  const graph = await repository();
  const harness = (top: string) => top === "harness";
  assert.deepEqual(
    [...crossing(graph, harness, "bench"), ...crossing(graph, harness, "tests")],
    [],
  );
});
