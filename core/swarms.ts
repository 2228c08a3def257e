/**
 * The torrents one request worker owns, and the announce and scrape logic over them. Pure:
 * records in, records out (`records.ts`), no sockets, workers or wire formats.
 *
 * A torrent is an id in a `InfoHashTable`, with one peer list per address family in
 * `PeerLists` (a peer only ever sees peers of its own family) and a completed count. Seeder
 * and leecher counts in responses cover both families. A torrent whose last peer has gone
 * keeps its completed count (scrape's `downloaded`); such torrents still count against
 * `maxTorrents`, and the one emptied longest ago makes room for a new torrent when the table
 * is full.
 *
 * @module
 */

import { handOffTest } from "../shared/store/cluster_shards.ts";
import { HalfSipHash13 } from "../shared/base/hash.ts";
import type { Refusals, RequestStats, SwarmDetails } from "../shared/store/details.ts";
import { swarmDetails } from "./swarm_details.ts";
import { A_ADDR, A_EVENT, A_FLAGS, A_INFO_HASH, A_PEER_ID, A_PORT, A_WANT } from "./records.ts";
import { ANNOUNCE_PEER_IDS, ANNOUNCE_SEEDER, AnnounceEvent, ANSWER_HEADER } from "./records.ts";
import { MAX_PEERS, REC_FAMILY, Refusal, writeAnswerHeader, writeScrapeEntry } from "./records.ts";
import { FLAG_COMPLETED, FLAG_SEEDER, PeerLists } from "./peer_list.ts";
import { InfoHashTable } from "../shared/store/info_hash_table.ts";
import { IdList } from "../shared/store/id_list.ts";
import { BatchWriter } from "../shared/runtime/channel.ts";
import type { Port } from "../shared/runtime/link.ts";
import { AccessList } from "../shared/store/access_list.ts";
import type { SwarmStore } from "../shared/runtime/request_host.ts";
import { getU16LE } from "../shared/base/bytes.ts";
import { handleRequestBatch, localKeys } from "./request_batch.ts";
import { loadSwarms, type SavedStore, saveSwarms } from "./saved_swarms.ts";
import { SwarmAccounting } from "./accounting.ts";
import { type KeyUpdate, MAX_KEYS } from "../shared/store/key_table.ts";

/** Settings the swarm logic needs. */
export interface SwarmSettings {
  /** Announce interval to send, seconds. */
  interval: number;
  /** Most torrents this store keeps; announces for new ones are refused. */
  maxTorrents?: number;
  /** Most peers (per address family) in one torrent; new peers are refused. */
  maxPeersPerTorrent?: number;
}

/** The torrents of one request worker: the BitTorrent trackers' (UDP, HTTP) `SwarmStore`. */
export class Swarms implements SwarmStore<Uint8Array, RequestStats> {
  /** Torrents by info hash. */
  readonly torrents: InfoHashTable;
  /** IPv4 peer lists by torrent id. */
  readonly v4: PeerLists;
  /** IPv6 peer lists by torrent id. */
  readonly v6: PeerLists;
  /** Peers over all torrents and families. */
  peers = 0;
  /** Seeders over all torrents and families. */
  seeders = 0;
  /** Announces not stored because a torrent's list could not grow. */
  refused = 0;
  /** Announces refused at `maxTorrents`. */
  refusedTorrents = 0;
  /** Announces refused at `maxPeersPerTorrent`. */
  refusedPeers = 0;
  /** Torrents without peers, kept for their completed count; emptied longest ago first. */
  readonly empty: IdList;
  #interval: number;
  #maxTorrents: number;
  #maxPeersPerTorrent: number;
  #access: AccessList;
  #writers: BatchWriter[] = [];
  #key = new Uint8Array(36);
  #cleanCursor = 0;
  /** A private tracker's keys and accounting: made when the first keys arrive. */
  #private: SwarmAccounting | null = null;
  /** Another node's batch with its keys made this worker's (`answerRemote`). */
  #keyed = new BatchWriter();

  /**
   * Creates an empty store serving what `access` allows; `key` is four random words that key
   * its hash tables.
   */
  constructor(settings: SwarmSettings, key: Uint32Array, access = new AccessList()) {
    this.#access = access;
    this.#interval = settings.interval;
    this.#maxTorrents = settings.maxTorrents ?? Infinity;
    this.#maxPeersPerTorrent = settings.maxPeersPerTorrent ?? Infinity;
    const hasher = new HalfSipHash13(key[2], key[3]);
    this.torrents = new InfoHashTable(key[0], key[1], (ids) => {
      this.v4.grow(ids);
      this.v6.grow(ids);
      this.empty.grow(ids);
    });
    this.v4 = new PeerLists(4, hasher, this.torrents.idCapacity);
    this.v6 = new PeerLists(16, hasher, this.torrents.idCapacity);
    this.empty = new IdList(this.torrents.idCapacity);
  }

