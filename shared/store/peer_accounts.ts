/**
 * A private tracker's accounting in a request worker: per peer (key, info hash, peer id), the
 * uploaded and downloaded totals it last announced, so each announce adds only what moved
 * since the one before; and what moved since the main thread last collected (`drain`).
 *
 * Decisions (the README's "Private tracking" section says them to users):
 * - A counter lower than the last one is a new session of the client (it restarted): the new
 *   value counts whole, never a negative delta.
 * - A peer's first announce counts its values when it is `started` (a new session: normally
 *   zero), and is only a baseline otherwise (the tracker restarted or forgot the peer): at most
 *   one announce interval of traffic goes uncounted, never any counted twice.
 * - `stopped` counts, then forgets the peer (its next announce starts a new session).
 * - A peer's `completed` counts once.
 * - The same (key, info hash, peer id) over IPv4 and IPv6 is one peer here: its counters are
 *   the client's own totals, so they count once. Each info hash is its own torrent: a hybrid
 *   v1/v2 torrent announced under both hashes counts under both.
 *
 * Entries are records in typed arrays, in an open-addressed table: no allocation per
 * announce, and a lookup touches the slot, one 64-byte record of bytes (identity, place,
 * flags) and one of numbers, not an array per field. At `maxEntries` new peers are not
 * accounted (`overflow` counts them; a metric shows it). Entries are keyed peers of the swarms,
 * gone with them, so the bound is far above any tracker's peers per worker: the arrays grow
 * with the entries held, not with the bound.
 *
 * @module
 */

import { randomWords } from "../base/hash.ts";
import { mixHash } from "../base/mix_hash.ts";
import { getU32LE, setU32LE } from "../base/bytes.ts";

/** Bytes of a peer's identity: key index (u32 LE), info hash, peer id. */
const ID_LEN = 44;
/** Bytes of where the peer is: family, 16-byte IP (v4-mapped for IPv4), big-endian port. */
export const WHERE_LEN = 19;
/** Bytes per drained record: key (u32), info hash, uploaded and downloaded (f64), completed (u32), seeded (u8), 3 spare. */
export const DRAIN_LEN = 4 + 20 + 8 + 8 + 4 + 4;

/** An entry's bytes: identity at 0, place at `WHERE`, flags at `FLAGS`. */
const REC = 64, WHERE = ID_LEN, FLAGS = 63;
/** An entry's numbers: last uploaded and downloaded, last seen, pending up, down, completed. */
const NUM = 8, LAST_UP = 0, LAST_DOWN = 1, SEEN = 2, PEND_UP = 3, PEND_DOWN = 4, PEND_DONE = 5;

const USED = 1, DIRTY = 2, SEEDED = 4, COMPLETED = 8, GONE = 16;

/** Most peers one request worker accounts (16M: 2 GiB of entries, were they all held). */
export const MAX_ENTRIES = 1 << 24;

/** Accounting of one request worker. */
export class PeerAccounts {
  /** Live entries. */
  size = 0;
  /** New peers not accounted because the table was full. */
  overflow = 0;
  #max: number;
  #cap = 0;
  #slots = new Int32Array(2048); // entry + 1; 0 empty; -1 removed
  #used = 0; // slots not empty (live and removed)
  #rec = new Uint8Array(0);
  #num = new Float64Array(0);
  #free: number[] = [];
  #next = 0;
  #dirty: number[] = [];
  #scratch = new Uint8Array(ID_LEN);
  #seed = randomWords(2);
  /** The hash `#find` computed last, for the `#add` that follows a miss. */
  #lastHash = 0;
  #f64 = new Float64Array(1);
  #f64b = new Uint8Array(this.#f64.buffer);

  /** An empty table of at most `maxEntries` peers (128 bytes each when full). */
  constructor(maxEntries = MAX_ENTRIES) {
    this.#max = maxEntries;
    this.#grow(1024);
  }

