/** The far side of `hop.ts`: echoes each batch back, over the port or the flag. */
/// <reference lib="deno.worker" />

self.onmessage = async (e: MessageEvent) => {
  if (e.data.port) {
    const port: MessagePort = e.data.port;
    port.onmessage = (m: MessageEvent<ArrayBuffer>) => {
      const ab = m.data.slice(0);
      port.postMessage(ab, [ab]);
    };
    return;
  }
  const f = new Int32Array(e.data.sab, 0, 4), data = new Uint8Array(e.data.sab, 16);
  const copy = new Uint8Array(data.length);
  for (let seen = 0;;) {
    while (Atomics.load(f, 0) === seen) {
      const r = Atomics.waitAsync(f, 0, seen);
      if (r.async) await r.value;
    }
    seen = Atomics.load(f, 0);
    copy.set(data);
    Atomics.store(f, 1, seen);
    Atomics.notify(f, 1);
  }
};
