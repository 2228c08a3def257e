/** The `shoal` command line and configuration files, through the real program. */
import assert from "assert";
import { parse } from "toml";
import {
  assertRefused,
  ROOT,
  runShoal,
  runWithConfig,
  startShoal,
  startShoalWith,
  writeConfig,
} from "./helpers/shoal.ts";
import { UdpClient } from "./helpers/udp_client.ts";
import { defaults } from "../shared/config/schema.ts";
import { udpSchema } from "../main.ts";
import { httpSchema } from "../http/config.ts";

/** Asserts that every key `shoal -p` printed has a comment line over it. */
function assertCommented(printed: string): void {
  const lines = printed.split("\n");
  lines.forEach((line, i) => {
    if (/^\w+ = /.test(line)) assert.match(lines[i - 1], /^# \S/, `no comment over ${line}`);
  });
}

Deno.test("shoal -h, -v and usage errors", async () => {
  const help = await runShoal(["-h"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: shoal <udp\|http\|ws>/);
  const version = await runShoal(["udp", "-v"]);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^shoal \d+\.\d+\.\d+/);
  for (
    const [args, re] of [
      [[], /missing command/],
      [["tcp"], /unknown command "tcp"/],
      [["udp", "--bogus"], /bogus/],
      [["udp", "extra"], /unexpected argument "extra"/],
      [["udp", "-c"], /argument/],
    ] as [string[], RegExp][]
  ) {
    const r = await runShoal(args);
    assert.equal(r.code, 2, `shoal ${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
  }
});

Deno.test("shoal udp -p prints every key with a comment, and parses back to the defaults", async () => {
  const r = await runShoal(["udp", "-p"]);
  assert.equal(r.code, 0, r.stderr);
  assertCommented(r.stdout);
  assert.deepEqual(JSON.parse(JSON.stringify(parse(r.stdout))), defaults(udpSchema));
  for (const key of ["socket_workers", "request_workers", "address", "address_ipv6", "io"]) {
    assert.match(r.stdout, new RegExp(`^${key} = `, "m"));
  }
});

Deno.test("shoal http -p and udp's [http] section print commented keys that parse back", async () => {
  const r = await runShoal(["http", "-p"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(JSON.stringify(parse(r.stdout))), defaults(httpSchema));
  assertCommented(r.stdout);
  for (const key of ["keep_alive_timeout", "reverse_proxy_addresses", "trust_ip_parameter"]) {
    assert.match(r.stdout, new RegExp(`^${key} = `, "m"));
  }
  const udp = (await runShoal(["udp", "-p"])).stdout;
  assert.match(udp, /^\[http\]\n(#.*\n)+enabled = false$/m);
  for (
    const [cmd, toml, re] of [
      ["http", '[network]\nreverse_proxy_addresses = "1.2.3.4, nope"', /"nope" is not an IP/],
      ["http", "[network]\nmax_response_peers = 5000", /max_response_peers: expected an integer/],
      ["udp", '[http]\naddress = "[::]:80"', /http\.address: .*IPv4/],
    ] as const
  ) {
    assertRefused(await runWithConfig(cmd, toml), re);
  }
});

Deno.test("the output of -p fed back with -c starts the tracker unchanged", async () => {
  const printed = (await runShoal(["udp", "-p"])).stdout;
  const file = await writeConfig(printed);
  try {
    const again = await runShoal(["udp", "-c", file, "-p"]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, printed);
    // The defaults listen on port 3000 on every address, IPv4 and IPv6.
    const shoal = await startShoal(["udp", "-c", file], 2);
    try {
      assert.deepEqual(
        shoal.listening.map((l) => `${l.hostname}:${l.port}`).sort(),
        ["0.0.0.0:3000", ":::3000"].sort(),
      );
      const c = new UdpClient({ hostname: "127.0.0.1", port: 3000 });
      try {
        assert.equal((await c.connect()).length, 8);
      } finally {
        c.close();
      }
    } finally {
      assert.equal(await shoal.stop(), 0);
    }
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("-c with bad files: one line naming file and key, exit status 2", async () => {
  const cases: [string, RegExp][] = [
    ["sockets_workers = 2", /unknown key "sockets_workers"/],
    ['socket_workers = "two"', /socket_workers: expected an integer from 0 to 256, got "two"/],
    ["socket_workers = 2.5", /socket_workers: expected an integer/],
    ["request_workers = 0", /request_workers: expected an integer from 1 to 256, got 0/],
    ['[network]\naddress = "localhost:3000"', /network\.address: .*IPv4/],
    ['[network]\naddress = "1.2.3.4:70000"', /network\.address: port must be/],
    ['[network]\naddress_ipv6 = "0.0.0.0:1"', /network\.address_ipv6: not an IPv6 address/],
    ['[network]\nio = "epoll"', /network\.io: expected one of "auto", "ffi", "deno"/],
    ['[network]\nuse_ipv4 = "yes"', /network\.use_ipv4: expected true or false/],
    ["[protocol]\nmax_response_peers = 100000", /max_response_peers: expected an integer from 1/],
    ["[cleaning\ninterval = 3", /invalid TOML at line 1/],
    ["network = 5", /"network" must be a table/],
    ["[network.deeper]\nx = 1", /unknown key "network.deeper"/],
    ["[network]\nuse_ipv4 = false\nuse_ipv6 = false", /nothing to serve/],
  ];
  for (const [toml, re] of cases) {
    const file = await writeConfig(toml);
    try {
      const r = await runShoal(["udp", "-c", file]);
      assert.equal(r.code, 2, `${toml}: ${r.stderr}`);
      assert.match(r.stderr, re);
      if (!/nothing to serve/.test(r.stderr)) assert.ok(r.stderr.includes(file), r.stderr);
      assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\bat \S+:\d+/, "no stack trace");
    } finally {
      await Deno.remove(file);
    }
  }
  const missing = await runShoal(["udp", "-c", "/nonexistent/shoal.toml"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read config file \/nonexistent\/shoal.toml: no such file/);
  const dir = await runShoal(["udp", "-c", "/tmp"]);
  assert.equal(dir.code, 2);
  assert.match(dir.stderr, /cannot read config file \/tmp/);
});

for (const io of ["ffi", "deno"]) {
  Deno.test(`a port in use is a one-line error with exit status 2 (${io})`, async () => {
    const first = await startShoalWith("udp", { network: { use_ipv6: false, io: "ffi" } });
    try {
      const port = first.listening[0].port;
      assertRefused(
        await runWithConfig(
          "udp",
          `[network]\naddress = "127.0.0.1:${port}"\nuse_ipv6 = false\nio = "${io}"`,
        ),
        new RegExp(`network.address: cannot listen on 127.0.0.1:${port}: address already in use`),
      );
    } finally {
      await first.stop();
    }
  });
}

Deno.test("the README's `deno task run-udp -- -p` and `run-ws -- -v` work as written", async () => {
  // deno task forwards a literal "--" to the script.
  const dec = new TextDecoder();
  for (
    const [task, flag, re] of [["run-udp", "-p", /^socket_workers = /m], [
      "run-ws",
      "-v",
      /^shoal \d/,
    ]] as const
  ) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", task, "--", flag],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, `deno task ${task} -- ${flag}: ${dec.decode(out.stderr)}`);
    assert.match(dec.decode(out.stdout), re);
  }
});
