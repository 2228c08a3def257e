/**
 * Dropping privileges, against the running tracker: started as root, shoal chroots and
 * switches user after binding, and keeps serving. Started as anyone else, asking for it is a
 * one-line error. Which of the two runs depends on who runs the tests (the other is skipped
 * with the reason printed).
 */
import assert from "assert";
import { processTest, runWithConfig, startShoalWith, trackerUrl } from "./helpers/shoal.ts";
import { randomId, UdpClient } from "./helpers/udp_client.ts";
import { bin20, WsClient } from "../harness/ws_client.ts";

async function sh(cmd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

const uid = Number(await sh("id", "-u"));
const nobody = (await sh("getent", "passwd", "nobody")).split(":");
const asRoot = uid === 0 && Deno.build.os === "linux" && nobody.length > 3;
if (!asRoot) {
  console.log(`SKIPPED privilege drop tests: they need root on Linux (running as uid ${uid})`);
} else {
  console.log(
    "SKIPPED the without-root refusal test: it needs a non-root uid (this run is root, and " +
      "runs the drop tests instead)",
  );
}

/** Uid of every thread of `pid` and the root directory it sees. */
async function identity(pid: number): Promise<{ uids: Set<string>; root: string }> {
  const tasks = (await sh("ls", `/proc/${pid}/task`)).split(/\s+/);
  const uids = new Set<string>();
  for (const t of tasks) {
    const status = await sh("cat", `/proc/${pid}/task/${t}/status`);
    uids.add(/^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status)!.slice(1).join(","));
  }
  return { uids, root: await sh("readlink", `/proc/${pid}/root`) };
}

for (const proto of ["udp", "ws"] as const) {
  processTest(
    `${proto}: started as root, chroots and runs every thread as nobody, still serving`,
    async () => {
      const jail = await Deno.makeTempDir({ prefix: "shoal-jail-" });
      await Deno.chmod(jail, 0o755);
      const shoal = await startShoalWith(proto, {
        network: { use_ipv6: proto === "udp" ? false : undefined },
        privileges: { drop_privileges: true, chroot_path: jail, user: "nobody" },
      });
      try {
        await shoal.waitFor(/dropped privileges: chroot .* uid 65534, gid 65534/);
        const id = await identity(shoal.child.pid);
        const n = nobody[2];
        assert.deepEqual(
          [...id.uids],
          [`${n},${n},${n},${n}`],
          "real, effective, saved and fs uid",
        );
        assert.equal(id.root, jail);
        const l = shoal.listening[0];
        if (proto === "udp") {
          const c = new UdpClient(l);
          const cid = await c.connect();
          const r = await c.announce(cid, { infoHash: randomId(), peerId: randomId(), left: 0n });
          assert.equal(r.action, 1);
          c.close();
        } else {
          const c = await WsClient.connect(trackerUrl(shoal));
          const info = bin20();
          c.send({ action: "announce", info_hash: info, peer_id: bin20(), left: 0 });
          await c.next((m) => m.info_hash === info && m.interval !== undefined);
          await c.close();
        }
      } finally {
        assert.equal(await shoal.stop(), 0);
        await Deno.remove(jail, { recursive: true });
      }
    },
    { ignore: !asRoot },
  );
}

/** `shoal udp` asked to drop privileges with `more` keys of `[privileges]`, run to its end. */
function dropping(more: Record<string, string> = {}) {
  return runWithConfig("udp", {
    network: { use_ipv6: false },
    privileges: { drop_privileges: true, ...more },
  });
}

Deno.test({
  name: "privileges: unknown user or group, missing chroot: one-line errors, exit status 2",
  ignore: !asRoot,
  fn: async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [
        { chroot_path: "/tmp", user: "no-such-user-shoal" },
        /privileges\.user: no such user "no-such-user-shoal"/,
      ],
      [
        { chroot_path: "/tmp", group: "no-such-group-shoal" },
        /privileges\.group: no such group "no-such-group-shoal"/,
      ],
      [
        { chroot_path: "/nonexistent/jail" },
        /privileges\.chroot_path: cannot chroot to \/nonexistent\/jail: ENOENT/,
      ],
    ];
    for (const [line, re] of cases) {
      const r = await dropping(line);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, re);
      assert.equal(
        r.stderr.trim().split("\n").filter((x) => !/^Warning/.test(x)).length,
        1,
        r.stderr,
      );
    }
  },
});

Deno.test({
  name: "privileges: asking for a drop without root is a one-line error, exit status 2",
  ignore: asRoot || Deno.build.os !== "linux",
  fn: async () => {
    const r = await dropping();
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /privileges\.drop_privileges needs shoal started as root \(running as uid \d+\)/,
    );
  },
});
