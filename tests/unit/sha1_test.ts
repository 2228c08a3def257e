import assert from "assert";
import { sha1 } from "../../shared/base/sha1.ts";

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
const enc = new TextEncoder();

Deno.test("sha1 matches known digests, and crypto.subtle on every length around a block", async () => {
  assert.equal(hex(sha1(enc.encode(""))), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  assert.equal(hex(sha1(enc.encode("abc"))), "a9993e364706816aba3e25717850c26c9cd0d89d");
  // RFC 6455's handshake example.
  const accept = sha1(
    enc.encode("dGhlIHNhbXBsZSBub25jZQ==" + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
  );
  assert.equal(btoa(String.fromCharCode(...accept)), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  for (let n = 0; n < 200; n++) {
    const data = new Uint8Array(n).map((_, i) => (i * 31 + n) & 255);
    const want = new Uint8Array(await crypto.subtle.digest("SHA-1", data));
    assert.equal(hex(sha1(data)), hex(want), `length ${n}`);
  }
});