  /**
   * Accounts an announce of key `key` for the info hash at `b[ih]` and peer id at `b[pid]`,
   * with its `uploaded` and `downloaded` totals, `event` (BEP 15 numbers), seeding or not, at
   * `now`, from the peer at `where[w]` (`WHERE_LEN` bytes).
   */
  record(
    key: number,
    b: Uint8Array,
    ih: number,
    pid: number,
    uploaded: number,
    downloaded: number,
    event: number,
    seeder: boolean,
    now: number,
    where: Uint8Array,
    w: number,
  ): void {
    const id = this.#scratch;
    setU32LE(id, 0, key);
    for (let j = 0; j < 20; j++) id[4 + j] = b[ih + j];
    for (let j = 0; j < 20; j++) id[24 + j] = b[pid + j];
    let e = this.#find(id);
    let up: number, down: number;
    const num = this.#num;
    if (e < 0) {
      if (event === 3) return; // stopped, and never seen: nothing to count from
      e = this.#add(id);
      if (e < 0) return;
      // Started: a new session, counted from zero. Otherwise a baseline (see the module).
      up = event === 2 ? uploaded : 0;
      down = event === 2 ? downloaded : 0;
    } else {
      const lu = num[e * NUM + LAST_UP], ld = num[e * NUM + LAST_DOWN];
      up = uploaded >= lu ? uploaded - lu : uploaded;
      down = downloaded >= ld ? downloaded - ld : downloaded;
    }
    const n = e * NUM, r = e * REC, rec = this.#rec;
    num[n + LAST_UP] = uploaded;
    num[n + LAST_DOWN] = downloaded;
    num[n + SEEN] = now;
    for (let j = 0; j < WHERE_LEN; j++) rec[r + WHERE + j] = where[w + j];
    const before = rec[r + FLAGS];
    let f = before, done = 0;
    if (event === 1 && !(f & COMPLETED)) {
      f |= COMPLETED;
      done = 1;
    }
    if (seeder) f |= SEEDED;
    if (up > 0 || down > 0 || done > 0 || (seeder && !(before & SEEDED))) {
      num[n + PEND_UP] += up;
      num[n + PEND_DOWN] += down;
      num[n + PEND_DONE] += done;
      if (!(f & DIRTY)) {
        f |= DIRTY;
        this.#dirty.push(e);
      }
    }
    rec[r + FLAGS] = f;
    if (event === 3) this.#remove(e);
  }

  /**
   * Forgets every peer of key `key`, calling `drop(where, w, b, ih)` with each one's place and
   * info hash first (to take it out of its swarm). Their pending totals are still drained.
   */
  revoke(
    key: number,
    drop: (where: Uint8Array, w: number, id: Uint8Array, ih: number) => void,
  ): number {
    let n = 0;
    const rec = this.#rec;
    for (let e = 0; e < this.#next; e++) {
      const f = rec[e * REC + FLAGS];
      if (!(f & USED) || (f & GONE) || getU32LE(rec, e * REC) !== key) continue;
      drop(rec, e * REC + WHERE, rec, e * REC + 4);
      this.#remove(e);
      n++;
    }
    return n;
  }

