/**
 * The bench runs in CI, briefly, so that it cannot rot: `deno task bench -- --quick` drives
 * shoal (and, where they are installed, opentracker and bittorrent-tracker) with both load
 * generators and both memory modes, and the UDP floor responder, and must print a full table;
 * its comparisons of shoal with shoal (`--private`, `--cluster`) must print theirs.
 */
import assert from "assert";
import { processTest, ROOT } from "./helpers/shoal.ts";
import { hasNatsServer } from "../harness/nats.ts";

/** Runs `deno task bench -- --quick` with `args`; its table, after checking it exited 0. */
async function quickBench(...args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "bench", "--quick", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, `${text}\n${new TextDecoder().decode(out.stderr)}`);
  return text;
}

async function hasOpentracker(): Promise<boolean> {
  try {
    await Deno.stat("/usr/bin/opentracker");
    return true;
  } catch {
    return false;
  }
}

const compare = await hasOpentracker();
if (!compare) {
  console.log(
    "bench test: /usr/bin/opentracker is missing (apt-get install opentracker; .ci/run does): " +
      "running without --compare",
  );
}

processTest(
  "deno task bench -- --quick runs every load and memory mode and prints the table",
  async () => {
    const text = await quickBench("--memory", "--floor", ...(compare ? ["--compare"] : []));
    const row = (target: string, protocol: string) => {
      const m = new RegExp(
        `^\\| ${target} \\| ${protocol} \\| ([\\d.]+k?) \\| ([\\d.]+) \\| ([\\d.]+) \\|`,
        "m",
      ).exec(text);
      assert.ok(m, `no ${target} ${protocol} row in:\n${text}`);
      const rate = m[1].endsWith("k") ? Number(m[1].slice(0, -1)) * 1000 : Number(m[1]);
      assert.ok(rate > 0, `${target} ${protocol}: ${m[1]}/s`);
      assert.ok(Number(m[2]) > 0, `${target} ${protocol}: CPU per response measured`);
      assert.ok(Number(m[3]) > 0, `${target} ${protocol}: load generator's CPU measured`);
    };
    row("shoal", "udp");
    row("shoal", "ws");
    for (const floor of ["floor, 1 thread", "floor, hop"]) {
      row(floor, "udp");
      // Every reply of the floor responder passes the load generator's checks.
      const m = new RegExp(
        `^\\| ${floor} \\| udp \\|[^|]*\\|[^|]*\\|[^|]*\\|[^|]*\\| (\\d+) \\|`,
        "m",
      )
        .exec(text);
      assert.equal(m?.[1], "0", `${floor}: invalid replies in:\n${text}`);
    }
    if (compare) {
      row("opentracker", "udp");
      row("bittorrent-tracker", "udp");
      row("C limit", "udp");
      row("bittorrent-tracker", "ws");
    }
    const perPeer = /resident bytes per peer .*\| (\d+) \|/.exec(text);
    assert.ok(perPeer && Number(perPeer[1]) > 0, `memory per peer missing:\n${text}`);
    for (const when of ["2 s after the last connect", "after \\d+ s idle"]) {
      assert.match(
        text,
        new RegExp(`resident bytes per idle WebSocket connection \\(\\d+\\), ${when} \\| \\d+ \\|`),
      );
    }
  },
);

processTest(
  "deno task bench -- --quick --private and --cluster 2 print their comparisons",
  async () => {
    const priv = await quickBench("--private", "--only", "udp");
    // open responses/s, private responses/s, open and private CPU, their ratio.
    const p = /^\| udp \| [\d.]+k? \| [\d.]+k? \| ([\d.]+) \| ([\d.]+) \| ([\d.]+)×/m.exec(priv);
    assert.ok(p && Number(p[1]) > 0 && Number(p[2]) > 0 && Number(p[3]) > 0, priv);
    assert.match(priv, /first takes 0.3 s of the load unmeasured/);
    if (!hasNatsServer()) {
      console.log("bench test: nats-server is missing (.ci/run installs it): --cluster not run");
      return;
    }
    const cluster = await quickBench("--cluster", "2");
    for (const setup of ["1 node", "2 nodes"]) {
      const c = new RegExp(`^\\| ${setup} \\(round 1\\) \\| [\\d.]+k? \\| ([\\d.]+) \\|`, "m")
        .exec(cluster);
      assert.ok(c && Number(c[1]) > 0, `${setup}:\n${cluster}`);
    }
    assert.match(cluster, /CPU per response, 2 nodes ÷ 1 node \(medians\): [\d.]+× for shoal/);
  },
);