  /** Seeders of torrent `id` over both families. */
  seedersOf(id: number): number {
    return this.v4.seeders[id] + this.v6.seeders[id];
  }

  /** Leechers of torrent `id` over both families. */
  leechersOf(id: number): number {
    return this.v4.n[id] - this.v4.seeders[id] + this.v6.n[id] - this.v6.seeders[id];
  }

  /**
   * Answers the announce record at `b[p]` (`records.ts`: its flags, event, address, port, peers
   * wanted, hashes) at time `now`, writing the answer record into `out[o]`, which has room for
   * the peers it wants. Returns the answer's length.
   */
  announce(b: Uint8Array, p: number, now: number, out: Uint8Array, o: number): number {
    const family = b[p + REC_FAMILY] === 6 ? 6 : 4;
    const event = b[p + A_EVENT], mode = b[p + A_FLAGS];
    const interval = this.#interval, table = this.torrents;
    let id = table.find(b, p + A_INFO_HASH);
    if (id < 0) {
      if (event === AnnounceEvent.Stopped) {
        return writeAnswerHeader(b, p, out, o, 0, 0, interval, 0, 0);
      }
      if (table.size >= this.#maxTorrents && !this.#evictEmpty()) {
        this.refusedTorrents++;
        return writeAnswerHeader(b, p, out, o, Refusal.TooManyTorrents, 0, 0, 0, 0);
      }
      id = table.insert(b, p + A_INFO_HASH);
    }
    const lists = family === 4 ? this.v4 : this.v6;

    // The peer is its address: the client's IP (IPv4 is the last 4 bytes of its v4-mapped
    // record) and the port it announced.
    const key = this.#key;
    const ipFrom = family === 4 ? p + A_ADDR + 12 : p + A_ADDR;
    const ipLen = lists.ipLen;
    for (let j = 0; j < ipLen; j++) key[j] = b[ipFrom + j];
    key[ipLen] = b[p + A_PORT];
    key[ipLen + 1] = b[p + A_PORT + 1];

    let r = lists.find(id, key, 0);
    if (event === AnnounceEvent.Stopped) {
      if (r >= 0) this.#removeAt(lists, id, r);
      return writeAnswerHeader(
        b,
        p,
        out,
        o,
        0,
        0,
        interval,
        this.seedersOf(id),
        this.leechersOf(id),
      );
    }

    if (r < 0 && lists.n[id] >= this.#maxPeersPerTorrent) {
      this.refusedPeers++;
      return writeAnswerHeader(b, p, out, o, Refusal.TooManyPeers, 0, 0, 0, 0);
    }
    const before = r >= 0 ? lists.flags(id, r) : 0;
    let flags = (before & FLAG_COMPLETED) | (mode & ANNOUNCE_SEEDER ? FLAG_SEEDER : 0);
    if (event === AnnounceEvent.Completed && !(before & FLAG_COMPLETED)) {
      flags |= FLAG_COMPLETED;
      table.completed[id]++;
    }
    let stored = true;
    if (r >= 0) {
      lists.update(id, r, b, p + A_PEER_ID, flags, now);
    } else {
      r = lists.add(id, key, 0, b, p + A_PEER_ID, flags, now);
      if (r >= 0) {
        this.peers++;
        this.empty.remove(id);
      } else {
        stored = false;
        this.refused++;
      }
    }
    if (stored) this.seeders += (flags & FLAG_SEEDER) - (before & FLAG_SEEDER);

    // The counts include the announcer (as a scrape would count it, and as opentracker and
    // WebTorrent do); its own list never holds it.
    const want = Math.min(getU16LE(b, p + A_WANT), MAX_PEERS), peers = o + ANSWER_HEADER;
    const n = mode & ANNOUNCE_PEER_IDS
      // Peers, then their peer ids in the same order (an HTTP `compact=0` list).
      ? lists.select(id, out, peers, want, r, out, peers + this.#listed(lists, id, want, r))
      : lists.select(id, out, peers, want, r);
    const len = writeAnswerHeader(
      b,
      p,
      out,
      o,
      0,
      n,
      interval,
      this.seedersOf(id),
      this.leechersOf(id),
    );
    return len + n * (ipLen + 2 + (mode & ANNOUNCE_PEER_IDS ? 20 : 0));
  }

  #removeAt(lists: PeerLists, id: number, r: number): void {
    if (lists.flags(id, r) & FLAG_SEEDER) this.seeders--;
    lists.remove(id, r);
    this.peers--;
  }

