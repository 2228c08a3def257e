/**
 * WebSocket request worker: owns the torrents whose info hashes shard to it, routes offers and
 * answers to whichever socket worker holds the peer, and cleans in small slices.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { Logger } from "../shared/log.ts";
import { monotonicSeconds } from "../shared/clock.ts";
import { LimitLog, type Refusals } from "../shared/limit_log.ts";
import { macrotask } from "../shared/yield.ts";
import type { WsRequestInit, WsRequestStats } from "./control.ts";
import { type Control, type PortUpdate, serveWorker } from "../shared/worker_main.ts";
import type { ToRequest, ToSocket } from "./messages.ts";
import { WsSwarms } from "./swarms.ts";
import { AccessList, type AccessListData } from "../shared/access_list.ts";

/** Largest swarms and sampled peers reported for the statistics page. */
const DETAIL_TOP = 10, DETAIL_SAMPLE = 20000;

/** Torrents visited per cleaning slice, so requests wait at most one slice. */
const CLEAN_SLICE = 1000;

serveWorker(start);

function start(init: WsRequestInit): (msg: Control) => void {
  const { config, index, ports } = init;
  const log = new Logger(config.log_level, `ws request worker ${index}: `);
  const outs: ToSocket[][] = ports.map(() => []);
  const access = new AccessList();
  access.update(init.access);
  const swarms = new WsSwarms({
    interval: config.protocol.peer_announce_interval,
    maxOfferAge: config.cleaning.max_offer_age,
    maxOffers: config.protocol.max_offers,
    // Info hashes spread evenly over the request workers: each keeps its share.
    maxTorrents: Math.ceil(config.limits.max_torrents / config.request_workers),
    maxPeersPerTorrent: config.limits.max_peers_per_torrent,
  }, {
    send: (worker, conn, m) => outs[worker].push({ c: conn, m }),
    scrape: (worker, conn, id, files) => outs[worker].push({ c: conn, id, files }),
  }, access);
  const refusals = (): Refusals => ({
    max_torrents: swarms.refusedTorrents,
    max_peers_per_torrent: swarms.refusedPeers,
  });
  new LimitLog(log, config.limits, refusals);
  if (init.state !== null) {
    const n = swarms.load(init.state, monotonicSeconds() + config.cleaning.max_peer_age);
    log.info(`loaded ${n} torrents (completed counts) from the state file`);
  }

  const attach = (port: MessagePort, w: number) => {
    port.onmessage = (e: MessageEvent<ToRequest[]>) => {
      const now = monotonicSeconds();
      for (const item of e.data) {
        try {
          if ("r" in item) {
            if (item.r.kind === "announce") swarms.announce(w, item.c, item.r, now);
            else swarms.answer(w, item.c, item.r, now);
          } else if ("h" in item) {
            swarms.scrape(w, item.c, item.id, item.h);
          } else {
            swarms.closed(w, item.c);
          }
        } catch (err) {
          // One bad item must not drop the rest of the batch, nor the worker.
          log.error(`request failed: ${err instanceof Error ? err.stack : err}`);
        }
      }
      // One message per socket worker that has something to receive.
      for (let k = 0; k < outs.length; k++) {
        if (outs[k].length === 0) continue;
        ports[k].postMessage(outs[k]);
        outs[k] = [];
      }
    };
  };
  ports.forEach(attach);

  let cleaning = false;
  setInterval(async () => {
    if (cleaning) return;
    cleaning = true;
    const now = monotonicSeconds();
    const cutoff = now - config.cleaning.max_peer_age;
    while (!swarms.clean(now, cutoff, CLEAN_SLICE)) await macrotask();
    cleaning = false;
  }, config.cleaning.interval * 1000);

  self.postMessage({ type: "ready" });
  return (msg) => {
    const what = msg.type;
    if (what === "port") {
      // Socket worker `index` was replaced: its connections are gone, and so are their peers.
      const { index: w, port } = msg as PortUpdate;
      const dropped = swarms.socketGone(w);
      log.info(`socket worker ${w} replaced: ${dropped} of its peers removed`);
      ports[w] = port;
      outs[w] = [];
      attach(port, w);
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
    self.postMessage(
      {
        type: "stats",
        role: "request",
        index,
        torrents: swarms.torrents.size,
        peers: swarms.peers,
        seeders: swarms.seeders,
        counters: swarms.counters,
        refused: refusals(),
      } satisfies WsRequestStats,
    );
  };
}
