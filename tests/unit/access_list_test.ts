import assert from "assert";
import { AccessList } from "../../shared/store/access_list.ts";
import { parseAccessList } from "../../shared/config/access_file.ts";
import { OperatorError } from "../../shared/base/errors.ts";

const A = "a".repeat(40), B = "0123456789ABCDEFabcdef0123456789abcdef01";

function bytes(hex: string): Uint8Array {
  return new Uint8Array(hex.match(/../g)!.map((h) => parseInt(h, 16)));
}

Deno.test("access list files: hex lines, comments and blank lines; bad lines named", () => {
  const list = parseAccessList(`# allowed torrents\n\n${A}\n  ${B}  # a comment\r\n`, "list.txt");
  assert.equal(list.length, 40);
  assert.deepEqual(list.subarray(20), bytes(B));
  for (
    const [text, re] of [
      [`${A}\nnot a hash\n`, /^list\.txt:2: not a 40-character hex info hash: "not a hash"$/],
      [`${A}x\n`, /^list\.txt:1: /],
      [`${"g".repeat(40)}\n`, /^list\.txt:1: /],
      [`${A.slice(1)}\nxx\nyy\n`, /^list\.txt:1: .* \(and 2 more bad lines\)$/],
    ] as [string, RegExp][]
  ) {
    assert.throws(
      () => parseAccessList(text, "list.txt"),
      (e: unknown) => e instanceof OperatorError && re.test(e.message),
    );
  }
});

Deno.test("AccessList: off allows all, allow only the listed, deny all but them", () => {
  const l = new AccessList();
  const hashes = parseAccessList(`${A}\n${B}\n${A}\n`, "f");
  assert.ok(l.allows(bytes(A), 0));
  l.update({ mode: "allow", hashes });
  assert.equal(l.size, 2, "duplicates count once");
  assert.ok(l.allows(bytes(A), 0) && l.allows(bytes(B), 0));
  assert.ok(!l.allows(bytes("c".repeat(40)), 0));
  l.update({ mode: "deny", hashes });
  assert.ok(!l.allows(bytes(A), 0) && !l.allows(bytes(B), 0));
  assert.ok(l.allows(bytes("c".repeat(40)), 0));
  l.update({ mode: "off", hashes });
  assert.ok(l.allows(bytes(A), 0));
});
