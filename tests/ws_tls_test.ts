/** `shoal ws` over TLS (wss): certificates made by openssl, reloaded on SIGUSR1. */
import assert from "assert";
import {
  assertRefused,
  type ConfigParts,
  processTest,
  runWithConfig,
  startShoalWith,
} from "./helpers/shoal.ts";
import { liveCertificates } from "./helpers/certificates.ts";
import { bin20, RawWs } from "../harness/ws_client.ts";

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

processTest(
  "wss: serves TLS, and SIGUSR1 swaps the certificate without dropping connections",
  async () => {
    const certs = await liveCertificates("shoal-tls-");
    const { firstCa, secondCa } = certs;
    const shoal = await startShoalWith("ws", { socket_workers: 2, network: certs.tls });
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

      await certs.swap();
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
      await certs.remove();
    }
  },
  { ignore: Deno.build.os === "windows" },
);

Deno.test("wss: missing or non-PEM files are one-line errors with exit status 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "shoal-tls-" });
  try {
    const notPem = `${dir}/cert.der`;
    await Deno.writeFile(notPem, new Uint8Array([0x30, 0x82, 1, 2]));
    const files = (cert: string, key: string) => ({
      use_tls: true,
      tls_certificate_path: cert,
      tls_private_key_path: key,
    });
    const cases: [ConfigParts[string], RegExp][] = [
      [{ use_tls: true }, /network\.tls_certificate_path must be set/],
      [
        files(`${dir}/none.pem`, `${dir}/none.key`),
        /network\.tls_certificate_path: cannot read .*none\.pem: no such file/,
      ],
      [files(notPem, notPem), /network\.tls_certificate_path: .* is not a PEM file/],
    ];
    for (const [network, re] of cases) {
      assertRefused(await runWithConfig("ws", { network }), re);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
