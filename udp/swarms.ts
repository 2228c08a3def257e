/**
 * The torrents one request worker owns, and the announce and scrape logic over them. Pure:
 * bytes in, bytes out, no sockets or workers.
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

import { HalfSipHash13 } from "../shared/base/hash.ts";
import { clientName, tally } from "../shared/store/clients.ts";
import type { Refusals, RequestStats, SwarmDetails, TopSwarm } from "../shared/store/details.ts";
import {
  AnnounceEvent,
  isSeeder,
  OFF_EVENT,
  OFF_INFO_HASH,
  OFF_NUMWANT,
  OFF_PEER_ID,
  OFF_PORT,
  Problem,
  PROBLEM_TEXT,
  readI32,
  writeAnnounceHeader,
  writeErrorResponse,
  writeScrapeEntry,
} from "./codec.ts";
import { FLAG_COMPLETED, FLAG_SEEDER, PeerLists } from "./peer_list.ts";
import { InfoHashTable } from "../shared/store/info_hash_table.ts";
import { IdList } from "../shared/store/id_list.ts";
import { BatchWriter } from "../shared/runtime/channel.ts";
import type { Link } from "../shared/runtime/link.ts";
import { AccessList } from "../shared/store/access_list.ts";
import type { SwarmStore } from "../shared/runtime/request_host.ts";
import { handleRequestBatch } from "./request_batch.ts";
import { ANNOUNCE_HTTP, ANNOUNCE_PEER_IDS, MAX_HTTP_PEERS } from "./messages.ts";
import { loadSwarms, saveSwarms } from "./saved_swarms.ts";

/** Settings the swarm logic needs. */
export interface SwarmSettings {
  /** Announce interval to send, seconds. */
  interval: number;
  /**
   * Most peers in one announce response to an IPv4 and to an IPv6 peer (`[4]`, `[6]`), also
   * sent when the client wants more or `numwant <= 0`.
   */
  responsePeers: { 4: number; 6: number };
  /** Most torrents this store keeps; announces for new ones get an error. */
  maxTorrents?: number;
  /** Most peers (per address family) in one torrent; new peers get an error. */
  maxPeersPerTorrent?: number;
}

