/**
 * An ordered set of dense ids (torrent ids) as a doubly linked list in two typed arrays:
 * append, remove and take-the-oldest are O(1), and it holds no object per member. The UDP
 * swarms keep the torrents that have no peers left (only a completed count) in one, oldest
 * first, to evict when the torrent table is full.
 *
 * @module
 */

/** An ordered set of ids below a capacity that can grow. */
export class IdList {
  /** Members. */
  size = 0;
  #prev: Int32Array; // -2: not a member; -1: the first member
  #next: Int32Array; // -1: the last member
  #head = -1;
  #tail = -1;

  /** An empty list for ids below `capacity`. */
  constructor(capacity: number) {
    this.#prev = new Int32Array(capacity).fill(-2);
    this.#next = new Int32Array(capacity).fill(-1);
  }

  /** Lets ids up to `capacity` in. */
  grow(capacity: number): void {
    const prev = new Int32Array(capacity).fill(-2), next = new Int32Array(capacity).fill(-1);
    prev.set(this.#prev);
    next.set(this.#next);
    this.#prev = prev;
    this.#next = next;
  }

  /** True when `id` is a member. */
  has(id: number): boolean {
    return this.#prev[id] !== -2;
  }

  /** Appends `id` (not a member) as the newest member. */
  push(id: number): void {
    this.#prev[id] = this.#tail;
    this.#next[id] = -1;
    if (this.#tail >= 0) this.#next[this.#tail] = id;
    else this.#head = id;
    this.#tail = id;
    this.size++;
  }

  /** Removes `id` if it is a member. */
  remove(id: number): void {
    const p = this.#prev[id];
    if (p === -2) return;
    const n = this.#next[id];
    if (p >= 0) this.#next[p] = n;
    else this.#head = n;
    if (n >= 0) this.#prev[n] = p;
    else this.#tail = p;
    this.#prev[id] = -2;
    this.#next[id] = -1;
    this.size--;
  }

  /** The oldest member, or -1 when empty. */
  oldest(): number {
    return this.#head;
  }
}
