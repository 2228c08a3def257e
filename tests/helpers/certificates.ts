/**
 * TLS certificates for the tests of `use_tls`: a certificate authority of their own, made with
 * openssl, and a server certificate it signs.
 *
 * @module
 */

const dec = new TextDecoder();

async function openssl(args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) throw new Error(`openssl ${args[0]} failed: ${dec.decode(out.stderr)}`);
}

/**
 * Makes a certificate authority and a certificate it signs for `localhost` and 127.0.0.1 with
 * openssl; returns the paths of the CA certificate and of the server's certificate and key.
 */
export async function makeCertificate(
  dir: string,
  name: string,
): Promise<{ ca: string; cert: string; key: string }> {
  const p = `${dir}/${name}`;
  // Words split on spaces: the folder comes from Deno.makeTempDir, which makes none.
  const run = (words: string) => openssl(words.split(" "));
  const ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  await run(
    `req -x509 ${ec} -keyout ${p}-ca.key -out ${p}-ca.crt -days 2 -subj /CN=shoal-test-CA-${name}`,
  );
  await run(`req ${ec} -keyout ${p}.key -out ${p}.csr -subj /CN=localhost`);
  await Deno.writeTextFile(
    `${p}.ext`,
    "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
  );
  await run(
    `x509 -req -in ${p}.csr -CA ${p}-ca.crt -CAkey ${p}-ca.key -CAcreateserial -out ${p}.crt ` +
      `-days 2 -extfile ${p}.ext`,
  );
  return { ca: `${p}-ca.crt`, cert: `${p}.crt`, key: `${p}.key` };
}

/** A tracker's live certificate files, and two authorities that each trust one of two. */
export interface LiveCertificates {
  /** The folder that holds them all. */
  dir: string;
  /** `[network]` keys that serve the live files. */
  tls: { use_tls: true; tls_certificate_path: string; tls_private_key_path: string };
  /** CA certificates (PEM) that trust the first certificate, served until `swap`. */
  firstCa: string[];
  /** CA certificates (PEM) that trust the second one. */
  secondCa: string[];
  /** Puts the second certificate and key in the live files (then SIGUSR1 reloads them). */
  swap(): Promise<void>;
  /** Removes the folder. */
  remove(): Promise<void>;
}

/** Makes two certificates in a new temporary folder, the first of them live. */
export async function liveCertificates(prefix: string): Promise<LiveCertificates> {
  const dir = await Deno.makeTempDir({ prefix });
  const first = await makeCertificate(dir, "first");
  const second = await makeCertificate(dir, "second");
  const cert = `${dir}/live.crt`, key = `${dir}/live.key`;
  await Deno.copyFile(first.cert, cert);
  await Deno.copyFile(first.key, key);
  return {
    dir,
    tls: { use_tls: true, tls_certificate_path: cert, tls_private_key_path: key },
    firstCa: [await Deno.readTextFile(first.ca)],
    secondCa: [await Deno.readTextFile(second.ca)],
    swap: async () => {
      await Deno.copyFile(second.cert, cert);
      await Deno.copyFile(second.key, key);
    },
    remove: () => Deno.remove(dir, { recursive: true }),
  };
}
