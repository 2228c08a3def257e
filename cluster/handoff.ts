/**
 * Swarms moving with their shards (`node.ts` says when): a node hands the swarms of every shard
 * another node owns to that node, as state file entries in messages NATS takes, each
 * acknowledged; the owner merges them into its request workers (peers united, completed counts
 * the larger). What an owner does not take comes back and is tried again a moment later, to
 * whoever owns it then, as is whatever another node handed here while the two saw different
 * live sets.
 *
 * @module
 */

import type { NatsConnection } from "@nats-io/transport-node";
import { ByteBuffer } from "../shared/base/byte_buffer.ts";
import { entries } from "../shared/config/state_file.ts";
import type { ShardOwners } from "../shared/runtime/cluster_init.ts";
import type { SwarmAccess } from "../shared/runtime/tracker.ts";
import { type ClusterShards, handOffArg, SHARDS } from "../shared/store/cluster_shards.ts";
import { firstLine, type Log } from "./log.ts";

/** The first byte of a handoff message: the format of the state file entries after it. */
const HANDOFF_FORMAT = 1;

/** Most bytes of entries in one handoff message (NATS takes 1 MiB by default). */
const HANDOFF_CHUNK = 512 * 1024;

/** Which node owns each shard, as a handoff reads it. */
type Owners = Pick<ShardOwners, "nodes" | "owner">;

/** One node's handoffs, out and in. */
export class Handoffs {
  /** Torrents handed over to other nodes, and taken from them. */
  handedOut = 0;
  handedIn = 0;
  #shards: ClusterShards;
  #subject: (node: string) => string;
  #self: string;
  #log: Log;
  #nc: () => NatsConnection | null;
  #owners: () => ShardOwners | null;
  #retryMs: number;
  #swarms: SwarmAccess | null = null;
  /** The handoff running now (they run one at a time). */
  #handing: Promise<unknown> = Promise.resolve();
  /** Whether the last handoff left torrents here that another node owns. */
  #untaken = false;
  #sweep: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  /**
   * Handoffs of node `self` under `shards`; `subject(node)` is where `node` takes them; `nc`
   * the connection now; `owners` the assignment now (null while not a member); what was not
   * taken is tried again after `retryMs`.
   */
  constructor(
    shards: ClusterShards,
    subject: (node: string) => string,
    self: string,
    log: Log,
    nc: () => NatsConnection | null,
    owners: () => ShardOwners | null,
    retryMs: number,
  ) {
    this.#shards = shards;
    this.#subject = subject;
    this.#self = self;
    this.#log = log;
    this.#nc = nc;
    this.#owners = owners;
    this.#retryMs = retryMs;
  }

  /** Where the node reaches its own swarms: handoffs out and in start once it is given. */
  attach(swarms: SwarmAccess): void {
    this.#swarms = swarms;
  }