/** The torrents of one request worker: the UDP (and HTTP) tracker's `SwarmStore`. */
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
  #settings: SwarmSettings;
  #responsePeers: { 4: number; 6: number };
  #maxTorrents: number;
  #maxPeersPerTorrent: number;
  #access: AccessList;
  #writers: BatchWriter[] = [];
  #key = new Uint8Array(36);
  #cleanCursor = 0;

  /**
   * Creates an empty store serving what `access` allows; `key` is four random words that key
   * its hash tables.
   */
  constructor(settings: SwarmSettings, key: Uint32Array, access = new AccessList()) {
    this.#settings = settings;
    this.#responsePeers = settings.responsePeers;
    this.#access = access;
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
   * Handles the announce request at `pkt[off]` (already checked: valid length, event and port)
   * from the 18-byte address at `addrs[a]`, and writes the response into `out[o]`; `mode`
   * are the record's `ANNOUNCE_*` flags (`messages.ts`). Returns the response length.
   */
  announce(
    pkt: Uint8Array,
    off: number,
    addrs: Uint8Array,
    a: number,
    family: 4 | 6,
    now: number,
    out: Uint8Array,
    o: number,
    mode = 0,
  ): number {
    const event = readI32(pkt, off + OFF_EVENT);
    const tid = readI32(pkt, off + 12);
    const interval = this.#settings.interval;
    const table = this.torrents;
    let id = table.find(pkt, off + OFF_INFO_HASH);
    if (id < 0) {
      if (event === AnnounceEvent.Stopped) return writeAnnounceHeader(out, o, tid, interval, 0, 0);
      if (table.size >= this.#maxTorrents && !this.#evictEmpty()) {
        this.refusedTorrents++;
        return writeErrorResponse(out, o, tid, PROBLEM_TEXT[Problem.TooManyTorrents]);
      }
      id = table.insert(pkt, off + OFF_INFO_HASH);
    }
    const lists = family === 4 ? this.v4 : this.v6;

    // The peer is its address: the packet's source IP (IPv4 is the last 4 bytes of its
    // v4-mapped record) and the port it announced.
    const key = this.#key;
    const ipFrom = family === 4 ? a + 12 : a;
    const ipLen = lists.ipLen;
    for (let j = 0; j < ipLen; j++) key[j] = addrs[ipFrom + j];
    key[ipLen] = pkt[off + OFF_PORT];
    key[ipLen + 1] = pkt[off + OFF_PORT + 1];

    let r = lists.find(id, key, 0);
    if (event === AnnounceEvent.Stopped) {
      if (r >= 0) {
        if (lists.flags(id, r) & FLAG_SEEDER) this.seeders--;
        lists.remove(id, r);
        this.peers--;
      }
      return writeAnnounceHeader(out, o, tid, interval, this.leechersOf(id), this.seedersOf(id));
    }

    if (r < 0 && lists.n[id] >= this.#maxPeersPerTorrent) {
      this.refusedPeers++;
      return writeErrorResponse(out, o, tid, PROBLEM_TEXT[Problem.TooManyPeers]);
    }
    const seeder = isSeeder(pkt, off);
    const before = r >= 0 ? lists.flags(id, r) : 0;
    let flags = (before & FLAG_COMPLETED) | (seeder ? FLAG_SEEDER : 0);
    if (event === AnnounceEvent.Completed && !(before & FLAG_COMPLETED)) {
      flags |= FLAG_COMPLETED;
      table.completed[id]++;
    }
    let stored = true;
    if (r >= 0) {
      lists.update(id, r, pkt, off + OFF_PEER_ID, flags, now);
    } else {
      r = lists.add(id, key, 0, pkt, off + OFF_PEER_ID, flags, now);
      if (r >= 0) {
        this.peers++;
        this.empty.remove(id);
      } else {
        stored = false;
        this.refused++;
      }
    }
    if (stored) this.seeders += (flags & FLAG_SEEDER) - (before & FLAG_SEEDER);

    let want = readI32(pkt, off + OFF_NUMWANT);
    if (mode & ANNOUNCE_HTTP) {
      want = Math.max(0, Math.min(want, MAX_HTTP_PEERS)); // as the HTTP front end asked
    } else {
      const max = this.#responsePeers[family];
      if (want <= 0 || want > max) want = max;
    }
    // The counts include the announcer (as a scrape would count it, and as opentracker and
    // WebTorrent do); its own list never holds it.
    let len = writeAnnounceHeader(out, o, tid, interval, this.leechersOf(id), this.seedersOf(id));
    if (!(mode & ANNOUNCE_PEER_IDS)) {
      return len + lists.select(id, out, o + len, want, r) * (ipLen + 2);
    }
    // Peers, then their peer ids in the same order (an HTTP `compact=0` list).
    const n = Math.min(want, lists.n[id] - (r >= 0 ? 1 : 0));
    const ids = o + len + n * (ipLen + 2);
    len += lists.select(id, out, o + len, want, r, out, ids) * (ipLen + 2 + 20);
    return len;
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
    const table = this.torrents, hash = new Uint8Array(20);
    const largest: TopSwarm[] = [];
    const clients = new Map<string, number>();
    const stride = Math.max(1, Math.floor(this.peers / sample));
    let skip = 0, sampled = 0;
    for (let id = 0; id < table.idLimit; id++) {
      if (!table.isLive(id)) continue;
      const peers = this.v4.n[id] + this.v6.n[id];
      if (
        largest.length < top ||
        peers > largest[largest.length - 1].seeders + largest[largest.length - 1].leechers
      ) {
        table.keyOf(id, hash, 0);
        largest.push({
          infoHash: [...hash].map((b) => b.toString(16).padStart(2, "0")).join(""),
          seeders: this.seedersOf(id),
          leechers: this.leechersOf(id),
          completed: table.completed[id],
        });
        largest.sort((a, b) => b.seeders + b.leechers - (a.seeders + a.leechers));
        if (largest.length > top) largest.pop();
      }
      for (const lists of [this.v4, this.v6]) {
        for (let r = 0; r < lists.n[id]; r++) {
          if (skip-- > 0) continue;
          skip = stride - 1;
          tally(clients, clientName(lists.peerIdPrefix(id, r)));
          sampled++;
        }
      }
    }
    return { top: largest, clients: [...clients], sampled };
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

  /** Loads state file entries, keeping peers seen at or after `cutoff`. */
  load(body: Uint8Array, cutoff: number, now: number): { torrents: number; peers: number } {
    return loadSwarms(this, body, cutoff, now);
  }

  /** Adds a peer from the state file (`saved_swarms.ts`); false if it is there or does not fit. */
  restorePeer(
    id: number,
    lists: PeerLists,
    rec: Uint8Array,
    at: number,
    pid: number,
    flags: number,
    seen: number,
  ): boolean {
    if (lists.find(id, rec, at) >= 0) return false;
    if (lists.add(id, rec, at, rec, pid, flags, seen) < 0) return false;
    this.peers++;
    if (flags & FLAG_SEEDER) this.seeders++;
    this.empty.remove(id);
    return true;
  }

  /** Handles a batch of announces and scrape parts from socket worker `from`. */
  receive(from: number, batch: Uint8Array, now: number): void {
    const w = this.#writers[from] ??= new BatchWriter();
    try {
      handleRequestBatch(this, this.#access, batch, w, now, this.#responsePeers);
    } catch (err) {
      w.clear(); // a half-written batch must not reach the socket worker
      throw err;
    }
  }

  /** Posts each socket worker's answers as one batch. */
  flush(ports: Link[]): void {
    for (let j = 0; j < this.#writers.length; j++) this.#writers[j]?.flushTo(ports[j]);
  }

  /** Announces refused so far, by limit. */
  refusals(): Refusals {
    return { max_torrents: this.refusedTorrents, max_peers_per_torrent: this.refusedPeers };
  }

  /** This request worker's statistics. */
  stats(index: number): RequestStats {
    const { size } = this.torrents;
    return {
      role: "request",
      index,
      torrents: size,
      peers: this.peers,
      seeders: this.seeders,
      refused: this.refusals(),
    };
  }

  #cleanList(lists: PeerLists, id: number, cutoff: number): void {
    const seedersBefore = lists.seeders[id];
    this.peers -= lists.removeOlderThan(id, cutoff);
    this.seeders -= seedersBefore - lists.seeders[id];
  }
}
