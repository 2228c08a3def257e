/**
 * An arena of bytes for many small, growing blocks (the peer lists of a million torrents):
 * fixed chunks allocated once and never returned to malloc, blocks in size classes that grow
 * by about 1.5×, and a free list per class. Block churn therefore reuses the same pages
 * instead of fragmenting the heap, and no object exists per block.
 *
 * A block is named by its address: chunk index × `CHUNK_BYTES` + offset, below 2^32.
 *
 * @module
 */

/** Bits of the offset within a chunk. */
export const CHUNK_BITS = 24;
/** Bytes per chunk (16 MiB). */
export const CHUNK_BYTES = 1 << CHUNK_BITS;
const OFFSET_MASK = CHUNK_BYTES - 1;
/** Most chunks (addresses stay below 2^32: 4 GiB per arena). */
const MAX_CHUNKS = 256;

/** Capacities (in units) of the size classes: 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, ... */
function classCapacities(maxUnits: number): number[] {
  const caps = [1, 2, 3];
  for (let p = 4; p <= maxUnits; p *= 2) {
    caps.push(p);
    if (p + p / 2 <= maxUnits) caps.push(p + p / 2);
  }
  return caps.filter((c) => c <= maxUnits);
}

/** Blocks of `unit`-byte records in size classes. */
export class Arena {
  /** The chunks; a block lives in `chunks[addr >>> CHUNK_BITS]` at `addr & (CHUNK_BYTES-1)`. */
  readonly chunks: Uint8Array[] = [];
  /** Bytes per unit (record). */
  readonly unit: number;
  /** Capacity of each class, in units. */
  readonly capacities: number[];
  /** Bytes in blocks handed out and not freed. */
  usedBytes = 0;
  #free: number[][];
  #top = CHUNK_BYTES; // bump offset in the last chunk; "full" before the first chunk exists

  /** Creates an empty arena for records of `unit` bytes. */
  constructor(unit: number) {
    this.unit = unit;
    this.capacities = classCapacities(Math.floor(CHUNK_BYTES / unit));
    this.#free = this.capacities.map(() => []);
  }

  /** The largest capacity a block can have, in units. */
  get maxCapacity(): number {
    return this.capacities[this.capacities.length - 1];
  }

  /** The smallest class holding at least `units`, or -1 when none does. */
  classFor(units: number): number {
    const caps = this.capacities;
    for (let c = 0; c < caps.length; c++) if (caps[c] >= units) return c;
    return -1;
  }

  /** Allocates a block of class `c`; returns its address, or -1 when the arena is full. */
  alloc(c: number): number {
    const bytes = this.capacities[c] * this.unit;
    this.usedBytes += bytes;
    const free = this.#free[c];
    if (free.length > 0) return free.pop()!;
    if (this.#top + bytes > CHUNK_BYTES) {
      if (this.chunks.length === MAX_CHUNKS) {
        this.usedBytes -= bytes;
        return -1;
      }
      this.chunks.push(new Uint8Array(CHUNK_BYTES));
      this.#top = 0;
    }
    const addr = (this.chunks.length - 1) * CHUNK_BYTES + this.#top;
    this.#top += bytes;
    return addr;
  }

  /** Returns the block at `addr` of class `c` for reuse. */
  free(addr: number, c: number): void {
    this.usedBytes -= this.capacities[c] * this.unit;
    this.#free[c].push(addr);
  }

  /** The chunk holding `addr`. */
  chunk(addr: number): Uint8Array {
    return this.chunks[addr >>> CHUNK_BITS];
  }

  /** The offset of `addr` within its chunk. */
  offset(addr: number): number {
    return addr & OFFSET_MASK;
  }
}
