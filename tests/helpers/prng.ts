/**
 * A seeded xorshift32 generator for the fuzz and hostile-client tests: the same seed gives the
 * same inputs, so a failure can be replayed with `SHOAL_FUZZ_SEED`.
 *
 * @module
 */

/** The fuzz tests' seed: `SHOAL_FUZZ_SEED`, or a fixed default so every run is the same. */
export const FUZZ_SEED = Number(Deno.env.get("SHOAL_FUZZ_SEED") ?? 20261124);

/** A xorshift32 sequence from `seed`: `next` gives a u32, `below(n)` one in [0, n), `chance(p)` true with probability p. */
export function prng(seed: number): {
  next: () => number;
  below: (n: number) => number;
  chance: (p: number) => boolean;
} {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
  return { next, below: (n: number) => next() % n, chance: (p: number) => next() / 4294967296 < p };
}
