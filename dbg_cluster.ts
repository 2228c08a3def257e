import { startNats } from "./harness/nats.ts";
import { cpuSeconds } from "./harness/procstat.ts";
import { startShoalWith } from "./harness/shoal.ts";
const n = Number(Deno.args[0] ?? 3);
const prof = Deno.args[1] === "prof";
const nats = await startNats(null, true);
const nodes: { pid: number; udpPort: number; stop: () => Promise<number> }[] = [];
for (let k = 0; k < n; k++) {
  const cluster = n > 1
    ? {
      enabled: true,
      servers: nats.url,
      name: "bench",
      node: `node${k}`,
      secret: "bench-cluster-secret-0123",
    }
    : {};
  const s = await startShoalWith(
    "udp",
    {
      socket_workers: 1,
      request_workers: 1,
      log_level: "info",
      network: { use_ipv6: false },
      cluster,
    },
    1,
    { denoFlags: prof ? ["--v8-flags=--perf-basic-prof"] : [] },
  );
  nodes.push({ pid: s.child.pid, udpPort: s.listening[0].port, stop: () => s.stop() });
}
await new Promise((r) => setTimeout(r, 2000));
const c0 = await Promise.all(nodes.map((t) => cpuSeconds(t.pid)));
const n0 = await cpuSeconds(nats.pid);
const perf = prof
  ? nodes.map((t, k) =>
    new Deno.Command("perf", {
      args: ["record", "-g", "-o", `/tmp/perf_n${k}.data`, "-p", String(t.pid), "--", "sleep", "3"],
      stdout: "null",
      stderr: "null",
    }).spawn()
  )
  : [];
const out = await new Deno.Command("deno", {
  args: [
    "run",
    "-A",
    "./harness/load/udp_load.ts",
    "--target",
    `127.0.0.1:${nodes[0].udpPort}`,
    "--seconds",
    "4",
    "--warmup",
    "0.5",
    "--peers",
    "100000",
    "--torrents",
    "10000",
  ],
  stdout: "piped",
  stderr: "piped",
}).output();
for (const p of perf) await p.status;
const c1 = await Promise.all(nodes.map((t) => cpuSeconds(t.pid)));
const r = JSON.parse(new TextDecoder().decode(out.stdout));
const cpu = c1.reduce((a, c, k) => a + c - c0[k], 0);
const natsCpu = (await cpuSeconds(nats.pid)) - n0;
console.log(
  `${n} node(s): ${Math.round(r.perSecond)}/s, shoal µs/resp ${
    (cpu * 1e6 / r.total).toFixed(2)
  }, nats ${(natsCpu * 1e6 / r.total).toFixed(2)}; per node µs/resp ${
    c1.map((c, k) => ((c - c0[k]) * 1e6 / r.total).toFixed(2))
  }`,
);
for (const t of nodes) await t.stop();
await nats.destroy();
