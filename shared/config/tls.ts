/**
 * TLS material from the operator's PEM files (`network.tls_certificate_path`,
 * `network.tls_private_key_path`), read at start and on SIGUSR1. Unreadable or non-PEM files
 * are operator errors naming the key.
 *
 * @module
 */

import { OperatorError } from "../base/errors.ts";

/** A PEM certificate chain and its private key. */
export interface TlsFiles {
  /** PEM certificate chain. */
  cert: string;
  /** PEM private key. */
  key: string;
}

/** Reads the PEM files named in the config; unreadable or non-PEM files are operator errors. */
export async function readTls(
  network: { tls_certificate_path: string; tls_private_key_path: string },
): Promise<TlsFiles> {
  const read = async (key: string, path: string, kind: RegExp): Promise<string> => {
    if (path === "") throw new OperatorError(`network.${key} must be set when use_tls = true`);
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
      throw new OperatorError(`network.${key}: cannot read ${path}: ${why}`);
    }
    if (!kind.test(text)) {
      throw new OperatorError(
        `network.${key}: ${path} is not a PEM file (convert pkcs12 with openssl; see the README)`,
      );
    }
    return text;
  };
  return {
    cert: await read(
      "tls_certificate_path",
      network.tls_certificate_path,
      /-----BEGIN CERTIFICATE-----/,
    ),
    key: await read(
      "tls_private_key_path",
      network.tls_private_key_path,
      /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
    ),
  };
}
