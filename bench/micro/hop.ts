/**
 * What one hop between two workers costs, the figures `shared/runtime/link.ts` is built on: a
 * ping-pong of a 5 KB batch between this thread and a worker, first as transferred
 * `ArrayBuffer`s through a `MessagePort`, then through a `SharedArrayBuffer` flag with
 * `Atomics.notify`/`Atomics.waitAsync`. Prints wall time and CPU (both threads) per round trip.
 *
 * Usage: `deno run --allow-read bench/micro/hop.ts [round trips]`
 *
 * @module
 */

import process from "node:process";

const N = Number(Deno.args[0] ?? 20000);
const WARM = Math.min(1000, N / 10);

function report(name: string, t0: number, c0: NodeJS.CpuUsage, n: number): void {
  const wall = (performance.now() - t0) * 1000 / n;
  const c = process.cpuUsage(c0);
  console.log(
    `${name}: ${wall.toFixed(1)} µs wall, ${
      ((c.user + c.system) / n).toFixed(1)
    } µs CPU per round trip`,
  );
}

async function viaPort(): Promise<void> {
  const w = new Worker(new URL("./hop_worker.ts", import.meta.url), { type: "module" });
  const ch = new MessageChannel();
  w.postMessage({ port: ch.port2 }, [ch.port2]);
  let n = 0, t0 = 0, c0 = process.cpuUsage();
  await new Promise<void>((done) => {
    ch.port1.onmessage = () => {
      if (++n === WARM) {
        t0 = performance.now();
        c0 = process.cpuUsage();
      }
      if (n === N) return done();
      const ab = new ArrayBuffer(5000);
      ch.port1.postMessage(ab, [ab]);
    };
    const ab = new ArrayBuffer(5000);
    ch.port1.postMessage(ab, [ab]);
  });
  report("MessagePort, transferred ArrayBuffer", t0, c0, N - WARM);
  ch.port1.close();
  w.terminate();
}

async function viaAtomics(): Promise<void> {
  const sab = new SharedArrayBuffer(16 + 5000);
  const f = new Int32Array(sab, 0, 4), data = new Uint8Array(sab, 16);
  const w = new Worker(new URL("./hop_worker.ts", import.meta.url), { type: "module" });
  w.postMessage({ sab });
  const batch = new Uint8Array(5000);
  let t0 = 0, c0 = process.cpuUsage();
  for (let n = 1; n <= N; n++) {
    if (n === WARM) {
      t0 = performance.now();
      c0 = process.cpuUsage();
    }
    data.set(batch);
    Atomics.store(f, 0, n);
    Atomics.notify(f, 0);
    while (Atomics.load(f, 1) !== n) {
      const r = Atomics.waitAsync(f, 1, n - 1);
      if (r.async) await r.value;
    }
  }
  report("SharedArrayBuffer, Atomics.waitAsync", t0, c0, N - WARM);
  w.terminate();
}

await viaPort();
await viaAtomics();
