/**
 * The torrents one request worker owns, and the announce and scrape logic over them. Pure:
 * bytes in, bytes out, no sockets or workers.
 *
 * A torrent holds one peer list per address family (a peer only ever sees peers of its own
 * family) and a completed count. Seeder and leecher counts in responses cover both families.
 *
 * @module
 */

import { ByteMap } from "../shared/byte_map.ts";
import { HalfSipHash13 } from "../shared/hash.ts";
import {
  AnnounceEvent,
  isSeeder,
  OFF_EVENT,
  OFF_INFO_HASH,
  OFF_NUMWANT,
  OFF_PEER_ID,
  OFF_PORT,
  readI32,
  writeAnnounceHeader,
  writeScrapeEntry,
} from "./codec.ts";
import { FLAG_COMPLETED, FLAG_SEEDER, PeerList } from "./peer_list.ts";

/** One torrent: its peers by family and how many downloads completed. */
export class Torrent {
  /** IPv4 peers, created on the first IPv4 announce. */
  v4: PeerList | null = null;
  /** IPv6 peers, created on the first IPv6 announce. */
  v6: PeerList | null = null;
  /** Completed downloads (one per peer that sent `completed`). */
  completed = 0;

  /** Seeders over both families. */
  get seeders(): number {
    return (this.v4?.seeders ?? 0) + (this.v6?.seeders ?? 0);
  }

  /** Leechers over both families. */
  get leechers(): number {
    return (this.v4?.leechers ?? 0) + (this.v6?.leechers ?? 0);
  }
}

/** Settings the swarm logic needs. */
export interface SwarmSettings {
  /** Announce interval to send, seconds. */
  interval: number;
  /** Peers sent when the client wants more than this or `numwant <= 0`. */
  maxResponsePeers: number;
}

/** The torrents of one request worker. */
export class Swarms {
  /** Torrents by info hash. */
  readonly torrents: ByteMap<Torrent>;
  /** Peers over all torrents and families. */
  peers = 0;
  /** Seeders over all torrents and families. */
  seeders = 0;
  #settings: SwarmSettings;
  #hasher: HalfSipHash13;
  #key = new Uint8Array(36);
  #cleanCursor = 0;

  /** Creates an empty store; `key` is four random words that key its hash tables. */
  constructor(settings: SwarmSettings, key: Uint32Array) {
    this.#settings = settings;
    this.torrents = new ByteMap<Torrent>(20, key[0], key[1]);
    this.#hasher = new HalfSipHash13(key[2], key[3]);
  }

  /**
   * Handles the announce request at `pkt[off]` (already checked: valid length, event and port)
   * from the 18-byte address at `addrs[a]`, and writes the response into `out[o]`.
   * Returns the response length.
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
  ): number {
    const event = readI32(pkt, off + OFF_EVENT);
    const tid = readI32(pkt, off + 12);
    const interval = this.#settings.interval;
    let torrent = this.torrents.get(pkt, off + OFF_INFO_HASH);
    if (torrent === undefined) {
      if (event === AnnounceEvent.Stopped) return writeAnnounceHeader(out, o, tid, interval, 0, 0);
      torrent = new Torrent();
      this.torrents.insert(pkt, off + OFF_INFO_HASH, torrent);
    }
    let list = family === 4 ? torrent.v4 : torrent.v6;
    if (list === null && event === AnnounceEvent.Stopped) {
      return writeAnnounceHeader(out, o, tid, interval, torrent.leechers, torrent.seeders);
    }
    if (list === null) {
      list = new PeerList(family === 4 ? 4 : 16, this.#hasher);
      if (family === 4) torrent.v4 = list;
      else torrent.v6 = list;
    }

    // Key: peer id then the IP (IPv4 is the last 4 bytes of its v4-mapped record).
    const key = this.#key;
    for (let j = 0; j < 20; j++) key[j] = pkt[off + OFF_PEER_ID + j];
    const ipFrom = family === 4 ? a + 12 : a;
    const ipLen = list.ipLen;
    for (let j = 0; j < ipLen; j++) key[20 + j] = addrs[ipFrom + j];

    let r = list.find(key, 0);
    if (event === AnnounceEvent.Stopped) {
      if (r >= 0) {
        if (list.flags(r) & FLAG_SEEDER) this.seeders--;
        list.remove(r);
        this.peers--;
      }
      return writeAnnounceHeader(out, o, tid, interval, torrent.leechers, torrent.seeders);
    }

    const seeder = isSeeder(pkt, off);
    const before = r >= 0 ? list.flags(r) : 0;
    let flags = (before & FLAG_COMPLETED) | (seeder ? FLAG_SEEDER : 0);
    if (event === AnnounceEvent.Completed && !(before & FLAG_COMPLETED)) {
      flags |= FLAG_COMPLETED;
      torrent.completed++;
    }
    const portHi = pkt[off + OFF_PORT], portLo = pkt[off + OFF_PORT + 1];
    if (r >= 0) {
      list.update(r, portHi, portLo, flags, now);
    } else {
      r = list.add(key, 0, portHi, portLo, flags, now);
      this.peers++;
    }
    this.seeders += (flags & FLAG_SEEDER) - (before & FLAG_SEEDER);

    let want = readI32(pkt, off + OFF_NUMWANT);
    const max = this.#settings.maxResponsePeers;
    if (want <= 0 || want > max) want = max;
    // The announcer is neither in its own peer list nor in its own counts.
    const seeders = torrent.seeders - (seeder ? 1 : 0);
    const leechers = torrent.leechers - (seeder ? 0 : 1);
    let len = writeAnnounceHeader(out, o, tid, interval, leechers, seeders);
    len += list.select(out, o + len, want, r) * (ipLen + 2);
    return len;
  }

  /** Writes the scrape entry for the info hash at `b[off]` (zeros when unknown). */
  scrape(b: Uint8Array, off: number, out: Uint8Array, o: number): number {
    const t = this.torrents.get(b, off);
    if (t === undefined) return writeScrapeEntry(out, o, 0, 0, 0);
    return writeScrapeEntry(out, o, t.seeders, t.completed, t.leechers);
  }

  /**
   * Continues the cleaning pass: visits up to `budget` torrent slots, removing peers last seen
   * before `cutoff` and torrents left without peers. Returns true when the pass is complete.
   */
  clean(cutoff: number, budget: number): boolean {
    const map = this.torrents;
    let i = this.#cleanCursor;
    const end = Math.min(map.capacity, i + budget);
    while (i < end) {
      const t = map.valueAt(i);
      if (t === undefined) {
        i++;
        continue;
      }
      if (t.v4 !== null) {
        this.#cleanList(t.v4, cutoff);
        if (t.v4.n === 0) t.v4 = null;
      }
      if (t.v6 !== null) {
        this.#cleanList(t.v6, cutoff);
        if (t.v6.n === 0) t.v6 = null;
      }
      // Deleting shifts a later entry into slot i, so look at slot i again.
      if (t.v4 === null && t.v6 === null) map.deleteAt(i);
      else i++;
    }
    if (i >= map.capacity) {
      this.#cleanCursor = 0;
      map.compact();
      return true;
    }
    this.#cleanCursor = i;
    return false;
  }

  #cleanList(list: PeerList, cutoff: number): void {
    const seedersBefore = list.seeders;
    const removed = list.removeOlderThan(cutoff);
    this.peers -= removed;
    this.seeders -= seedersBefore - list.seeders;
  }
}
