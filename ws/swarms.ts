/**
 * The WebTorrent swarms of one request worker: peers by connection, offers forwarded to random
 * peers, answers routed back only along offers that were really made. Pure: requests in,
 * messages for connections out (through `Outbox`), no sockets or workers.
 *
 * A peer lives on a connection, named by (socket worker, connection id). A connection may use
 * one peer id per torrent, and a peer id owned by one connection cannot be taken by another.
 * A torrent whose peers are gone keeps its completed count; it still counts against
 * `maxTorrents`, and the one emptied longest ago makes room when the table is full.
 *
 * @module
 */

import { WsAccounting } from "./accounting.ts";
import type { Port } from "../shared/runtime/link.ts";
import { loadTorrents, savedTorrents } from "./saved_torrents.ts";
import type { SwarmStore } from "../shared/runtime/request_host.ts";
import { BatchOutbox, type Outbox } from "./outbox.ts";
import {
  type AnnounceIn,
  type AnswerIn,
  readRequests,
  type RequestHandlers,
  type ScrapeEntry,
} from "./messages.ts";
import { AccessList } from "../shared/store/access_list.ts";
import { handOffTest } from "../shared/store/cluster_shards.ts";
import { KeyTable, type KeyUpdate } from "../shared/store/key_table.ts";
import type { Refusals, RequestStats, SwarmDetails } from "../shared/store/details.ts";
import { wsDetails } from "./swarm_details.ts";
import { failureMessage, WsEvent } from "./protocol.ts";
import {
  addOffer,
  dropExpiredOffers,
  markAnswered,
  offerRingLength,
  Peer,
  pendingOffer,
  WsTorrent,
} from "./torrent.ts";

/** Settings of the swarm logic. */
export interface WsSwarmSettings {
  /** Announce interval sent to clients, seconds. */
  interval: number;
  /** Seconds an offer can be answered. */
  maxOfferAge: number;
  /** Offers per announce (a peer keeps `PENDING_OFFERS_PER_ANNOUNCE` announces of offers). */
  maxOffers: number;
  /** Most torrents kept; announces for new ones are refused. */
  maxTorrents?: number;
  /** Most peers in one torrent; new peers are refused. */
  maxPeersPerTorrent?: number;
}

