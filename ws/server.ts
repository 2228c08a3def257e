/**
 * `shoal ws` on the main thread: starts request workers and socket workers joined by one
 * `MessageChannel` per pair, reports the bound address, reloads TLS on SIGUSR1, prints
 * statistics and stops on SIGINT/SIGTERM.
 *
 * @module
 */

import { formatSocketAddress, parseSocketAddress } from "../shared/address.ts";
import { OperatorError } from "../shared/errors.ts";
import { randomWords } from "../shared/hash.ts";
import type { Logger } from "../shared/log.ts";
import { faultTarget, Pool } from "../shared/pool.ts";
import type { WsConfig } from "./config.ts";
import type {
  WsBound,
  WsRequestInit,
  WsRequestStats,
  WsSocketInit,
  WsSocketStats,
  WsTlsUpdate,
} from "./control.ts";

/** Reads the PEM files named in the config; unreadable or non-PEM files are operator errors. */
async function readTls(config: WsConfig): Promise<{ cert: string; key: string }> {
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
      config.network.tls_certificate_path,
      /-----BEGIN CERTIFICATE-----/,
    ),
    key: await read(
      "tls_private_key_path",
      config.network.tls_private_key_path,
      /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
    ),
  };
}

/** True when this host can open an IPv6 socket. */
function ipv6Available(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

/** Starts `shoal ws` with `config`; resolves once it is serving. */
export async function runWs(config: WsConfig, log: Logger): Promise<void> {
  const socketWorkers = config.socket_workers || navigator.hardwareConcurrency || 1;
  const requestWorkers = config.request_workers;
  const parsed = parseSocketAddress(config.network.address);
  if (typeof parsed === "string") throw new OperatorError(`network.address: ${parsed}`);
  let bind = { hostname: parsed.hostname, port: parsed.port };
  if (parsed.family === 6 && parsed.hostname === "::" && !ipv6Available()) {
    log.warn("IPv6 is not available on this host; serving IPv4 only (0.0.0.0)");
    bind = { hostname: "0.0.0.0", port: parsed.port };
  }
  const tls = config.network.use_tls ? await readTls(config) : null;
  if (config.network.io === "ffi" && (tls || Deno.build.os !== "linux")) {
    throw new OperatorError(
      `network.io = "ffi" serves plain TCP on Linux only; use "auto" or "deno"` +
        (tls ? " with use_tls" : ""),
    );
  }
  const io = config.network.io === "auto"
    ? (tls || Deno.build.os !== "linux" ? "deno" : "ffi")
    : config.network.io;
  if (config.privileges.drop_privileges) {
    throw new OperatorError("privileges.drop_privileges = true is not supported yet");
  }
  const fault = faultTarget();
  const pool = new Pool(log);
  const channels = Array.from(
    { length: socketWorkers },
    () => Array.from({ length: requestWorkers }, () => new MessageChannel()),
  );
  const shardKey = randomWords(2);
  const scheme = tls ? "wss" : "ws";

  try {
    const requestUrl = new URL("./request_worker.ts", import.meta.url);
    await Promise.all(Array.from({ length: requestWorkers }, (_, j) => {
      const ports = channels.map((row) => row[j].port2);
      const init: WsRequestInit = {
        type: "init",
        index: j,
        config,
        ports,
        fault: fault?.role === "request" && fault.index === j,
      };
      return pool.start(`request worker ${j}`, requestUrl, init, ports, "ready");
    }));

    const socketUrl = new URL("./socket_worker.ts", import.meta.url);
    const startSocket = (i: number, port: number, checkFree: boolean) => {
      const ports = channels[i].map((c) => c.port1);
      const init: WsSocketInit = {
        type: "init",
        index: i,
        config,
        hostname: bind.hostname,
        port,
        io,
        checkFree,
        tls,
        shardKey,
        ports,
        fault: fault?.role === "socket" && fault.index === i,
      };
      return pool.start<WsBound>(`socket worker ${i}`, socketUrl, init, ports, "bound");
    };

    const first = await startSocket(0, bind.port, true);
    if ("code" in first) {
      const why = first.code === "EADDRINUSE" ? "address already in use" : first.message;
      throw new OperatorError(
        `network.address: cannot listen on ${formatSocketAddress(bind)}: ${why}`,
      );
    }
    bind = { hostname: bind.hostname, port: first.port };
    await Promise.all(Array.from({ length: socketWorkers - 1 }, async (_, k) => {
      const reply = await startSocket(k + 1, bind.port, false);
      if ("code" in reply) {
        throw new Error(`socket worker ${k + 1} could not bind: ${reply.message}`);
      }
    }));
    // Always printed, whatever the log level: operators and tests need the bound address.
    console.log(`listening on ${scheme}://${formatSocketAddress(bind)}`);
    log.info(
      `shoal ws: ${socketWorkers} socket worker(s), ${requestWorkers} request worker(s), io ${io}` +
        (tls ? ", TLS" : ""),
    );
  } catch (err) {
    pool.terminate();
    throw err;
  }

  pool.stopOnSignals();
  if (tls && Deno.build.os !== "windows") {
    Deno.addSignalListener("SIGUSR1", async () => {
      try {
        const fresh = await readTls(config);
        const msg: WsTlsUpdate = { type: "tls", ...fresh };
        for (const { name, worker } of pool.workers) {
          if (name.startsWith("socket")) worker.postMessage(msg);
        }
        log.info("SIGUSR1: reloading the TLS certificate");
      } catch (err) {
        log.error(`SIGUSR1: ${(err as Error).message}; keeping the old certificate`);
      }
    });
  }

  const interval = config.statistics.interval;
  if (interval > 0 && config.statistics.print_to_stdout) {
    let before = { in: 0, out: 0, offers: 0, answers: 0 };
    let last = performance.now();
    setInterval(async () => {
      const replies = await pool.collect({ type: "stats?" }, "stats") as (
        | WsSocketStats
        | WsRequestStats
      )[];
      let connections = 0, msgIn = 0, msgOut = 0, offers = 0, answers = 0;
      let torrents = 0, peers = 0, seeders = 0;
      for (const r of replies) {
        if (r.role === "socket") {
          connections += r.connections;
          msgIn += r.counters.messagesIn;
          msgOut += r.counters.messagesOut;
        } else {
          torrents += r.torrents;
          peers += r.peers;
          seeders += r.seeders;
          offers += r.counters.offersForwarded;
          answers += r.counters.answersForwarded;
        }
      }
      const t = performance.now(), dt = (t - last) / 1000;
      const rate = (now: number, then: number) => Math.round((now - then) / dt);
      console.log(
        `stats: ${connections} connections; ${rate(msgIn, before.in)} messages/s in, ${
          rate(msgOut, before.out)
        } out (offers ${rate(offers, before.offers)}, answers ${
          rate(answers, before.answers)
        }); torrents ${torrents}, peers ${peers} (seeders ${seeders}, leechers ${peers - seeders})`,
      );
      before = { in: msgIn, out: msgOut, offers, answers };
      last = t;
    }, interval * 1000);
  }
}
