/**
 * UDP request worker: owns the torrents whose info hashes shard to it, answers each socket
 * worker's batch with one batch, and cleans out expired peers in small slices.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { BatchWriter } from "../shared/channel.ts";
import { Logger } from "../shared/log.ts";
import { monotonicSeconds } from "../shared/clock.ts";
import { LimitLog, type Refusals } from "../shared/limit_log.ts";
import { type Control, type PortUpdate, serveWorker } from "../shared/worker_main.ts";
import type { ReadyMessage, RequestWorkerInit } from "./control.ts";
import { AccessList, type AccessListData } from "../shared/access_list.ts";
import { type BatchCounts, handleRequestBatch } from "./request_batch.ts";
import type { RequestStats } from "./stats.ts";
import { Swarms } from "./swarms.ts";
import { responsePeers } from "./config.ts";

/** Largest swarms and sampled peers reported for the statistics page. */
const DETAIL_TOP = 10, DETAIL_SAMPLE = 20000;

/** Torrent slots visited per cleaning slice, so requests wait at most one slice. */
const CLEAN_SLICE = 2048;

serveWorker(start);

function start(init: RequestWorkerInit): (msg: Control) => void {
  const { config, index, ports } = init;
  const log = new Logger(config.log_level, `request worker ${index}: `);
  const maxPeers = responsePeers(config.protocol);
  const { max_torrents, max_peers_per_torrent } = config.limits;
  const swarms = new Swarms({
    interval: config.protocol.peer_announce_interval,
    maxResponsePeers: maxPeers,
    // Info hashes spread evenly over the request workers: each keeps its share.
    maxTorrents: Math.ceil(max_torrents / config.request_workers),
    maxPeersPerTorrent: max_peers_per_torrent,
  }, init.swarmKey);
  const refusals = (): Refusals => ({
    max_torrents: swarms.refusedTorrents,
    max_peers_per_torrent: swarms.refusedPeers,
  });
  new LimitLog(log, config.limits, refusals);
  const writers = ports.map(() => new BatchWriter());
  const counts: BatchCounts = { announces: 0, scrapes: 0 };
  const access = new AccessList();
  access.update(init.access);
  if (init.state !== null) {
    const got = swarms.load(init.state, monotonicSeconds() - config.cleaning.max_peer_age);
    log.info(`loaded ${got.torrents} torrents, ${got.peers} live peers from the state file`);
  }

  const attach = (port: MessagePort, i: number) => {
    port.onmessage = (m: MessageEvent<ArrayBuffer>) => {
      try {
        handleRequestBatch(
          swarms,
          access,
          new Uint8Array(m.data),
          writers[i],
          monotonicSeconds(),
          maxPeers,
          counts,
        );
      } catch (err) {
        // Keep serving: one bad batch must not drop every swarm this worker owns.
        log.error(`request batch failed: ${err instanceof Error ? err.stack : err}`);
        writers[i].len = 0;
        writers[i].count = 0;
      }
      writers[i].flushTo(port);
    };
  };
  ports.forEach(attach);

  let cleaning = false;
  const cleanSlice = () => {
    const cutoff = monotonicSeconds() - config.cleaning.max_peer_age;
    if (swarms.clean(cutoff, CLEAN_SLICE, (b, off) => access.allows(b, off))) {
      cleaning = false;
      log.debug(`cleaned: ${swarms.torrents.size} torrents, ${swarms.peers} peers`);
    } else {
      setTimeout(cleanSlice, 0);
    }
  };
  setInterval(() => {
    if (cleaning) return;
    cleaning = true;
    cleanSlice();
  }, config.cleaning.interval * 1000);

  self.postMessage({ type: "ready" } satisfies ReadyMessage);

  return (msg) => {
    const what = msg.type;
    if (what === "port") {
      // Socket worker `index` was replaced; its successor sends on a new channel. (Writers
      // are flushed within each batch, so nothing is left for the old one.)
      const { index: i, port } = msg as PortUpdate;
      attach(port, i);
      return;
    }
    if (what === "save?") {
      const body = swarms.save();
      self.postMessage({ type: "saved", body }, [body.buffer]);
      return;
    }
    if (what === "access") {
      access.update(msg as unknown as AccessListData);
      log.info(`access list updated: ${access.size} info hashes`);
      return;
    }
    if (what === "details?") {
      self.postMessage({ type: "details", ...swarms.details(DETAIL_TOP, DETAIL_SAMPLE) });
      return;
    }
    if (what !== "stats?") return;
    const stats: RequestStats = {
      type: "stats",
      role: "request",
      index,
      torrents: swarms.torrents.size,
      peers: swarms.peers,
      seeders: swarms.seeders,
      refused: refusals(),
    };
    self.postMessage(stats);
  };
}
