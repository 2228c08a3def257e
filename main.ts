/**
 * `shoal`: a BitTorrent tracker. `shoal udp` serves BEP 15 over UDP (and HTTP over the same
 * swarms when its `[http]` section is enabled); `shoal http` serves the HTTP tracker protocol;
 * `shoal ws` serves WebTorrent over WebSockets.
 *
 * This is where protocols are composed: `shoal udp` with `[http]` runs UDP's and HTTP's socket
 * workers over the core's request workers (`core/`), in one process. No protocol folder imports
 * another.
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
import { trackerView } from "./shared/observe/view.ts";
import { VERSION } from "./shared/base/version.ts";
import { runSwarms } from "./core/tracker.ts";
import { udpSchema as udpOwnSchema } from "./udp/config.ts";
import { udpGroup } from "./udp/server.ts";
import { udpView } from "./udp/observe.ts";
import type { SocketStats } from "./udp/stats.ts";
import { wsSchema } from "./ws/config.ts";
import { runWs } from "./ws/server.ts";
import { httpSchema, httpSection } from "./http/config.ts";
import { httpGroup, runHttp } from "./http/server.ts";
import { httpView } from "./http/observe.ts";
import type { HttpSocketStats } from "./http/socket_init.ts";
import { combineExtras, type TrackerExtras } from "./shared/runtime/tracker.ts";
import { clusterTracking } from "./cluster/tracking.ts";
import { checkPrivateCluster, type ClusterSection } from "./cluster/settings.ts";
import { type PrivateSection, privateTracking } from "./private/tracking.ts";

const { privileges, state, private: priv, cluster, ...udpKeys } = udpOwnSchema;
/** `shoal udp`'s configuration: UDP's keys, and `[http]` to serve HTTP beside UDP. */
export const udpSchema = {
  ...udpKeys,
  http: httpSection(),
  privileges,
  state,
  private: priv,
  cluster,
};

/**
 * Starts `shoal udp` with `config`: UDP's socket workers, with HTTP's beside them when
 * `[http]` is enabled, over the core's swarms; resolves once it is serving.
 */
async function runUdp(
  config: ConfigOf<typeof udpSchema>,
  log: Logger,
  extras: TrackerExtras | null,
): Promise<void> {
  const group = udpGroup(config, log);
  const h = config.http;
  const http = h.enabled
    ? await httpGroup(
      {
        ...h,
        log_level: config.log_level,
        request_workers: config.request_workers,
      },
      "http",
      h.socket_workers || navigator.hardwareConcurrency || 1,
      group.count + config.request_workers,
      log,
    )
    : null;
  const describe =
    `${group.count} socket worker(s), ${config.request_workers} request worker(s), io ${group.io}`;
  await runSwarms({
    name: http ? "shoal udp+http" : "shoal udp",
    config,
    groups: http ? [group, http] : [group],
    observe: http
      ? trackerView<SocketStats | HttpSocketStats>("udp+http", [udpView, httpView])
      : trackerView("udp", [udpView]),
    describe: http
      ? `${describe}; ${http.count} HTTP socket worker(s), io ${http.io}${http.tls ? ", TLS" : ""}`
      : describe,
    started: (l) => http?.started(l),
    reload: async (pool, l) => await http?.reload(pool, l),
    extras,
  }, log);
}

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
  serve: (config: ConfigOf<S>, log: Logger, extras: TrackerExtras | null) => Promise<void>,
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
  const log = new Logger(level);
  const parts = config as { private: PrivateSection; cluster: ClusterSection };
  // Checked before the database is opened: a bad [cluster] costs nothing to report.
  const kind = name === "ws" ? "webtorrent" : "bittorrent";
  checkPrivateCluster(parts.cluster, parts.private);
  const cluster = clusterTracking(parts.cluster, kind);
  const extras = combineExtras(await privateTracking(parts.private), cluster);
  await serve(config, log, extras);
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