/** The key of a connection: socket worker and connection id in one safe integer. */
export function connKey(worker: number, conn: number): number {
  return worker * 0x100000000 + conn;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Counters of what the swarms did. */
export interface WsSwarmCounters {
  /** Announces handled. */
  announces: number;
  /** Answers handled. */
  answers: number;
  /** Scrape parts handled. */
  scrapes: number;
  /** Offers forwarded to peers. */
  offersForwarded: number;
  /** Answers forwarded to peers. */
  answersForwarded: number;
  /** Requests refused with a failure reason. */
  failures: number;
}

/** The torrents of one request worker: the WebTorrent tracker's `SwarmStore`. */
export class WsSwarms implements SwarmStore<Uint8Array, RequestStats> {
  /** Torrents by info hash. */
  readonly torrents = new Map<string, WsTorrent>();
  /** Info hashes in which a connection has a peer, by connection key. */
  readonly connTorrents = new Map<number, Set<string>>();
  /** Peers over all torrents. */
  peers = 0;
  /** Seeders over all torrents. */
  seeders = 0;
  /** Announces refused at `maxTorrents`. */
  refusedTorrents = 0;
  /** Announces refused at `maxPeersPerTorrent`. */
  refusedPeers = 0;
  /** What was done, cumulative. */
  readonly counters: WsSwarmCounters = {
    announces: 0,
    answers: 0,
    scrapes: 0,
    offersForwarded: 0,
    answersForwarded: 0,
    failures: 0,
  };
  #s: WsSwarmSettings;
  #out: Outbox;
  #access: AccessList;
  #hashBytes = new Uint8Array(20);
  #cleaning: Iterator<[string, WsTorrent]> | null = null;
  /** Torrents without peers kept for their completed count, emptied longest ago first. */
  readonly empty = new Set<string>();

  /** Creates empty swarms that send through `out` and serve what `access` allows. */
  constructor(
    settings: WsSwarmSettings,
    out: Outbox = new BatchOutbox(),
    access: AccessList = new AccessList(),
  ) {
    this.#s = settings;
    this.#out = out;
    this.#access = access;
  }

  #allowed(infoHash: string): boolean {
    const b = this.#hashBytes;
    for (let i = 0; i < 20; i++) b[i] = infoHash.charCodeAt(i);
    return this.#access.allows(b, 0);
  }

  #fail(worker: number, conn: number, reason: string, infoHash: string): void {
    this.counters.failures++;
    if (this.#quiet) return;
    this.#out.send(worker, conn, failureMessage(reason, "announce", infoHash));
  }

  /** The announce being handled is a cluster's rejoin: the client is not answered. */
  #quiet = false;

  #reply(worker: number, conn: number, r: AnnounceIn, t: WsTorrent | undefined): void {
    if (this.#quiet) return;
    const complete = t?.seeders ?? 0, incomplete = t?.leechers ?? 0;
    this.#out.announced(worker, conn, r.bytes, r.hashAt, this.#s.interval, complete, incomplete);
  }

  /** Handles a batch from socket worker `from`: requests, scrape parts, closed connections. */
  receive(from: number, batch: Uint8Array, now: number): void {
    this.#from = from;
    this.#now = now;
    readRequests(batch, this.#handlers);
  }

  #from = 0;
  #now = 0;
  readonly #handlers: RequestHandlers = {
    announce: (conn, r) => this.announce(this.#from, conn, r, this.#now),
    answer: (conn, r) => this.answer(this.#from, conn, r, this.#now),
    scrape: (conn, id, hashes) => this.scrape(this.#from, conn, id, hashes),
    closed: (conn) => this.closed(this.#from, conn),
    account: (b, p) => (this.#accounts ??= new WsAccounting()).record(b, p, this.#now),
    accountKeyText: (b, p, start, end) => {
      // A key this node has not seen yet (the site's change reaches it within its refresh)
      // is not accounted here; the sender checked it.
      const key = this.#keys?.find(b, start, end) ?? -1;
      if (key >= 0) (this.#accounts ??= new WsAccounting()).record(b, p, this.#now, key);
    },
  };
  /** A private tracker's keys, by text (another node's accounting names keys so). */
  #keys: KeyTable | null = null;

  /** New or changed passkeys (revoked keys' connections are closed by their socket workers). */
  keys(update: KeyUpdate): void {
    (this.#keys ??= new KeyTable()).apply(update);
  }
  /** A private tracker's accounting (made by its first keyed announce). */
  #accounts: WsAccounting | null = null;

  /** The accounting since the last call (`peer_accounts.ts` records), reset. */
  drainAccounts(): Uint8Array<ArrayBuffer> {
    return this.#accounts?.accounts.drain() ?? new Uint8Array(0);
  }

  /** Posts what was sent, one message per socket worker. */
  flush(ports: Port[]): void {
    this.#out.flush(ports);
  }

  /** Announces refused so far, by limit. */
  refusals(): Refusals {
    return { max_torrents: this.refusedTorrents, max_peers_per_torrent: this.refusedPeers };
  }

  /** This request worker's statistics, with the swarms' counters. */
  stats(index: number): RequestStats {
    return {
      role: "request",
      index,
      torrents: this.torrents.size,
      peers: this.peers,
      seeders: this.seeders,
      refused: this.refusals(),
      counters: { ...this.counters },
    };
  }

  /** Handles an announce from connection `conn` of socket worker `worker` at time `now`. */
  announce(worker: number, conn: number, r: AnnounceIn, now: number): void {
    this.#quiet = r.event === WsEvent.Rejoin;
    if (!this.#quiet) this.counters.announces++;
    if (!this.#access.allows(r.bytes, r.hashAt)) {
      return this.#fail(worker, conn, "info hash not allowed", r.infoHash);
    }
    const key = connKey(worker, conn);
    let t = this.torrents.get(r.infoHash);
    if (r.event === WsEvent.Stopped) {
      const p = t?.peers.get(r.peerId);
      if (t && p && p.key === key) this.#remove(r.infoHash, t, p);
      return this.#reply(worker, conn, r, t);
    }
    let p = t?.peers.get(r.peerId);
    if (p !== undefined && p.key !== key) {
      return this.#fail(worker, conn, "peer_id is used by another connection", r.infoHash);
    }
    const owned = t?.byConn.get(key);
    if (owned !== undefined && owned !== r.peerId) {
      return this.#fail(worker, conn, "one peer_id per torrent per connection", r.infoHash);
    }
    if (t === undefined) {
      if (this.torrents.size >= (this.#s.maxTorrents ?? Infinity) && !this.#evictEmpty()) {
        this.refusedTorrents++;
        return this.#fail(worker, conn, "tracker full: too many torrents", r.infoHash);
      }
      t = new WsTorrent();
      this.torrents.set(r.infoHash, t);
    }
    if (p === undefined && t.ids.length >= (this.#s.maxPeersPerTorrent ?? Infinity)) {
      this.refusedPeers++;
      return this.#fail(worker, conn, "torrent full: too many peers", r.infoHash);
    }
    if (p === undefined) {
      if (t.ids.length === 0) this.empty.delete(r.infoHash);
      p = new Peer(r.peerId, worker, conn, key, t.ids.length, r.seeder, now);
      t.ids.push(r.peerId);
      t.peers.set(r.peerId, p);
      t.byConn.set(key, r.peerId);
      let set = this.connTorrents.get(key);
      if (set === undefined) this.connTorrents.set(key, set = new Set());
      set.add(r.infoHash);
      this.peers++;
      if (r.seeder) {
        t.seeders++;
        this.seeders++;
      }
    } else {
      if (p.seeder !== r.seeder) {
        const d = r.seeder ? 1 : -1;
        t.seeders += d;
        this.seeders += d;
        p.seeder = r.seeder;
      }
      p.seen = now;
    }
    if (r.event === WsEvent.Completed && !p.completed) {
      p.completed = true;
      t.completed++;
    }
    this.#reply(worker, conn, r, t);
    if (r.offers > 0) this.#forwardOffers(r, t, p, now);
  }

  /** Makes room for a torrent by dropping the one emptied longest ago; false if none is. */
  #evictEmpty(): boolean {
    for (const h of this.empty) {
      this.empty.delete(h);
      const t = this.torrents.get(h);
      if (t === undefined || t.ids.length > 0) continue; // (not expected: kept in step)
      this.torrents.delete(h);
      return true;
    }
    return false;
  }

  /** Sends each offer to a different random peer (a seeder's only to leechers). */
  #forwardOffers(r: AnnounceIn, t: WsTorrent, from: Peer, now: number): void {
    const ids = t.ids, n = ids.length;
    const want = Math.min(r.offers, n - 1);
    if (want <= 0) return;
    let i = Math.floor(Math.random() * n);
    let stride = n > 1 ? 1 + Math.floor(Math.random() * (n - 1)) : 1;
    while (gcd(stride, n) !== 1) stride++;
    // A bounded walk: in a swarm of seeders a seeder's offers may find fewer leechers.
    const maxSteps = Math.min(n, want * 8 + 32);
    const ring = offerRingLength(this.#s.maxOffers), expires = now + this.#s.maxOfferAge;
    let sent = 0;
    for (let step = 0; step < maxSteps && sent < want; step++, i = (i + stride) % n) {
      const to = t.peers.get(ids[i])!;
      if (to === from || (from.seeder && to.seeder)) continue;
      const k = sent++;
      addOffer(from, r.offerId(k), to.peerId, expires, ring);
      this.#out.forward(
        to.worker,
        to.conn,
        "offer",
        r.bytes,
        r.hashAt,
        r.peerAt,
        r.offerIdAt[k],
        r.sdpAt[k],
        r.sdpLen[k],
      );
      this.counters.offersForwarded++;
    }
  }

  /** Routes an answer to the offerer, if that offer was really sent to the answerer. */
  answer(worker: number, conn: number, r: AnswerIn, now: number): void {
    this.#quiet = false;
    this.counters.answers++;
    if (!this.#access.allows(r.bytes, r.hashAt)) {
      return this.#fail(worker, conn, "info hash not allowed", r.infoHash);
    }
    const t = this.torrents.get(r.infoHash);
    const me = t?.peers.get(r.peerId);
    if (t === undefined || me === undefined || me.key !== connKey(worker, conn)) {
      return this.#fail(worker, conn, "answer from a peer that is not in the swarm", r.infoHash);
    }
    me.seen = now;
    const offerer = t.peers.get(r.toPeerId);
    const at = offerer === undefined ? -1 : pendingOffer(offerer, r.offerId, r.peerId, now);
    if (offerer === undefined || at < 0) {
      return this.#fail(worker, conn, "no such offer to answer", r.infoHash);
    }
    markAnswered(offerer, at); // one answer per offer
    this.#out.forward(
      offerer.worker,
      offerer.conn,
      "answer",
      r.bytes,
      r.hashAt,
      r.peerAt,
      r.offerIdAt,
      r.sdpAt,
      r.sdpLen,
    );
    this.counters.answersForwarded++;
  }

  /** Answers the scrape part `id` of connection `conn` with counts (zeros when unknown). */
  scrape(worker: number, conn: number, id: number, infoHashes: string[]): void {
    this.counters.scrapes++;
    const files: ScrapeEntry[] = infoHashes.map((h) => {
      const t = this.#allowed(h) ? this.torrents.get(h) : undefined;
      return t ? [h, t.seeders, t.leechers, t.completed] : [h, 0, 0, 0];
    });
    this.#out.scrape(worker, conn, id, files);
  }

  /** Removes every peer of a closed connection. */
  closed(worker: number, conn: number): void {
    const key = connKey(worker, conn);
    const set = this.connTorrents.get(key);
    if (set === undefined) return;
    for (const h of [...set]) {
      const t = this.torrents.get(h);
      const p = t?.peers.get(t.byConn.get(key) ?? "");
      if (t && p) this.#remove(h, t, p);
    }
    this.connTorrents.delete(key);
  }

  /**
   * Removes the peers of every connection socket worker `worker` held (it died, and its
   * connections with it); returns how many were removed.
   */
  socketGone(worker: number): number {
    this.#out.drop(worker);
    const before = this.peers;
    for (const key of [...this.connTorrents.keys()]) {
      if (Math.floor(key / 0x100000000) === worker) this.closed(worker, key % 0x100000000);
    }
    return before - this.peers;
  }

  #remove(infoHash: string, t: WsTorrent, p: Peer): void {
    const last = t.ids.pop()!;
    if (last !== p.peerId) {
      t.ids[p.index] = last;
      t.peers.get(last)!.index = p.index;
    }
    t.peers.delete(p.peerId);
    t.byConn.delete(p.key);
    if (p.seeder) {
      t.seeders--;
      this.seeders--;
    }
    this.peers--;
    const set = this.connTorrents.get(p.key);
    if (set !== undefined) {
      set.delete(infoHash);
      if (set.size === 0) this.connTorrents.delete(p.key);
    }
  }

  /** The `top` largest swarms, and the clients of about `sample` peers (`wsDetails`). */
  details(top: number, sample: number): SwarmDetails {
    return wsDetails(this.torrents, this.peers, top, sample);
  }

  /**
   * Continues the cleaning pass over up to `budget` torrents: drops peers last seen before
   * `cutoff`, expired offers, and torrents left empty with no completed count to keep (those
   * with one join `empty`). Returns true when the pass is complete.
   */
  clean(now: number, cutoff: number, budget: number): boolean {
    this.#cleaning ??= this.torrents.entries();
    for (let n = 0; n < budget; n++) {
      const next = this.#cleaning.next();
      if (next.done) {
        this.#cleaning = null;
        this.#accounts?.accounts.clean(cutoff);
        return true;
      }
      const [h, t] = next.value;
      // A torrent the access list no longer allows loses every peer, and its count.
      const allowed = this.#allowed(h);
      const drop = allowed ? cutoff : Infinity;
      for (let i = t.ids.length - 1; i >= 0; i--) {
        if (i >= t.ids.length) continue;
        const p = t.peers.get(t.ids[i])!;
        if (p.seen < drop) this.#remove(h, t, p);
        else dropExpiredOffers(p, now);
      }
      if (t.ids.length > 0 || (t.keepUntil >= now && allowed)) continue;
      if (t.completed === 0 || !allowed) {
        this.torrents.delete(h);
        this.empty.delete(h);
      } else if (!this.empty.has(h)) {
        this.empty.add(h);
      }
    }
    return false;
  }

  /** Every torrent's completed count, as state file entries (`saved_torrents.ts`). */
  save(): Uint8Array<ArrayBuffer> {
    return savedTorrents(this.torrents);
  }

  /**
   * The torrents of the cluster shards `arg` marks (`cluster_shards.ts`'s `handOffArg`): their
   * completed counts as state file entries, taken out of this store with their peers (another
   * node owns them now, and the peers' socket workers make them rejoin it there).
   */
  handOff(arg: Uint8Array): Uint8Array<ArrayBuffer> {
    const handed = handOffTest(arg);
    return savedTorrents(this.torrents, (hash) => handed(hash, 0), (h, t) => {
      while (t.ids.length > 0) this.#remove(h, t, t.peers.get(t.ids[t.ids.length - 1])!);
      this.torrents.delete(h);
      this.empty.delete(h);
    });
  }

  /**
   * Loads state file entries: torrents and completed counts (the larger, when a torrent is
   * here already), kept for `now - cutoff` seconds (the peer age) even if no peer comes back,
   * while clients reconnect.
   */
  load(body: Uint8Array, cutoff: number, now: number): { torrents: number; peers: number } {
    const torrents = loadTorrents(body, (h, completed) => {
      let t = this.torrents.get(h);
      if (t === undefined) this.torrents.set(h, t = new WsTorrent());
      t.completed = Math.max(t.completed, completed);
      t.keepUntil = now + (now - cutoff);
    });
    return { torrents, peers: 0 };
  }
}
