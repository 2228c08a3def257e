/** The packaging files: example configs load, and the unit runs what the README says. */
import assert from "assert";
import { ROOT, runShoal } from "./helpers/shoal.ts";

Deno.test("the example configs in packaging/ are valid for their protocol", async () => {
  for (const proto of ["udp", "http", "ws"]) {
    const r = await runShoal([proto, "-c", `${ROOT}packaging/shoal-${proto}.toml`, "-p"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^socket_workers = 0$/m);
  }
});

Deno.test("the systemd unit starts the configured protocol, reloads with SIGUSR1, is hardened", async () => {
  const unit = await Deno.readTextFile(`${ROOT}packaging/shoal@.service`);
  const keys = new Map<string, string[]>();
  for (const line of unit.split("\n")) {
    const m = /^(\w+)=(.*)$/.exec(line);
    if (m) keys.set(m[1], [...(keys.get(m[1]) ?? []), m[2]]);
  }
  assert.deepEqual(keys.get("ExecStart"), ["/usr/local/bin/shoal %i -c /etc/shoal/shoal-%i.toml"]);
  assert.deepEqual(keys.get("ExecReload"), ["/bin/kill -USR1 $MAINPID"]);
  for (
    const k of ["NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "DynamicUser"]
  ) {
    assert.ok(keys.has(k), `missing ${k}`);
  }
  // V8's JIT needs W+X pages: the unit must not forbid them.
  assert.deepEqual(keys.get("MemoryDenyWriteExecute"), ["no"]);
  const workflow = await Deno.readTextFile(`${ROOT}.github/workflows/release.yml`);
  assert.match(workflow, /deno task compile --all/);
  assert.match(workflow, /sha256sum/);
});
