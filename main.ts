/**
 * `shoal`: a BitTorrent tracker. `shoal udp` serves BEP 15 over UDP (and HTTP over the same
 * swarms when its `[http]` section is enabled); `shoal http` serves the HTTP tracker protocol;
 * `shoal ws` serves WebTorrent over WebSockets.
 *
 * Usage: `shoal <udp|http|ws> [-c FILE] [-p] [-v] [-h]`
 *
 * @module
 */

import { parseArgs } from "args";
import { EXIT_USAGE, OperatorError } from "./shared/base/errors.ts";
import {
  type ConfigOf,
  defaults,
  loadConfigFile,
  type Section,
  toToml,
} from "./shared/config/schema.ts";
import { Logger, type LogLevel } from "./shared/base/log.ts";
import { udpSchema } from "./udp/config.ts";
import { runUdp } from "./udp/server.ts";
import { wsSchema } from "./ws/config.ts";
import { runWs } from "./ws/server.ts";
import { httpSchema } from "./http/config.ts";
import { runHttp } from "./http/server.ts";
import { VERSION } from "./shared/base/version.ts";

const USAGE = `shoal ${VERSION}: a BitTorrent tracker (UDP BEP 15, HTTP, WebTorrent)

Usage: shoal <udp|http|ws> [-c FILE] [-p] [-v] [-h]

Commands:
  udp          run the UDP tracker (BEP 15); its [http] section adds HTTP over the same swarms
  http         run the HTTP tracker (BEP 3, 23, 7, 48)
  ws           run the WebTorrent tracker (WebSockets)

Options:
  -c, --config FILE   load configuration from a TOML file (over the defaults)
  -p, --print-config  print the configuration (defaults, or FILE applied) as TOML and exit
  -v, --version       print the version and exit
  -h, --help          print this help and exit`;

/** Runs the CLI with `args`; returns normally once a server is running. */
export async function main(args: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        config: { type: "string", short: "c" },
        "print-config": { type: "boolean", short: "p" },
        version: { type: "boolean", short: "v" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new OperatorError(`${(e as Error).message.split("\n")[0]} (see shoal -h)`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values.version) {
    console.log(`shoal ${VERSION}`);
    return;
  }
  if (positionals.length !== 1) {
    throw new OperatorError(
      positionals.length === 0
        ? "missing command: udp, http or ws (see shoal -h)"
        : `unexpected argument "${positionals[1]}" (see shoal -h)`,
    );
  }
  const command = positionals[0];
  if (command === "udp") return await run(udpSchema, runUdp, "udp", values);
  if (command === "http") return await run(httpSchema, runHttp, "http", values);
  if (command === "ws") return await run(wsSchema, runWs, "ws", values);
  throw new OperatorError(`unknown command "${command}": expected udp, http or ws (see shoal -h)`);
}

/** Loads the config of one protocol, then prints it (-p) or runs that server. */
async function run<S extends Section>(
  schema: S,
  serve: (config: ConfigOf<S>, log: Logger) => Promise<void>,
  name: string,
  values: { config?: string; "print-config"?: boolean },
): Promise<void> {
  const config = values.config === undefined
    ? defaults(schema)
    : await loadConfigFile(schema, values.config);
  if (values["print-config"]) {
    console.log(toToml(schema, config, [`shoal ${name} ${VERSION} configuration`]).trimEnd());
    return;
  }
  const level = (config as { log_level: LogLevel }).log_level;
  await serve(config, new Logger(level));
}

if (import.meta.main) {
  try {
    // `deno task run-udp -- -p` hands the script a literal "--": shoal takes no operands, so
    // it is dropped rather than refused.
    await main(Deno.args.filter((a) => a !== "--"));
  } catch (e) {
    if (e instanceof OperatorError) {
      console.error(`shoal: ${e.message}`);
      Deno.exit(EXIT_USAGE);
    }
    throw e;
  }
}
