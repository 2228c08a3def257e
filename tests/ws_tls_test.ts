/** `shoal ws` over TLS (wss): certificates made by openssl, reloaded on SIGUSR1. */
import assert from "assert";
import { runShoal, startShoal, writeConfig } from "./helpers/shoal.ts";
import { makeCertificate, RawWs } from "./helpers/raw_ws.ts";
import { bin20 } from "./helpers/ws_client.ts";

async function announce(ws: RawWs): Promise<Record<string, unknown>> {
  const info = bin20();
  await ws.sendText(
    JSON.stringify({ action: "announce", info_hash: info, peer_id: bin20(), left: 0 }),
  );
  const text = await ws.readText();
  assert.ok(text !== null, "connection closed");
  const m = JSON.parse(text);
  assert.equal(m.info_hash, info);
  return m;
}

Deno.test({
  name: "wss: serves TLS, and SIGUSR1 swaps the certificate without dropping connections",
  ignore: Deno.build.os === "windows",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "shoal-tls-" });
    const first = await makeCertificate(dir, "first");
    const second = await makeCertificate(dir, "second");
    const cert = `${dir}/live.crt`, key = `${dir}/live.key`;
    await Deno.copyFile(first.cert, cert);
    await Deno.copyFile(first.key, key);
    const file = await writeConfig(`socket_workers = 2
[network]
address = "127.0.0.1:0"
use_tls = true
tls_certificate_path = "${cert}"
tls_private_key_path = "${key}"
[statistics]
interval = 0
`);
    const shoal = await startShoal(["ws", "-c", file], 1);
    const firstCa = [await Deno.readTextFile(first.ca)];
    const secondCa = [await Deno.readTextFile(second.ca)];
    const open: RawWs[] = [];
    try {
      const l = shoal.listening[0];
      assert.equal(l.scheme, "wss");
      const before = await RawWs.connect("127.0.0.1", l.port, { caCerts: firstCa });
      open.push(before);
      assert.equal((await announce(before)).action, "announce");
      await assert.rejects(
        RawWs.connect("127.0.0.1", l.port, { caCerts: secondCa }),
        "the second certificate is not served yet",
      );

      await Deno.copyFile(second.cert, cert);
      await Deno.copyFile(second.key, key);
      shoal.child.kill("SIGUSR1");
      // Every socket worker reloads.
      const deadline = Date.now() + 10000;
      while (shoal.output.filter((x) => /TLS certificate reloaded/.test(x)).length < 2) {
        assert.ok(Date.now() < deadline, `no reload: ${shoal.output.join("\n")}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal((await announce(before)).action, "announce", "the open connection survived");
      for (let i = 0; i < 6; i++) {
        const after = await RawWs.connect("127.0.0.1", l.port, { caCerts: secondCa });
        open.push(after);
        assert.equal((await announce(after)).action, "announce");
        await assert.rejects(RawWs.connect("127.0.0.1", l.port, { caCerts: firstCa }));
      }
    } finally {
      open.forEach((w) => w.close());
      assert.equal(await shoal.stop(), 0);
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(file);
    }
  },
});

Deno.test("wss: missing or non-PEM files are one-line errors with exit status 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "shoal-tls-" });
  try {
    const notPem = `${dir}/cert.der`;
    await Deno.writeFile(notPem, new Uint8Array([0x30, 0x82, 1, 2]));
    const cases: [string, RegExp][] = [
      [`use_tls = true`, /network\.tls_certificate_path must be set/],
      [
        `use_tls = true\ntls_certificate_path = "${dir}/none.pem"\ntls_private_key_path = "${dir}/none.key"`,
        /network\.tls_certificate_path: cannot read .*none\.pem: no such file/,
      ],
      [
        `use_tls = true\ntls_certificate_path = "${notPem}"\ntls_private_key_path = "${notPem}"`,
        /network\.tls_certificate_path: .* is not a PEM file/,
      ],
    ];
    for (const [net, re] of cases) {
      const file = await writeConfig(`[network]\naddress = "127.0.0.1:0"\n${net}\n`);
      const r = await runShoal(["ws", "-c", file]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      await Deno.remove(file);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