  /** Takes other nodes' handoffs on `nc` (for as long as it lives). */
  listen(nc: NatsConnection): void {
    const sub = nc.subscribe(this.#subject(this.#self));
    void (async () => {
      for await (const m of sub) {
        const body = m.data.subarray(1);
        let n = 0;
        try {
          if (m.data[0] !== HANDOFF_FORMAT) throw new Error("format");
          for (const _ of entries(body)) n++;
        } catch {
          m.respond(new Uint8Array([0])); // another format, or malformed: not taken
          continue;
        }
        this.#swarms?.merge(body);
        this.handedIn += n;
        m.respond(new Uint8Array([1]));
        this.#sweepSoon();
      }
    })();
  }

  /**
   * Hands the swarms of every shard another node owns under `owners` to that node (what this
   * node held while alone, or what a node joining takes over), one handoff at a time.
   */
  strays(owners: ShardOwners): void {
    const self = owners.nodes.indexOf(this.#self);
    const mask = new Uint8Array(SHARDS);
    let any = false;
    for (let s = 0; s < SHARDS; s++) {
      if (owners.owner[s] !== self) {
        mask[s] = 1;
        any = true;
      }
    }
    if (!any) return;
    this.#handing = this.#handing.then(() => this.#handOff(mask, owners)).then((n) => {
      if (n > 0) this.#log.info(`cluster: ${n} torrents handed over to their owners`);
    }, (err) => {
      this.#log.warn(`cluster: handoff failed (${firstLine(err)}); kept here`);
      this.#untaken = true;
    }).then(() => {
      // An owner not there yet (NATS back, and its old key seen before it reconnected): again
      // in a moment, to whoever owns them then.
      if (!this.#untaken) return;
      this.#untaken = false;
      this.#sweepSoon();
    });
  }

  /** Hands every swarm to its owner among `others` (a graceful stop); returns the torrents. */
  async all(others: string[], owners: Owners): Promise<number> {
    this.#stopped = true;
    clearTimeout(this.#sweep);
    await this.#handing;
    const moved = await this.#handOff(new Uint8Array(SHARDS).fill(1), owners).catch((err) => {
      this.#log.error(`cluster: swarms not handed over at stop (${firstLine(err)})`);
      return 0;
    });
    this.#log.info(`cluster: ${moved} torrents handed over to ${others.join(", ")} at stop`);
    return moved;
  }

  /** No more handoffs of strays (the node stops). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#sweep);
  }

  /**
   * Hands on, in a moment, whatever this node holds that another owns: torrents an owner did
   * not take, or torrents another node handed here while the two saw different live sets.
   */
  #sweepSoon(): void {
    if (this.#sweep !== undefined || this.#stopped) return;
    this.#sweep = setTimeout(() => {
      this.#sweep = undefined;
      const owners = this.#owners();
      if (owners !== null && !this.#stopped) this.strays(owners);
    }, this.#retryMs);
  }

  /**
   * Takes the swarms of the shards `mask` marks out of the request workers and sends each to
   * its owner under `owners`, in messages NATS takes (at most `HANDOFF_CHUNK` bytes), each
   * acknowledged. What an owner does not take comes back here. Returns the torrents sent.
   */
  async #handOff(mask: Uint8Array, owners: Owners): Promise<number> {
    const swarms = this.#swarms, nc = this.#nc();
    if (swarms === null || nc === null) return 0;
    const parts = await swarms.handOff(handOffArg(this.#shards, mask));
    if (parts === null) throw new Error("a request worker did not answer");
    const byNode = new Map<string, ByteBuffer>();
    let n = 0;
    for (const body of parts) {
      for (const e of entries(body)) {
        const node = owners.nodes[owners.owner[this.#shards.of(body, e.hash)]];
        let w = byNode.get(node);
        if (w === undefined) byNode.set(node, w = new ByteBuffer());
        if (w.len > 0 && w.len + (e.end - e.hash + 4) > HANDOFF_CHUNK) {
          n += await this.#send(nc, swarms, node, w.bytes());
          w.len = 0;
        }
        w.append(body.subarray(e.hash - 4, e.end));
      }
    }
    for (const [node, w] of byNode) {
      if (w.len > 0) n += await this.#send(nc, swarms, node, w.bytes());
    }
    this.handedOut += n;
    return n;
  }

  /** Sends one chunk of entries to `node`; on no acknowledgement they are merged back here. */
  async #send(
    nc: NatsConnection,
    swarms: SwarmAccess,
    node: string,
    body: Uint8Array,
  ): Promise<number> {
    let count = 0;
    for (const _ of entries(body)) count++;
    const m = new Uint8Array(1 + body.length);
    m[0] = HANDOFF_FORMAT;
    m.set(body, 1);
    try {
      const r = await nc.request(this.#subject(node), m, { timeout: 5000 });
      if (r.data[0] === 1) return count;
      throw new Error(`node "${node}" refused the handoff's format`);
    } catch (err) {
      swarms.merge(body);
      this.#untaken = true;
      this.#log.warn(
        `cluster: ${count} torrents not taken by "${node}" (${firstLine(err)}); kept here`,
      );
      return 0;
    }
  }
}
