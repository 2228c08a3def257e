/**
 * Requests waiting for the swarms, by token: which connection, which of its requests, and how
 * to answer it. A token is a slot and a generation, so an answer that comes after its slot
 * was given up and reused is recognised as stale. Six typed arrays and a free list: nothing is
 * allocated per request.
 *
 * @module
 */

/** Tokens in one table: requests one socket worker may have waiting for the swarms. */
export const TOKENS = 1 << 16;

/** Requests waiting for the swarms, for connections of type `C`. */
export class Tokens<C> {
  #conn: (C | undefined)[] = new Array(TOKENS);
  #seq = new Uint32Array(TOKENS);
  #flags = new Uint8Array(TOKENS);
  #gen = new Uint16Array(TOKENS);
  #time = new Uint32Array(TOKENS);
  #free = new Int32Array(TOKENS);
  #top = TOKENS;

  constructor() {
    for (let i = 0; i < TOKENS; i++) this.#free[i] = TOKENS - 1 - i;
  }

  /** A token for request `seq` of `c`, answered with `flags`, taken at `now`; -1 when full. */
  take(c: C, seq: number, flags: number, now: number): number {
    if (this.#top === 0) return -1;
    const t = this.#free[--this.#top];
    this.#conn[t] = c;
    this.#seq[t] = seq;
    this.#flags[t] = flags;
    const gen = (this.#gen[t] + 1) & 0xffff;
    this.#gen[t] = gen;
    this.#time[t] = now;
    return ((gen << 16) | t) >>> 0;
  }

  /** The connection `token` is for, or undefined when it is stale (given up, reused). */
  conn(token: number): C | undefined {
    const t = token & 0xffff;
    return this.#gen[t] === token >>> 16 ? this.#conn[t] : undefined;
  }

  /** The request number `token` answers. */
  seq(token: number): number {
    return this.#seq[token & 0xffff];
  }

  /** The flags `token` was taken with. */
  flags(token: number): number {
    return this.#flags[token & 0xffff];
  }

  /** Frees `token`'s slot. */
  release(token: number): void {
    const t = token & 0xffff;
    this.#conn[t] = undefined;
    this.#free[this.#top++] = t;
  }

  /** Calls `gone` with each token taken more than `timeout` seconds before `now`. */
  expired(now: number, timeout: number, gone: (token: number) => void): void {
    for (let t = 0; t < TOKENS; t++) {
      if (this.#conn[t] === undefined || now - this.#time[t] <= timeout) continue;
      gone(((this.#gen[t] << 16) | t) >>> 0);
    }
  }
}