  /** Forgets peers last seen before `cutoff` (they left the swarms too). */
  clean(cutoff: number): void {
    const rec = this.#rec, num = this.#num;
    for (let e = 0; e < this.#next; e++) {
      const f = rec[e * REC + FLAGS];
      if ((f & USED) && !(f & GONE) && num[e * NUM + SEEN] < cutoff) this.#remove(e);
    }
    if (this.#used > 2 * this.size + 1024) this.#rehash(this.#slots.length);
  }

  /** Pending records (`DRAIN_LEN` each), and the pending totals reset. */
  drain(): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(this.#dirty.length * DRAIN_LEN);
    const rec = this.#rec, num = this.#num;
    let o = 0;
    for (const e of this.#dirty) {
      const n = e * NUM, r = e * REC;
      for (let j = 0; j < 24; j++) out[o + j] = rec[r + j];
      this.#putF64(out, o + 24, num[n + PEND_UP]);
      this.#putF64(out, o + 32, num[n + PEND_DOWN]);
      setU32LE(out, o + 40, num[n + PEND_DONE]);
      out[o + 44] = rec[r + FLAGS] & SEEDED ? 1 : 0;
      o += DRAIN_LEN;
      num[n + PEND_UP] = num[n + PEND_DOWN] = num[n + PEND_DONE] = 0;
      const f = rec[r + FLAGS] & ~DIRTY;
      rec[r + FLAGS] = f;
      if (f & GONE) this.#release(e);
    }
    this.#dirty.length = 0;
    return out;
  }

  #putF64(out: Uint8Array, o: number, v: number): void {
    this.#f64[0] = v;
    out.set(this.#f64b, o);
  }

  #hash(id: Uint8Array, off: number): number {
    return mixHash(id, off, ID_LEN, this.#seed[0], this.#seed[1]);
  }

  #find(id: Uint8Array): number {
    const mask = this.#slots.length - 1, rec = this.#rec;
    const h = this.#lastHash = this.#hash(id, 0);
    for (let s = h & mask;; s = (s + 1) & mask) {
      const v = this.#slots[s];
      if (v === 0) return -1;
      if (v < 0) continue;
      const o = (v - 1) * REC;
      let j = 0;
      while (j < ID_LEN && rec[o + j] === id[j]) j++;
      if (j === ID_LEN) return v - 1;
    }
  }

  #add(id: Uint8Array): number {
    if (this.size >= this.#max) {
      this.overflow++;
      return -1;
    }
    // Half the slots at most in use (live or removed); a rehash clears the removed.
    if ((this.#used + 1) * 2 > this.#slots.length) {
      this.#rehash(
        this.size * 4 > this.#slots.length ? this.#slots.length * 2 : this.#slots.length,
      );
    }
    let e = this.#free.pop();
    if (e === undefined) {
      if (this.#next >= this.#cap) this.#grow(this.#cap * 2);
      e = this.#next++;
    }
    const r = e * REC, n = e * NUM, rec = this.#rec, num = this.#num;
    for (let j = 0; j < ID_LEN; j++) rec[r + j] = id[j];
    for (let j = 0; j < NUM; j++) num[n + j] = 0;
    rec[r + FLAGS] = USED;
    const mask = this.#slots.length - 1;
    let s = this.#lastHash & mask; // `#add` follows the `#find` that missed
    while (this.#slots[s] > 0) s = (s + 1) & mask;
    if (this.#slots[s] === 0) this.#used++;
    this.#slots[s] = e + 1;
    this.size++;
    return e;
  }

  /** Takes entry `e` out of the table; it is freed once its pending totals are drained. */
  #remove(e: number): void {
    const mask = this.#slots.length - 1;
    for (let s = this.#hash(this.#rec, e * REC) & mask;; s = (s + 1) & mask) {
      const v = this.#slots[s];
      if (v === 0) break;
      if (v === e + 1) {
        this.#slots[s] = -1;
        break;
      }
    }
    this.size--;
    const r = e * REC + FLAGS;
    if (this.#rec[r] & DIRTY) this.#rec[r] |= GONE;
    else this.#release(e);
  }

  #release(e: number): void {
    this.#rec[e * REC + FLAGS] = 0;
    this.#free.push(e);
  }

  #rehash(cap: number): void {
    this.#slots = new Int32Array(cap);
    this.#used = 0;
    const mask = cap - 1, rec = this.#rec;
    for (let e = 0; e < this.#next; e++) {
      const f = rec[e * REC + FLAGS];
      if (!(f & USED) || (f & GONE)) continue;
      let s = this.#hash(rec, e * REC) & mask;
      while (this.#slots[s] !== 0) s = (s + 1) & mask;
      this.#slots[s] = e + 1;
      this.#used++;
    }
  }

  /** Room for `cap` entries (the slots follow in `#add`). */
  #grow(cap: number): void {
    const rec = new Uint8Array(cap * REC);
    rec.set(this.#rec);
    this.#rec = rec;
    const num = new Float64Array(cap * NUM);
    num.set(this.#num);
    this.#num = num;
    this.#cap = cap;
  }
}