  /**
   * Takes the peer at `where[w]` (family, 16-byte IP, port: `peer_accounts.ts`) out of the
   * torrent whose info hash is at `b[ih]`, if it is there.
   */
  removePeer(where: Uint8Array, w: number, b: Uint8Array, ih: number): void {
    const id = this.torrents.find(b, ih);
    if (id < 0) return;
    const lists = where[w] === 6 ? this.v6 : this.v4, key = this.#key, ipLen = lists.ipLen;
    const ipFrom = w + 1 + 16 - ipLen;
    for (let j = 0; j < ipLen; j++) key[j] = where[ipFrom + j];
    key[ipLen] = where[w + 17];
    key[ipLen + 1] = where[w + 18];
    const r = lists.find(id, key, 0);
    if (r >= 0) this.#removeAt(lists, id, r);
  }

  /** The seeders, leechers and completed count of the torrent `infoHash` (zeros: unknown). */
  torrent(infoHash: Uint8Array): [number, number, number] {
    const id = this.torrents.find(infoHash, 0);
    if (id < 0) return [0, 0, 0];
    return [this.seedersOf(id), this.leechersOf(id), this.torrents.completed[id]];
  }

  /** A private tracker's new or changed keys: a revoked key's peers leave at once. */
  keys(update: KeyUpdate): void {
    this.#private ??= new SwarmAccounting((where, w, b, ih) => this.removePeer(where, w, b, ih));
    this.#private.update(update);
  }

  /** `Refusal.KeyRevoked` when the keyed announce at `b[p]` names a revoked key, else 0. */
  keyRefusal(b: Uint8Array, p: number): number {
    return this.#private?.keyRefusal(b, p) ?? 0;
  }

  /** Accounts the keyed announce at `b[p]`, answered at `now`. */
  account(b: Uint8Array, p: number, now: number): void {
    this.#private?.account(b, p, now);
  }

  /** The accounting since the last call, reset (`peer_accounts.ts` records). */
  drainAccounts(): Uint8Array<ArrayBuffer> {
    return this.#private?.accounts.drain() ?? new Uint8Array(0);
  }

