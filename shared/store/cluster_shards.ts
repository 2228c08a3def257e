/**
 * Which node owns which part of the info-hash space. The space is cut into `SHARDS` shards by
 * a keyed hash of the info hash (HalfSipHash-1-3 under a key every node derives from the
 * cluster's secret: clients choose info hashes, and must not be able to pile them on one
 * shard), and each shard goes to the live node that scores highest for it (rendezvous hashing). Every node that sees the
 * same live set computes the same owners, with nothing to agree on beyond that set; and when
 * a node joins or leaves, only the shards it wins or held move.
 *
 * @module
 */

import { HalfSipHash13 } from "../base/hash.ts";

/** Shards of the info-hash space. */
export const SHARDS = 1024;

/** The shards of info hashes under one cluster's key. */
export class ClusterShards {
  /** The key's two words (what `handOffArg` sends along). */
  readonly key: Uint32Array;
  #hash: HalfSipHash13;

  /** Shards under `key` (two words, `config/cluster_section.ts`'s `shardKeyOf`). */
  constructor(key: Uint32Array) {
    this.key = key;
    this.#hash = new HalfSipHash13(key[0], key[1]);
  }

  /**
   * The keyed hash of the info hash at `b[o]` (20 bytes): its low bits are its shard, and the
   * whole, modulo the owner's request workers, the request worker that owns it there (a node's
   * process shards by the same key, so every node names the same one).
   */
  hash(b: Uint8Array, o: number): number {
    return this.#hash.hash(b, o, 20);
  }

  /** The shard of the info hash at `b[o]` (20 bytes). */
  of(b: Uint8Array, o: number): number {
    return this.#hash.hash(b, o, 20) & (SHARDS - 1);
  }
}

/** A request worker's handoff request: the shard key, then one byte per shard (1: hand it). */
export function handOffArg(shards: ClusterShards, mask: Uint8Array): Uint8Array {
  const a = new Uint8Array(8 + SHARDS);
  new DataView(a.buffer).setUint32(0, shards.key[0], true);
  new DataView(a.buffer).setUint32(4, shards.key[1], true);
  a.set(mask.subarray(0, SHARDS), 8);
  return a;
}

/** Reads `handOffArg`'s bytes: whether the info hash at `b[o]` is to be handed. */
export function handOffTest(arg: Uint8Array): (b: Uint8Array, o: number) => boolean {
  const v = new DataView(arg.buffer, arg.byteOffset, arg.byteLength);
  const shards = new ClusterShards(new Uint32Array([v.getUint32(0, true), v.getUint32(4, true)]));
  return (b, o) => arg[8 + shards.of(b, o)] === 1;
}

/** FNV-1a over `s`'s UTF-16 units: a node name's seed (stable across nodes and versions). */
function seedOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A node's score for `shard`: a 32-bit mix of its seed and the shard. */
function score(seed: number, shard: number): number {
  let h = Math.imul(seed ^ Math.imul(shard + 1, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The owner of every shard among `nodes` (names), as indices into `nodes` sorted; ties (equal
 * scores) go to the smaller name. Empty `nodes`: every owner is -1.
 */
export function assignShards(nodes: readonly string[]): { nodes: string[]; owner: Int16Array } {
  const sorted = [...new Set(nodes)].sort();
  const seeds = sorted.map(seedOf);
  const owner = new Int16Array(SHARDS).fill(-1);
  for (let s = 0; s < SHARDS; s++) {
    let best = -1, bestScore = -1;
    for (let n = 0; n < seeds.length; n++) {
      const v = score(seeds[n], s);
      if (v > bestScore) {
        best = n;
        bestScore = v;
      }
    }
    owner[s] = best;
  }
  return { nodes: sorted, owner };
}

/** How many shards `node` owns under `owners` (from `assignShards`). */
export function shardsOf(
  node: string,
  owners: { nodes: string[]; owner: Int16Array },
): number {
  const i = owners.nodes.indexOf(node);
  if (i < 0) return 0;
  let n = 0;
  for (const o of owners.owner) if (o === i) n++;
  return n;
}