  /** Bytes of the addresses `select` will list for `want` peers of torrent `id` without `r`. */
  #listed(lists: PeerLists, id: number, want: number, r: number): number {
    return Math.min(want, lists.n[id] - (r >= 0 ? 1 : 0)) * lists.keyLen;
  }

  /** Makes room for a torrent by dropping the one emptied longest ago; false if none is. */
  #evictEmpty(): boolean {
    const id = this.empty.oldest();
    if (id < 0) return false;
    this.#drop(id);
    return true;
  }

  /** Removes torrent `id` with everything it holds. */
  #drop(id: number): void {
    this.empty.remove(id);
    this.v4.release(id);
    this.v6.release(id);
    this.torrents.remove(id);
  }

  /** Appends every torrent `access` allows as its info hash and scrape entry; returns how many. */
  scrapeAll(w: BatchWriter, access: AccessList): number {
    const table = this.torrents;
    let n = 0;
    for (let id = 0; id < table.idLimit; id++) {
      if (!table.isLive(id)) continue;
      const at = w.take(20 + 12);
      table.keyOf(id, w.buf, at);
      if (!access.allows(w.buf, at)) {
        w.len = at;
        continue;
      }
      writeScrapeEntry(
        w.buf,
        at + 20,
        this.seedersOf(id),
        table.completed[id],
        this.leechersOf(id),
      );
      n++;
    }
    return n;
  }

  /** Writes the scrape entry for the info hash at `b[off]` (zeros when unknown). */
  scrape(b: Uint8Array, off: number, out: Uint8Array, o: number): number {
    const id = this.torrents.find(b, off);
    if (id < 0) return writeScrapeEntry(out, o, 0, 0, 0);
    return writeScrapeEntry(
      out,
      o,
      this.seedersOf(id),
      this.torrents.completed[id],
      this.leechersOf(id),
    );
  }

  /**
   * The `top` largest swarms, and client names counted over about `sample` peers spread over
   * all torrents. Walks every torrent: call it rarely (the statistics page caches it).
   */
  details(top: number, sample: number): SwarmDetails {
    return swarmDetails(this, top, sample);
  }

  /**
   * Continues the cleaning pass: visits up to `budget` torrent ids, removing peers last seen
   * before `cutoff`, torrents the access list refuses (after it changed), and torrents left
   * without peers that have no completed count to keep (those that have one join `empty`).
   * Returns true when the pass is complete.
   */
  clean(_now: number, cutoff: number, budget: number): boolean {
    const table = this.torrents, key = this.#key;
    let id = this.#cleanCursor;
    const end = Math.min(table.idLimit, id + budget);
    for (; id < end; id++) {
      if (!table.isLive(id)) continue;
      table.keyOf(id, key, 0);
      const allows = this.#access.allows(key, 0);
      const drop = allows ? cutoff : Infinity; // Infinity: every peer is too old
      this.#cleanList(this.v4, id, drop);
      this.#cleanList(this.v6, id, drop);
      if (this.v4.n[id] === 0 && this.v6.n[id] === 0) {
        if (table.completed[id] === 0 || !allows) this.#drop(id);
        else if (!this.empty.has(id)) this.empty.push(id);
      }
    }
    if (id >= table.idLimit) {
      this.#cleanCursor = 0;
      this.#private?.accounts.clean(cutoff);
      table.compact();
      return true;
    }
    this.#cleanCursor = id;
    return false;
  }

  /** Every torrent and peer, as state file entries (`saved_swarms.ts`). */
  save(): Uint8Array<ArrayBuffer> {
    return saveSwarms(this);
  }

  /**
   * The torrents of the cluster shards `arg` marks (`shared/store/cluster_shards.ts`'s
   * `handOffArg`), as state file entries, taken out of this store: another node owns them now.
   */
  handOff(arg: Uint8Array): Uint8Array<ArrayBuffer> {
    const handed = handOffTest(arg);
    return saveSwarms(this, (h) => handed(h, 0), (id) => {
      this.peers -= this.v4.n[id] + this.v6.n[id];
      this.seeders -= this.seedersOf(id);
      this.#drop(id);
    });
  }

  /** Loads state file entries, keeping peers seen at or after `cutoff`. */
  load(body: Uint8Array, cutoff: number, now: number): { torrents: number; peers: number } {
    return loadSwarms(this, body, cutoff, now);
  }

  /** Adds a peer from the state file (`saved_swarms.ts`); false if it is there or does not fit. */
  restorePeer: SavedStore["restorePeer"] = (id, lists, rec, at, pid, flags, seen) => {
    if (lists.find(id, rec, at) >= 0) return false;
    if (lists.add(id, rec, at, rec, pid, flags, seen) < 0) return false;
    this.peers++;
    if (flags & FLAG_SEEDER) this.seeders++;
    this.empty.remove(id);
    return true;
  };

  /** Handles a batch of announces and scrape parts from socket worker `from`. */
  receive(from: number, batch: Uint8Array, now: number): void {
    const w = this.#writers[from] ??= new BatchWriter();
    try {
      handleRequestBatch(this, this.#access, batch, w, now);
    } catch (err) {
      w.clear(); // a half-written batch must not reach the socket worker
      throw err;
    }
  }

  /** Answers another node's batch (`shared/runtime/request_host.ts`) into `w`, at `now`. */
  answerRemote(batch: Uint8Array, now: number, w: BatchWriter): void {
    const keys = this.#private?.keys ?? null;
    if (keys === null) return handleRequestBatch(this, this.#access, batch, w, now);
    const local = this.#keyed;
    local.clear();
    localKeys(batch, local, (b, s, e) => keys.find(b, s, e), MAX_KEYS);
    handleRequestBatch(this, this.#access, local.buf.subarray(0, local.len), w, now);
  }

  /** Posts each socket worker's answers as one batch. */
  flush(ports: Port[]): void {
    for (let j = 0; j < this.#writers.length; j++) this.#writers[j]?.flushTo(ports[j]);
  }

  /** Announces refused so far, by limit. */
  refusals(): Refusals {
    return { max_torrents: this.refusedTorrents, max_peers_per_torrent: this.refusedPeers };
  }

  /** This request worker's statistics. */
  stats(index: number): RequestStats {
    const { size } = this.torrents, p = this.#private;
    return {
      role: "request",
      index,
      torrents: size,
      peers: this.peers,
      seeders: this.seeders,
      refused: this.refusals(),
      ...(p && { accounting: { unaccounted: p.accounts.overflow, revokedDropped: p.dropped } }),
    };
  }

  #cleanList(lists: PeerLists, id: number, cutoff: number): void {
    const seedersBefore = lists.seeders[id];
    this.peers -= lists.removeOlderThan(id, cutoff);
    this.seeders -= seedersBefore - lists.seeders[id];
  }
}
